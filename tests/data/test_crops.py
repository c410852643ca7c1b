"""The TensorFlow-free crop stream (`keras.utils.PyDataset`) that trains on every backend.

These tests run with TensorFlow too, and in tests/test_backends.py under JAX with TensorFlow absent.
"""

import numpy as np
import pytest

from dml_keras.data import DataError, discover_pairs
from dml_keras.data.crops import paired_batches
from tests.conftest import ORIENTATIONS, hr_lr, make_hr_lr, orientation_of, shared_data


def _corr(a, b):
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_crops_of_real_pairs_are_aligned():
    """Aligned HR/LR crops correlate far better than LR crops shifted by a few pixels."""
    pairs = discover_pairs(shared_data("realsr_x4"))[:16]
    hr, lr = paired_batches(pairs, scale=4, patch_size=96, batch_size=16, seed=3)[0]
    aligned = np.array([_corr(hr[i, 8:-8, 8:-8], lr[i, 8:-8, 8:-8]) for i in range(16)])
    shifted = np.array([_corr(hr[i, 8:-8, 8:-8], lr[i, 12:-4, 12:-4]) for i in range(16)])
    # measured with seed 3: median 0.93 aligned vs 0.70 shifted, every crop prefers alignment (lowest 0.67)
    assert np.median(aligned) > 0.8
    assert np.sum(aligned > shifted) >= 14
    assert np.median(aligned - shifted) > 0.1


def test_native_crops_lie_under_their_hr_crop(tmp_path, photos):
    from dml_keras.ops import imresize

    make_hr_lr(tmp_path, photos)  # LR = MATLAB bicubic HR / 4
    hr, lr = paired_batches(tmp_path, scale=4, patch_size=32, batch_size=4, lr_size="native", channels="rgb", seed=0)[0]
    assert hr.shape == (4, 32, 32, 3) and lr.shape == (4, 8, 8, 3)
    for i in range(4):
        expected = np.clip(imresize(hr[i], scale=0.25), 0, 1)
        assert np.abs(expected[2:-2, 2:-2] - lr[i, 2:-2, 2:-2]).mean() < 0.02


def test_a_batch_depends_on_seed_and_index_only(tmp_path, photos):
    make_hr_lr(tmp_path, photos, native=False)
    data = paired_batches(tmp_path, patch_size=24, batch_size=3, seed=7)
    again = paired_batches(tmp_path, patch_size=24, batch_size=3, seed=7, cache=True)
    other = paired_batches(tmp_path, patch_size=24, batch_size=3, seed=8)
    # asked in another order (a resumed run, another worker): batch b is the same
    for b in (5, 0, 3):
        np.testing.assert_array_equal(data[b][0], again[b][0])
        np.testing.assert_array_equal(data[b][1], again[b][1])
    assert not all(np.array_equal(data[b][0], other[b][0]) for b in range(4))


def test_every_pass_visits_each_pair_once_in_a_new_order(tmp_path, photos):
    # four distinct photos of one size, one per pair; crops the whole image, so a crop names its pair
    from dml_keras.data.io import write_image

    for k, (name, photo) in enumerate(photos.items()):
        hr = np.round(hr_lr(photo, native=False)[0] * 255) / 255
        write_image(tmp_path / "hr" / f"{name}.png", hr)
        write_image(tmp_path / "lr" / f"{name}.png", hr)
    pairs = discover_pairs(tmp_path)
    images = [np.round(np.asarray(hr_lr(photos[p.name], native=False)[0]) * 255) / 255 for p in pairs]
    data = paired_batches(pairs, patch_size=64, batch_size=4, channels="rgb", seed=2, augment=False)
    orders = []
    for b in range(6):
        hr, lr = data[b]
        np.testing.assert_array_equal(hr, lr)
        orders.append([int(np.argmin([np.abs(crop - image).max() for image in images])) for crop in hr])
    assert all(sorted(order) == [0, 1, 2, 3] for order in orders)
    assert len({tuple(order) for order in orders}) > 1
    unshuffled = paired_batches(pairs, patch_size=64, batch_size=4, channels="rgb", seed=2, augment=False, shuffle=False)
    assert [int(np.argmin([np.abs(c - i).max() for i in images])) for c in unshuffled[3][0]] == [0, 1, 2, 3]


@pytest.mark.parametrize("augment", sorted(ORIENTATIONS))
def test_crops_come_in_the_orientations_asked_and_hr_lr_alike(tmp_path, augment):
    from dml_keras.data.io import write_image

    photo = np.round(np.random.default_rng(0).random((40, 50, 3)) * 255) / 255
    write_image(tmp_path / "hr" / "noise.png", photo)
    write_image(tmp_path / "lr" / "noise.png", photo)
    data = paired_batches(tmp_path, patch_size=8, batch_size=16, channels="rgb", seed=0, augment=augment)
    seen = set()
    for b in range(4):
        hr, lr = data[b]
        np.testing.assert_array_equal(hr, lr)
        seen |= {orientation_of(crop, photo[..., 0].astype(np.float32)) for crop in hr[..., 0]}
    assert seen == ORIENTATIONS[augment]


def test_fresh_crops_each_pass_and_sr_order(tmp_path, photos):
    make_hr_lr(tmp_path, photos, native=False)
    data = paired_batches(tmp_path, patch_size=24, batch_size=4, seed=1, shuffle=False, augment=False)
    assert data.num_batches is None  # infinite: model.fit runs it with steps_per_epoch
    assert not np.array_equal(data[0][0], data[1][0])
    lr, hr = paired_batches(tmp_path, patch_size=24, batch_size=4, seed=1, shuffle=False, augment=False, order="lr")[0]
    np.testing.assert_array_equal(hr, data[0][0])
    once = paired_batches(tmp_path, patch_size=24, batch_size=3, seed=1, repeat=False)
    assert once.num_batches == 2 and len(once[1][0]) == 1


def test_bad_input_is_refused_in_one_line(tmp_path, photos):
    make_hr_lr(tmp_path, photos)
    with pytest.raises(DataError, match="smaller than patch_size=96"):
        paired_batches(tmp_path, scale=4, patch_size=96, lr_size="native")
    with pytest.raises(ValueError, match="multiple of scale"):
        paired_batches(tmp_path, scale=4, patch_size=30, lr_size="native")
    with pytest.raises(ValueError, match="augment must be one of"):
        paired_batches(tmp_path, scale=4, patch_size=16, lr_size="native", augment="spin")
