"""On-the-fly synthesis: the same pairs as `dml synthesize`, seeded, fresh every epoch."""

import numpy as np
import pytest

from dml_keras.data import read_image, write_image
from dml_keras.data.sr_pipeline import synthetic_sr_dataset
from dml_keras.data.synthesis import synthesize_folder
from dml_keras.models import BicubicDegradation, DegradationModel, HandcraftedDegradation, LearnedBlurWithNoise

PATCH, MARGIN = 32, 16  # crops of PATCH + 2·MARGIN = 64 px: a 64×64 photo is its own crop


@pytest.fixture
def crop_sized_dir(tmp_path, photos):
    folder = tmp_path / "clean"
    for i, (name, photo) in enumerate(photos.items()):
        write_image(folder / f"{name}.png", photo[40 * i : 40 * i + 64, 100 : 164])
    return folder


def _first_batch(model, folder, count, **kwargs):
    dataset = synthetic_sr_dataset(model, folder, patch_size=PATCH, batch_size=count, channels="rgb", margin=MARGIN, **kwargs)
    lr, hr = next(iter(dataset))
    return lr.numpy(), hr.numpy()


@pytest.mark.parametrize(
    "model",
    [DegradationModel(num_basis=4, kernel_size=7, seed=0), DegradationModel(num_basis=4, kernel_size=7, lr_size="native", seed=1),
     BicubicDegradation(4), HandcraftedDegradation(4, "same"), HandcraftedDegradation(4, "native"),
     LearnedBlurWithNoise(DegradationModel(num_basis=4, kernel_size=7, seed=2)),
     LearnedBlurWithNoise(DegradationModel(num_basis=4, kernel_size=7, lr_size="native", seed=3))],
    ids=["dml-same", "dml-native", "bicubic", "handcrafted-same", "handcrafted-native", "dml+noise-same", "dml+noise-native"],
)
def test_on_the_fly_pairs_equal_offline_pairs_for_the_same_seed(model, crop_sized_dir, tmp_path):
    stride = 4 if model.lr_size == "native" else 1
    lr_margin, lr_patch = MARGIN // stride, PATCH // stride
    for quantize in (False, True):
        out = tmp_path / f"offline-{quantize}"
        synthesize_folder(model, crop_sized_dir, out, noise_sigma=(3.0, 8.0), seed=5, quantize=quantize, progress=False)
        crops = 3 if quantize else 1  # the first crop of each photo is the offline pair, however many follow
        lr, hr = _first_batch(model, crop_sized_dir, 4, noise_sigma=(3.0, 8.0), seed=5, quantize=quantize, crops_per_image=crops)
        offline = {}
        for path in sorted((out / "hr").glob("*.png")):
            offline_hr = read_image(path)[MARGIN : MARGIN + PATCH, MARGIN : MARGIN + PATCH]
            offline_lr = read_image(out / "lr" / path.name)[lr_margin : lr_margin + lr_patch, lr_margin : lr_margin + lr_patch]
            offline[offline_hr.tobytes()] = offline_lr
        assert len(offline) == 4
        for online_lr, online_hr in zip(lr, hr):
            expected = offline.pop(online_hr.tobytes())  # every photo exactly once in the first epoch
            if quantize:  # 8-bit files: a float difference of ~1e-7 may tip a rounding
                assert np.mean(np.round(online_lr * 255) == np.round(expected * 255)) > 0.999
                assert np.max(np.abs(online_lr - expected)) <= 1 / 255 + 1e-6
            else:  # 16-bit files: equal to their rounding
                np.testing.assert_allclose(online_lr, expected, atol=1 / 65535 + 2e-6)
        assert not offline


def test_stream_is_seeded_and_each_epoch_draws_fresh_crops_and_noise(tmp_path, photos):
    folder = tmp_path / "big"
    for name, photo in photos.items():
        write_image(folder / f"{name}.png", photo[:200, :200])
    model = BicubicDegradation(4)

    def take(seed, count):
        dataset = synthetic_sr_dataset(model, folder, patch_size=PATCH, batch_size=4, channels="y", seed=seed,
                                       crops_per_image=1)
        return [tuple(t.numpy() for t in batch) for batch in dataset.take(count)]

    first, again, other = take(0, 2), take(0, 2), take(1, 1)
    for (lr_a, hr_a), (lr_b, hr_b) in zip(first, again):
        np.testing.assert_array_equal(lr_a, lr_b)
        np.testing.assert_array_equal(hr_a, hr_b)
    assert not np.array_equal(first[0][1], other[0][1])
    epoch_1, epoch_2 = first[0][1], first[1][1]  # 4 photos per batch: batch 2 is epoch 2
    assert all(not np.array_equal(a, b) for a in epoch_1 for b in epoch_2)


def test_on_the_fly_noise_level_matches_noise_sigma(tmp_path):
    folder = tmp_path / "flat"
    for i in range(4):
        write_image(folder / f"{i}.png", np.full((64, 64, 3), 0.5, np.float32))
    for sigma in (5.0, 10.0):
        lr, _ = _first_batch(BicubicDegradation(4), folder, 4, noise_sigma=sigma, quantize=False)
        assert np.std(lr * 255) == pytest.approx(sigma, rel=0.05)


def test_several_crops_per_decoded_photo_are_interleaved_and_independent(tmp_path, photos):
    folder = tmp_path / "big"
    for name, photo in photos.items():
        write_image(folder / f"{name}.png", photo[:160, :160])
    dataset = synthetic_sr_dataset(BicubicDegradation(4), folder, patch_size=PATCH, batch_size=4, channels="rgb",
                                   seed=2, crops_per_image=3, quantize=False)
    batches = [tuple(t.numpy() for t in batch) for batch in dataset.take(4)]
    sources = {}
    for name in photos:
        sources[name] = read_image(folder / f"{name}.png")

    def source_of(hr):  # which photo a crop was cut from, found by exhaustive search
        for name, image in sources.items():
            for top in range(0, 160 - PATCH + 1, 4):
                for left in range(0, 160 - PATCH + 1, 4):
                    if np.array_equal(image[top : top + PATCH, left : left + PATCH], hr):
                        return name, top, left
        raise AssertionError("crop not found in any photo")

    found = [[source_of(hr) for hr in batch[1]] for batch in batches]
    for batch in found[:3]:  # the 3 crops of the same 4 photos, one per batch
        assert sorted(name for name, _, _ in batch) == sorted(photos)
    for position in range(4):
        places = {found[b][position] for b in range(3)}
        assert len({name for name, _, _ in places}) == 1 and len(places) == 3  # same photo, 3 places
    assert {name for name, _, _ in found[3]} == set(photos)  # then the next pass
