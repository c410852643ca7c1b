"""One loader for every model, one contract per family, and `import dml_keras` registering the classes."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dml_keras
from dml_keras.errors import DataError
from dml_keras.models import VDSR, AtNativeSize, DegradationModel, DirectNet, LearnedBlurWithNoise
from dml_keras.models.contract import CHANNELS, LR_SIZES, Degradation, SuperResolution
from dml_keras.workflows.sr import build_sr_model

SAVED = Path(__file__).resolve().parents[1] / "saved_models"


def _assert_follows(model, protocol):
    assert isinstance(model, protocol)
    assert model.channels in CHANNELS and model.lr_size in LR_SIZES and int(model.scale) == model.scale


@pytest.mark.parametrize("name", ["identity", "bicubic", "handcrafted"])
def test_builtins_load_by_name_and_follow_the_degradation_contract(name):
    model = dml_keras.load_model(name, scale=2)
    _assert_follows(model, Degradation)
    out = np.asarray(model.degrade(np.full((16, 16, 3), 0.5, np.float32)))
    assert out.shape == (16, 16, 3)


def test_saved_models_load_with_their_kind_and_channels():
    dml = dml_keras.load_model(SAVED / "dml_realsr_x4.keras", kind="degradation")
    _assert_follows(dml, Degradation)
    assert (type(dml).__name__, dml.channels, dml.lr_size) == ("DegradationModel", "y", "same")
    # the shipped SR files store channels=1 (older files): read as "y"
    sr = dml_keras.load_model(SAVED / "vdsr_x4_real.keras", kind="sr")
    _assert_follows(sr, SuperResolution)
    assert sr.channels == "y" and not isinstance(sr, Degradation)
    native = dml_keras.load_model(SAVED / "dml_realsr_x4.keras", lr_size="native")
    assert isinstance(native, AtNativeSize) and native.lr_size == "native" and native.channels == "y"
    noisy = dml_keras.load_model(SAVED / "dml_realsr_x4.keras", noise="handcrafted")
    assert isinstance(noisy, LearnedBlurWithNoise) and noisy.channels == "rgb"
    # what synthesis and scoring read, declared by every degradation (no fallbacks)
    for model, expected in ((dml, (15, False, False)), (native, (15, False, False)), (noisy, (15, True, True)),
                            (dml_keras.load_model("handcrafted"), (15, True, True)),
                            (dml_keras.load_model("bicubic"), (15, False, False))):
        _assert_follows(model, Degradation)
        assert (model.kernel_size, model.stochastic, model.adds_noise) == expected


def test_wrong_kind_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="not an SR model"):
        dml_keras.load_model(SAVED / "dml_realsr_x4.keras", kind="sr")
    with pytest.raises(DataError, match="not a degradation model"):
        dml_keras.load_model(SAVED / "vdsr_x4_real.keras", kind="degradation")
    with pytest.raises(DataError, match="built-in degradation, not an SR model"):
        dml_keras.load_model("bicubic", kind="sr")
    with pytest.raises(DataError, match=r"nope\.keras.*dml train-sr"):
        dml_keras.load_model(tmp_path / "nope.keras", kind="sr")


def test_keras_loads_a_shipped_model_after_importing_the_package():
    # a fresh interpreter: nothing imported but the package itself
    code = ("import dml_keras, keras, numpy as np; m = keras.saving.load_model('saved_models/dml_realsr_x4.keras'); "
            "print(type(m).__name__, round(float(np.asarray(m(np.full((1, 32, 32, 1), 0.5, 'float32'))).mean()), 2))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=SAVED.parent, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["DegradationModel", "0.5"]  # a flat grey stays grey: kernels sum to ~1


def test_learned_models_follow_their_family_contract():
    _assert_follows(DegradationModel(num_basis=2, kernel_size=5), Degradation)
    _assert_follows(DirectNet(kernel_size=5, lr_size="native"), Degradation)
    sr = VDSR(depth=2, filters=4, scale=2)
    _assert_follows(sr, SuperResolution)
    out = sr.super_resolve(np.full((6, 5, 3), 0.25, np.float32))
    assert out.shape == (12, 10, 3)


def test_sr_builder_refuses_what_the_architecture_does_not_take():
    assert build_sr_model("rcan", num_groups=1, num_blocks=1, filters=8, reduction=4).num_groups == 1
    with pytest.raises(ValueError, match="vdsr does not take num_groups"):
        build_sr_model("vdsr", num_groups=3)
    with pytest.raises(ValueError, match="channels must be one of"):
        build_sr_model("vdsr", channels="rgba")


def test_cli_train_sr_refuses_an_rcan_flag_for_vdsr(tmp_path, capsys):
    from dml_keras.cli import main

    status = main(["train-sr", "--degradation", "bicubic", "--hr-dir", str(tmp_path), "--out", str(tmp_path / "run"),
                   "--arch", "vdsr", "--groups", "3"])
    assert status == 2 and "vdsr does not take num_groups" in capsys.readouterr().err


def test_a_damaged_model_file_is_one_line_naming_it(tmp_path, capsys):
    from dml_keras.cli import main

    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 cut short")
    assert main(["synthesize", str(broken), str(tmp_path), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and str(broken) in error and "damaged" in error
