"""`strategy="mirrored"` on two logical CPU devices, mixed precision and XLA, for the training commands."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import needs_tensorflow
from tests.data.test_pairs import make_hr_lr

ROOT = Path(__file__).resolve().parents[1]

# A fresh process: logical devices must be configured before TensorFlow starts.
SCRIPT = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
from dml_keras.cli import main

class Start(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.weights = [w.tolist() for w in self.model.get_weights()]

pairs, out, command, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
start = Start()
common = dict(pairs=pairs, steps=4, steps_per_epoch=4, learning_rate=0.01, patch_size=24, batch_size=4, verbose=0,
              callbacks=[start], **options)
if command == "cli":
    main(["train-degradation", pairs, "--out", out, "--basis", "4", "--kernel-size", "7", "--patch-size", "24",
          "--batch-size", "4", "--steps", "2", "--steps-per-epoch", "2", "--quiet", "--strategy", "mirrored"])
elif command == "degradation":
    from dml_keras.training import train_degradation
    train_degradation(out_dir=out, num_basis=4, kernel_size=7, **common)
else:
    from dml_keras.sr import train_sr
    train_sr(out, depth=3, filters=8, **common)
model = keras.models.load_model(os.path.join(out, "model.keras"))
print(json.dumps({"start": getattr(start, "weights", None), "end": [w.tolist() for w in model.get_weights()],
                  "dtype": model.dtype_policy.name, "settings": json.load(open(os.path.join(out, "training.json")))}))
"""


def _run(pairs, out, command, **options):
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(pairs), str(out), command, json.dumps(options)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads(result.stdout.strip().splitlines()[-1])
    flat = {k: np.concatenate([np.ravel(w) for w in run[k]]) for k in ("start", "end") if run[k] is not None}
    return run, flat


@pytest.fixture
def pairs(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    return tmp_path / "pairs"


@needs_tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("command", ["degradation", "sr"])
def test_mirrored_on_two_devices_gives_the_one_device_result(command, pairs, tmp_path):
    one, w1 = _run(pairs, tmp_path / "one", command)
    two, w2 = _run(pairs, tmp_path / "two", command, strategy="mirrored")
    assert one["settings"]["replicas"] == 1 and two["settings"]["replicas"] == 2
    np.testing.assert_array_equal(w1["start"], w2["start"])
    moved = np.abs(w1["end"] - w1["start"]).max()
    assert moved > 1e-2  # 4 Adam steps of 0.01: the comparison below is not vacuous
    assert np.abs(w1["end"] - w2["end"]).max() <= 1e-3 * moved


@needs_tensorflow
@pytest.mark.slow
def test_cli_strategy_flag_distributes(pairs, tmp_path):
    run, _ = _run(pairs, tmp_path / "cli", "cli")
    assert run["settings"]["replicas"] == 2


@needs_tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("command", ["degradation", "sr"])
def test_mixed_precision_trains_like_float32_and_saves_float32(command, pairs, tmp_path):
    full, w_full = _run(pairs, tmp_path / "full", command)
    mixed, w_mixed = _run(pairs, tmp_path / "mixed", command, mixed_precision=True)
    assert mixed["settings"]["precision"] == "mixed_bfloat16" and full["settings"]["precision"] == "float32"
    assert mixed["dtype"] == "float32"  # the saved model runs in float32
    np.testing.assert_allclose(w_mixed["start"], w_full["start"], atol=0)
    update_full, update_mixed = w_full["end"] - w_full["start"], w_mixed["end"] - w_mixed["start"]
    # bfloat16 keeps 8 bits of mantissa and Adam normalises small gradients, so the
    # updates agree in direction, not to the digit (measured 0.87 for DML); unrelated updates give ~0
    agreement = np.corrcoef(update_full, update_mixed)[0, 1]
    print(command, "update agreement", agreement)
    assert agreement > 0.8


@needs_tensorflow
@pytest.mark.slow
def test_jit_compiled_training_gives_the_same_result(pairs, tmp_path):
    plain, w_plain = _run(pairs, tmp_path / "plain", "degradation")
    xla, w_xla = _run(pairs, tmp_path / "xla", "degradation", jit_compile=True)
    assert xla["settings"]["jit_compile"] is True and plain["settings"]["jit_compile"] is False
    moved = np.abs(w_plain["end"] - w_plain["start"]).max()
    assert moved > 1e-2 and np.abs(w_plain["end"] - w_xla["end"]).max() <= 1e-3 * moved


@needs_tensorflow
def test_multiworker_is_refused_with_the_reason_before_waiting_for_workers(pairs, tmp_path, capsys):
    from dml_keras.cli import main

    status = main(["train-degradation", str(pairs), "--out", str(tmp_path / "run"), "--steps", "1", "--strategy", "multiworker"])
    assert status == 2
    assert "keras-team/keras#20585" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before any work
