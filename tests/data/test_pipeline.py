import numpy as np
import pytest

from dml_keras.data import DataError, discover_pairs
from dml_keras.data.pipeline import paired_dataset, paired_eval_dataset
from tests.conftest import shared_data
from tests.conftest import ORIENTATIONS, make_hr_lr, orientation_of


def _batches(dataset, count):
    return [(hr.numpy(), lr.numpy()) for hr, lr in dataset.take(count)]


def _corr(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_crops_of_real_same_size_pairs_are_aligned():
    """Aligned HR/LR crops correlate far better than LR crops shifted by a few pixels."""
    pairs = discover_pairs(shared_data("realsr_x4"))[:16]
    ds = paired_dataset(pairs, scale=4, patch_size=96, batch_size=16, seed=3, augment=True)
    hr, lr = _batches(ds, 1)[0]
    aligned = np.array([_corr(hr[i, 8:-8, 8:-8], lr[i, 8:-8, 8:-8]) for i in range(16)])
    shifted = np.array([_corr(hr[i, 8:-8, 8:-8], lr[i, 12:-4, 12:-4]) for i in range(16)])
    # Measured: aligned median ~0.89, shifted by 4 px ~0.64; every crop prefers alignment.
    assert np.median(aligned) > 0.8
    assert np.all(aligned > shifted)
    assert np.median(aligned - shifted) > 0.1


def test_native_crops_are_aligned_with_downscaled_hr(tmp_path, photos):
    from dml_keras.ops import imresize

    make_hr_lr(tmp_path, photos)  # LR = MATLAB bicubic HR / 4
    ds = paired_dataset(tmp_path, scale=4, patch_size=32, batch_size=4, lr_size="native", channels="rgb", seed=0)
    hr, lr = _batches(ds, 1)[0]
    assert hr.shape == (4, 32, 32, 3) and lr.shape == (4, 8, 8, 3)
    for i in range(4):
        # Flips/rotations commute with the resize, so the crop of the LR equals the
        # shrunken HR crop away from the crop border.
        expected = np.clip(imresize(hr[i], scale=0.25), 0, 1)
        assert np.abs(expected[2:-2, 2:-2] - lr[i, 2:-2, 2:-2]).mean() < 0.02


def test_same_seed_same_batches_other_seed_other_batches(tmp_path, photos):
    make_hr_lr(tmp_path, photos, native=False)
    first = _batches(paired_dataset(tmp_path, patch_size=24, batch_size=3, seed=7), 4)
    again = _batches(paired_dataset(tmp_path, patch_size=24, batch_size=3, seed=7), 4)
    other = _batches(paired_dataset(tmp_path, patch_size=24, batch_size=3, seed=8), 4)
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(first, again))
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other))


@pytest.mark.parametrize("augment", sorted(ORIENTATIONS))
def test_crops_come_in_the_orientations_asked_and_hr_lr_alike(tmp_path, augment):
    from dml_keras.data.io import write_image

    # a photo of noise: each 8² window occurs once, in one orientation; LR = HR, so both must turn alike
    photo = np.round(np.random.default_rng(0).random((40, 50, 3)) * 255) / 255
    write_image(tmp_path / "hr" / "noise.png", photo)
    write_image(tmp_path / "lr" / "noise.png", photo)
    ds = paired_dataset(tmp_path, patch_size=8, batch_size=16, channels="rgb", seed=0, augment=augment)
    seen = set()
    for hr, lr in _batches(ds, 4):
        np.testing.assert_array_equal(hr, lr)
        seen |= {orientation_of(crop, photo[..., 0].astype(np.float32)) for crop in hr[..., 0]}
    assert seen == ORIENTATIONS[augment]


def test_fresh_crops_each_epoch(tmp_path, photos):
    make_hr_lr(tmp_path, photos, native=False)
    ds = paired_dataset(tmp_path, patch_size=24, batch_size=4, seed=1, shuffle=False, augment=False)
    epoch1, epoch2 = _batches(ds, 2)
    assert not np.array_equal(epoch1[0], epoch2[0])


def test_y_and_rgb_channels(tmp_path, photos):
    make_hr_lr(tmp_path, photos, native=False)
    y = _batches(paired_dataset(tmp_path, patch_size=16, batch_size=2, seed=0), 1)[0][0]
    rgb = _batches(paired_dataset(tmp_path, patch_size=16, batch_size=2, seed=0, channels="rgb"), 1)[0][0]
    assert y.shape[-1] == 1 and rgb.shape[-1] == 3
    assert 16 / 255 - 1e-6 <= y.min() and y.max() <= 235 / 255 + 1e-6


def test_cache_gives_same_stream(tmp_path, photos):
    make_hr_lr(tmp_path, photos, native=False)
    plain = _batches(paired_dataset(tmp_path, patch_size=24, batch_size=3, seed=5), 3)
    cached = _batches(paired_dataset(tmp_path, patch_size=24, batch_size=3, seed=5, cache=True), 3)
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(plain, cached))


def test_image_smaller_than_crop_is_refused(tmp_path, photos):
    make_hr_lr(tmp_path, photos)
    with pytest.raises(DataError, match="smaller than patch_size=96"):
        paired_dataset(tmp_path, scale=4, patch_size=96, lr_size="native")
    with pytest.raises(ValueError, match="multiple of scale"):
        paired_dataset(tmp_path, scale=4, patch_size=30, lr_size="native")


def test_eval_dataset_yields_whole_images_with_names(tmp_path, photos):
    make_hr_lr(tmp_path, photos)
    items = list(paired_eval_dataset(tmp_path, scale=4, lr_size="native", channels="rgb"))
    assert [n.numpy().decode() for _, _, n in items] == sorted(photos)
    assert items[0][0].shape == (64, 64, 3) and items[0][1].shape == (16, 16, 3)
