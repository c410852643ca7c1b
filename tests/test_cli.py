import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

from dml_keras.cli import build_parser, main
from dml_keras.data import write_image
from dml_keras.workflows.degradation import evaluate_degradation
from dml_keras.models import BicubicDegradation
from tests.conftest import make_hr_lr

DESIGN_COMMANDS = [
    "train-degradation", "evaluate-degradation", "synthesize", "train-sr", "evaluate-sr",
    "upscale", "export", "tune", "visualize", "demo",
]


def test_every_design_command_is_registered_with_help():
    parser = build_parser()
    for command in DESIGN_COMMANDS:
        with pytest.raises(SystemExit) as exit_info:
            parser.parse_args([command, "--help"])
        assert exit_info.value.code == 0


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "dml_keras", "--version"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stdout.startswith("dml-keras ")


def test_evaluate_degradation_json_matches_library_and_warns_below_bicubic(tmp_path, photos, capsys):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    out = tmp_path / "scores.json"
    assert main(["evaluate-degradation", "bicubic", str(tmp_path / "pairs"), "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert set(scores) >= {"psnr", "ssim", "count", "per_image"} and scores["count"] == 4
    assert {"name", "psnr", "ssim"} <= set(scores["per_image"][0])
    expected = evaluate_degradation(BicubicDegradation(4), tmp_path / "pairs", progress=False)
    assert scores["psnr"] == pytest.approx(expected["psnr"], abs=1e-9)
    # These LR files were made by the bicubic model itself (8-bit stored): near-perfect score.
    assert scores["psnr"] > 45
    identity = tmp_path / "identity.json"
    assert main(["evaluate-degradation", "identity", str(tmp_path / "pairs"), "--json", str(identity)]) == 0
    identity = json.loads(identity.read_text())
    assert identity["psnr"] < scores["psnr"] - 5
    # identity is scored beside bicubic on the same pairs, and falls below it: the user is told
    assert identity["bicubic"]["psnr"] == pytest.approx(scores["psnr"], abs=1e-9)
    assert "below plain bicubic" in capsys.readouterr().err


def test_bad_pairs_exit_2_with_the_file_named(tmp_path, photos, capsys):
    make_hr_lr(tmp_path, photos, native=False)
    write_image(tmp_path / "lr" / "rocket.png", np.zeros((10, 10)))
    assert main(["evaluate-degradation", "bicubic", str(tmp_path)]) == 2
    assert "rocket.png" in capsys.readouterr().err


def test_demo_writes_images_and_summary(tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["count"] == 4 and (tmp_path / "summary.md").exists()
    assert len(list((tmp_path / "degraded").glob("*.png"))) == 4
    # A x4 degradation with noise is visibly worse than the photo: a number that could fail.
    assert 20 < summary["lr_psnr"] < 35 and summary["lr_lpips"] > 0.1
    # The shipped SR models restore the realistic LR: closer to the photo than the LR itself.
    assert summary["degradation"].startswith("learned DML")
    assert summary["vdsr_real_syndml_lpips"] < summary["lr_lpips"]
    assert summary["vdsr_real_syndml_psnr"] > summary["lr_psnr"]
    # ... and the network trained on real + DML pairs restores it better than the same one trained on bicubic pairs
    # (measured: 28.13 against 27.25 dB)
    assert summary["vdsr_real_syndml_psnr"] > summary["vdsr_bicubic_psnr"] + 0.5
    assert (tmp_path / "figures" / "basis_kernels.png").exists()


def test_commands_hide_tensorflow_start_up_logs_unless_verbose(tmp_path, photos):
    import os
    import re

    make_hr_lr(tmp_path / "pairs", photos, native=False)
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    log_line = re.compile(r"^[IWE]\d{4} |absl::InitializeLog", re.MULTILINE)

    def stderr(*flags):
        command = [sys.executable, "-m", "dml_keras", *flags, "evaluate-degradation", "bicubic", str(tmp_path / "pairs")]
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stderr

    assert not log_line.search(stderr())
    assert log_line.search(stderr("--verbose"))  # TensorFlow's own lines, as they were before


def test_upscale_keeps_greyscale_and_16_bit(tmp_path, photos):
    from dml_keras.data.io import image_format, read_image, write_image

    photo = photos["coffee"][:40, :48]
    grey = photo.mean(axis=-1)
    write_image(tmp_path / "in" / "grey.png", grey)
    write_image(tmp_path / "in" / "deep.png", photo, bit_depth=16)
    write_image(tmp_path / "rgb" / "grey_as_rgb.png", np.repeat(grey[..., None], 3, -1))
    model = str(Path(__file__).resolve().parents[1] / "saved_models" / "table2" / "syndml.keras")  # native Y, x4
    assert main(["upscale", model, str(tmp_path / "in"), "--out", str(tmp_path / "out")]) == 0
    assert main(["upscale", model, str(tmp_path / "rgb"), "--out", str(tmp_path / "out_rgb")]) == 0
    assert image_format(tmp_path / "out" / "grey.png") == (True, 8)
    assert image_format(tmp_path / "out" / "deep.png") == (False, 16)
    assert read_image(tmp_path / "out" / "deep.png").shape == (160, 192, 3)
    # the grey photo's SR is the SR of the same photo given as RGB (its chroma is neutral), not another image
    grey_out = read_image(tmp_path / "out" / "grey.png")[..., 0]
    rgb_out = read_image(tmp_path / "out_rgb" / "grey_as_rgb.png")
    assert np.abs(rgb_out - rgb_out[..., :1]).max() <= 1 / 255
    assert np.abs(grey_out - rgb_out[..., 0]).max() <= 1 / 255
    # and 16 bits carry more than 8: levels between the 8-bit ones occur
    deep = read_image(tmp_path / "out" / "deep.png") * 65535
    assert np.mean(np.abs(deep / 257 - np.round(deep / 257)) > 0.01) > 0.5


def test_help_and_argument_errors_answer_without_importing_keras():
    code = ("import sys, dml_keras.cli as cli\n"
            "for argv in (['--help'], ['train-sr', '--help'], ['align', '--nope'], ['presets']):\n"
            "    try:\n"
            "        cli.main(argv)\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print(sorted(name for name in ('keras', 'tensorflow', 'jax') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr[-2000:]


def test_plain_keras_loading_works_after_import_dml_keras_and_prints_no_start_up_logs():
    import os
    import re

    from dml_keras.presets import PRESETS

    code = ("import dml_keras, sys\n"
            "assert 'keras' not in sys.modules\n"
            "import keras\n"
            f"model = keras.saving.load_model({str(PRESETS['dml_realsr_x4'].path)!r})\n"
            "print(type(model).__name__, model.num_basis)")
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert result.stdout.split() == ["DegradationModel", "8"], result.stderr[-2000:]
    assert not re.search(r"^[IWE]\d{4} |absl::InitializeLog", result.stderr, re.MULTILINE)


@pytest.mark.parametrize("first", ["from dml_keras.ops import rgb_to_y", "import dml_keras; dml_keras.metrics"])
def test_keras_first_imported_by_a_package_module_still_loads_saved_models(first):
    # Keras's first import comes from inside a package module (ops.color) here: registering the classes then would
    # import that module again, in a cycle (a collection error under JAX); they register once it is done
    from dml_keras.presets import PRESETS

    code = (f"{first}\n"
            "import keras\n"
            f"model = keras.saving.load_model({str(PRESETS['dml_realsr_x4'].path)!r})\n"
            "print(type(model).__name__)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.stdout.split() == ["DegradationModel"], result.stderr[-2000:]
