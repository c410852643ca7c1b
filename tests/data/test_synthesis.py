import hashlib

import numpy as np
import pytest

from dml_keras.cli import main
from dml_keras.data import read_image, write_image
from dml_keras.data.synthesis import add_noise, image_seed, parse_shard, synthesize_folder
from dml_keras.models import BicubicDegradation, DegradationModel
from dml_keras.ops import imresize


@pytest.fixture
def hr_dir(tmp_path, photos):
    folder = tmp_path / "clean"
    for name, photo in photos.items():
        write_image(folder / f"{name}.png", photo[:70, :90])
    return folder


def _digests(folder):
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.png"))}


def test_same_seed_gives_byte_identical_files_other_seed_does_not(hr_dir, tmp_path):
    model = DegradationModel(num_basis=4, kernel_size=7, seed=0)
    for out in ("a", "b"):
        synthesize_folder(model, hr_dir, tmp_path / out, seed=3, progress=False)
    synthesize_folder(model, hr_dir, tmp_path / "c", seed=4, progress=False)
    a, b, c = (_digests(tmp_path / x) for x in "abc")
    assert len(a) == 8 and a == b
    assert a != c and {k: v for k, v in a.items() if k.startswith("hr/")} == {k: v for k, v in c.items() if k.startswith("hr/")}


def test_shards_together_equal_one_run(hr_dir, tmp_path):
    model = BicubicDegradation(4)
    synthesize_folder(model, hr_dir, tmp_path / "one", seed=1, progress=False)
    for index in range(3):
        synthesize_folder(model, hr_dir, tmp_path / "sharded", seed=1, shard=(index, 3), progress=False)
    assert _digests(tmp_path / "one") == _digests(tmp_path / "sharded")


def test_resume_skips_finished_files_and_redoes_half_done_ones(hr_dir, tmp_path):
    model = BicubicDegradation(4)
    synthesize_folder(model, hr_dir, tmp_path / "full", seed=0, progress=False)
    synthesize_folder(model, hr_dir, tmp_path / "part", seed=0, shard=(0, 2), progress=False)
    (tmp_path / "part" / "lr" / "astronaut.png").unlink()  # an interruption between HR and LR
    finished = tmp_path / "part" / "lr" / "coffee.png"
    stamp = finished.stat().st_mtime_ns
    synthesize_folder(model, hr_dir, tmp_path / "part", seed=0, progress=False)
    assert finished.stat().st_mtime_ns == stamp  # not rewritten
    assert _digests(tmp_path / "full") == _digests(tmp_path / "part")
    assert not [p for p in (tmp_path / "part").rglob("*") if p.name.endswith(".tmp")]


def test_measured_noise_matches_noise_sigma(hr_dir, tmp_path):
    flat = np.full((128, 128, 3), 0.5, np.float32)
    write_image(tmp_path / "flat" / "flat.png", flat)
    for sigma in (5.0, 10.0):
        synthesize_folder(BicubicDegradation(4), tmp_path / "flat", tmp_path / f"s{sigma}", noise_sigma=sigma,
                          quantize=False, progress=False)
        lr = read_image(tmp_path / f"s{sigma}" / "lr" / "flat.png")
        assert np.std(lr[4:-4, 4:-4] * 255) == pytest.approx(sigma, rel=0.05)


def test_capture_resolution_noise_is_smooth_and_matches_at_capture_size():
    flat = np.full((256, 256, 3), 0.5, np.float32)
    noisy = add_noise(flat, 5.0, seed=0, capture_scale=4)
    residual = (noisy - 0.5)[..., 0] * 255
    neighbours = np.corrcoef(residual[:, :-1].ravel(), residual[:, 1:].ravel())[0, 1]
    assert neighbours > 0.8  # enlarged with the image, not white
    shrunk = imresize(noisy.astype(np.float64), scale=0.25)
    assert 0.5 * 5.0 < np.std((shrunk - 0.5) * 255) < 1.2 * 5.0


def test_noise_range_is_drawn_per_image():
    flat = np.full((64, 64), 0.5)
    levels = {round(float(np.std(add_noise(flat, (2.0, 12.0), seed=s)) * 255)) for s in range(8)}
    assert len(levels) > 3 and min(levels) >= 1 and max(levels) <= 13


def test_image_seed_depends_on_name_and_seed_only():
    assert image_seed(0, "a.png") == image_seed(0, "a.png") != image_seed(1, "a.png") != image_seed(0, "b.png")


def test_cli_synthesize_and_bad_inputs(hr_dir, tmp_path, capsys):
    assert main(["synthesize", "bicubic", str(hr_dir), "--out", str(tmp_path / "o"), "--shard", "1/2"]) == 0
    assert len(list((tmp_path / "o" / "lr").glob("*.png"))) == 2
    assert main(["synthesize", "bicubic", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(ValueError, match="I/N"):
        parse_shard("2")
    assert main(["synthesize", str(tmp_path / "nope.keras"), str(hr_dir), "--out", str(tmp_path / "o")]) == 2
    assert "nope.keras" in capsys.readouterr().err
