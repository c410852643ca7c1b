"""The layers, models and training commands under the JAX backend, on a machine as if it had no TensorFlow."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install 'dml-keras[jax]')")
def test_ops_layers_models_tests_pass_under_jax_without_tensorflow():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1", "DML_TEST_WITHOUT_TENSORFLOW": "1",
           "JAX_PLATFORMS": "cpu"}
    # Not the tiling tests: tiling is NumPy around the forward pass, whose any-size shapes are tested here,
    # and under JAX every new tile shape compiles anew (7 of the run's 13 minutes, measured).
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "not slow",
               "-k", "not tiled and not tiling", "tests/ops", "tests/layers", "tests/models",
               "tests/data/test_crops.py", "tests/data/test_stateless.py", "tests/data/test_records.py"]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    failures = [line for line in out.stdout.splitlines() if line.startswith(("FAILED", "ERROR", "E   "))]
    assert out.returncode == 0, "\n".join(failures[:40]) or out.stdout[-4000:]
    passed = int(re.search(r"(\d+) passed", out.stdout).group(1))
    assert passed >= 60, out.stdout[-2000:]
    # a test may skip only because TensorFlow is absent or ../shared/data is not beside the checkout
    reasons = re.findall(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", out.stdout, re.MULTILINE)
    unexpected = [r for r in reasons if "needs TensorFlow" not in r and "../shared/data is not beside" not in r]
    assert not unexpected, unexpected


def _without_tensorflow(tmp_path):
    """The environment of a machine with Keras and JAX but no TensorFlow: a `sitecustomize` blocks its import."""
    blocker = tmp_path / "no_tensorflow"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['tensorflow'] = None\n")
    return {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(blocker)}


def _dml(env, *args):
    out = subprocess.run([sys.executable, "-m", "dml_keras", *map(str, args)], env=env, capture_output=True,
                         text=True, timeout=900)
    return out.returncode, out.stdout + out.stderr


def _history(run):
    import csv

    with open(run / "history.csv") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install 'dml-keras[jax]')")
def test_both_training_commands_train_under_jax_without_tensorflow(tmp_path, photos):

    import keras

    from dml_keras.workflows.degradation import evaluate_degradation
    from dml_keras.workflows.sr import evaluate_sr
    from tests.conftest import make_hr_lr, run_info, run_settings

    env = _without_tensorflow(tmp_path)
    blocked = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True)
    assert blocked.returncode == 1 and "ModuleNotFoundError" in blocked.stderr
    make_hr_lr(tmp_path / "same", photos, native=False)
    make_hr_lr(tmp_path / "native", photos)
    code, out = _dml(env, "train-degradation", tmp_path / "same", "--out", tmp_path / "deg", "--steps", 30,
                     "--steps-per-epoch", 10, "--patch-size", 32, "--batch-size", 4, "--learning-rate", 1e-3,
                     "--val", tmp_path / "same", "--quiet")
    assert code == 0, out
    assert run_info(tmp_path / "deg")["starts"][-1]["backend"] == "jax"
    rows = _history(tmp_path / "deg")
    # it learns: measured 44.7 dB after the first 10 steps, 46.8 after 30 (held-out = training pairs here)
    assert float(rows[-1]["val_psnr"]) > float(rows[0]["val_psnr"]) + 1.0
    # the saved model is the validated one (the weight average): scored here, under TensorFlow, as JAX logged it
    model = keras.models.load_model(tmp_path / "deg" / "model.keras")
    assert evaluate_degradation(model, tmp_path / "same", progress=False)["psnr"] == pytest.approx(
        float(rows[-1]["val_psnr"]), abs=0.01)

    code, out = _dml(env, "train-sr", tmp_path / "native", "--out", tmp_path / "sr", "--steps", 30,
                     "--steps-per-epoch", 10, "--patch-size", 32, "--batch-size", 4, "--depth", 4,
                     "--val", tmp_path / "native", "--quiet")
    assert code == 0, out
    rows = _history(tmp_path / "sr")
    assert run_info(tmp_path / "sr")["starts"][-1]["backend"] == "jax"
    # measured 34.4 dB after 10 steps, 36.1 after 30; `dml evaluate-sr` under TensorFlow gives what JAX logged
    assert float(rows[-1]["val_psnr"]) > float(rows[0]["val_psnr"]) + 1.0
    model = keras.models.load_model(tmp_path / "sr" / "model.keras")
    assert evaluate_sr(model, tmp_path / "native", lpips_net="none", progress=False)["psnr"] == pytest.approx(
        float(rows[-1]["val_psnr"]), abs=0.01)

    # what needs TensorFlow says so in one line
    code, out = _dml(env, "train-degradation", tmp_path / "same", "--out", tmp_path / "x", "--strategy", "mirrored")
    assert code == 2 and out.strip().splitlines()[-1].startswith("error: strategy 'mirrored'"), out
    # real pairs mixed with pairs the shipped DML makes on the fly (the tf.data mix's batches, tests/data)
    code, out = _dml(env, "train-sr", tmp_path / "native", "--degradation", "dml_realsr_x4", "--hr-dir",
                     tmp_path / "native" / "hr", "--out", tmp_path / "mix", "--steps", 4, "--patch-size", 32,
                     "--batch-size", 4, "--depth", 4, "--quiet")
    assert code == 0, out
    backend = run_info(tmp_path / "mix")["starts"][-1]["backend"]
    fraction = run_settings(tmp_path / "mix")["synthetic_fraction"]
    assert (backend, fraction, len(_history(tmp_path / "mix"))) == ("jax", 0.5, 1)
    # the learned degradation inside the compiled step (what a GPU wants); the saved network is the SR network
    code, out = _dml(env, "train-sr", "--degradation", "dml_realsr_x4", "--hr-dir", tmp_path / "native" / "hr",
                     "--synthesis", "in-step", "--out", tmp_path / "in_step", "--steps", 4, "--patch-size", 32,
                     "--batch-size", 4, "--depth", 4, "--val", tmp_path / "native", "--quiet")
    assert code == 0, out
    assert type(keras.models.load_model(tmp_path / "in_step" / "model.keras")).__name__ == "VDSR"
    assert run_settings(tmp_path / "in_step")["synthesis"] == "in-step"


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install 'dml-keras[jax]')")
def test_real_esrgans_two_stages_train_under_jax_without_tensorflow(tmp_path, photos):
    import keras

    import numpy as np

    from dml_keras.data.pairs import discover_pairs, load_pair
    from dml_keras.metrics import psnr
    from dml_keras.models import RRDBNet
    from tests.conftest import make_hr_lr

    env = _without_tensorflow(tmp_path)
    make_hr_lr(tmp_path / "pairs", photos)
    common = ["--arch", "rrdb", "--blocks", 1, "--filters", 8, "--growth", 4, "--patch-size", 32, "--batch-size", 2,
              "--steps", 20, "--steps-per-epoch", 10, "--val", tmp_path / "pairs", "--quiet"]
    code, out = _dml(env, "train-sr", tmp_path / "pairs", "--out", tmp_path / "l1", *common)
    assert code == 0, out
    code, out = _dml(env, "train-sr", tmp_path / "pairs", "--out", tmp_path / "gan", "--loss", "gan", "--d-filters", 8,
                     "--init", tmp_path / "l1", *common)
    assert code == 0, out
    l1, gan = _history(tmp_path / "l1"), _history(tmp_path / "gan")
    # the GAN stage starts from the L1 stage's average (measured 17.58 dB, then 17.57) and lowers its VGG loss
    # (measured 19.4 -> 18.2)
    assert float(gan[0]["val_psnr"]) == pytest.approx(float(l1[-1]["val_psnr"]), abs=0.1)
    assert float(gan[-1]["l_percep"]) < float(gan[0]["l_percep"])
    # what is saved is the validated average: its unclipped outputs, scored here under TensorFlow, give the PSNR
    # JAX logged (`dml evaluate-sr` clips them first)
    model = keras.models.load_model(tmp_path / "gan" / "model.keras")
    assert isinstance(model, RRDBNet)
    scores = [psnr(np.asarray(model(lr[None]))[0], hr, crop_border=4)
              for hr, lr in (load_pair(pair, 4, "native") for pair in discover_pairs(tmp_path / "pairs", 4))]
    assert np.mean(scores) == pytest.approx(float(gan[-1]["val_psnr"]), abs=0.01)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install 'dml-keras[jax]')")
def test_synthesize_without_tensorflow_writes_tensorflows_pairs(tmp_path, photos):
    import numpy as np

    from dml_keras.data.io import read_image, write_image
    from dml_keras.data.synthesis import synthesize_folder
    from dml_keras.loading import load_model

    for name in ("astronaut", "coffee"):
        write_image(tmp_path / "photos" / f"{name}.png", photos[name][:200, :240])
    code, out = _dml(_without_tensorflow(tmp_path), "synthesize", "dml_realsr_x4", tmp_path / "photos", "--out",
                     tmp_path / "jax", "--seed", 3)
    assert code == 0, out
    synthesize_folder(load_model("dml_realsr_x4", kind="degradation"), tmp_path / "photos", tmp_path / "tf", seed=3,
                      progress=False)
    for name in ("astronaut.png", "coffee.png"):
        np.testing.assert_array_equal(read_image(tmp_path / "jax" / "hr" / name), read_image(tmp_path / "tf" / "hr" / name))
        ours, theirs = (np.round(read_image(tmp_path / run / "lr" / name) * 255) for run in ("jax", "tf"))
        # the same noise to float rounding through a model run by another backend: measured 2 of 288 000
        # 8-bit values one level apart
        assert np.abs(ours - theirs).max() <= 1
        assert np.mean(ours != theirs) < 1e-3
