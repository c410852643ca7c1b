"""`strategy="mirrored"` on two logical CPU devices, `strategy="multiworker"` on two JAX processes, mixed precision
and XLA, for the training commands."""

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import needs_tensorflow
from tests.conftest import make_hr_lr

ROOT = Path(__file__).resolve().parents[1]

# A fresh process: logical devices must be configured before TensorFlow starts. Under JAX (the
# multi-worker runs) every process keeps its one CPU device.
SCRIPT = r"""
import json, os, sys
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
if os.environ.get("KERAS_BACKEND") != "jax":
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import keras, numpy as np
keras.config.disable_traceback_filtering()
from dml_keras.cli import main

class Record(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        network = getattr(self.model, "network", self.model)  # in-step synthesis: the SR network it trains
        self.weights = [w.tolist() for w in network.get_weights()]
        self.history = []
    def on_epoch_end(self, epoch, logs=None):
        self.history.append({k: float(v) for k, v in logs.items()})

pairs, out, command, options = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
record = Record()
common = dict(pairs=pairs, steps=4, steps_per_epoch=2, learning_rate=0.01, patch_size=24, batch_size=4, verbose=0,
              callbacks=[record], **options)
trained = None
if command == "cli":
    main(["train-degradation", pairs, "--out", out, "--basis", "4", "--kernel-size", "7", "--patch-size", "24",
          "--batch-size", "4", "--steps", "2", "--steps-per-epoch", "2", "--quiet", "--strategy", "mirrored"])
elif command == "degradation":
    from dml_keras.workflows.degradation import train_degradation
    # the start these equivalence tests were measured with (random basis; the default recipe starts Gaussian),
    # and a weight average short enough to differ from the last step's weights in 4 steps
    trained = train_degradation(out_dir=out, num_basis=4, kernel_size=7, val_fraction=1 / 3,
                                basis_initializer="uniform", ema_steps=2, **common)
elif command == "sr_in_step":  # the shipped DML model degrades the HR photos inside the training step
    from dml_keras.workflows.sr import train_sr
    common.pop("pairs")
    trained = train_sr(out, depth=3, filters=8, val_pairs=pairs, degradation="dml_realsr_x4",
                       hr_dir=os.path.join(pairs, "hr"), synthesis="in-step", **common)
else:
    from dml_keras.workflows.sr import train_sr
    trained = train_sr(out, depth=3, filters=8, val_pairs=pairs, **common)
saved = os.path.join(out, "model.keras")
# only the writing worker reads the file: another worker could see it while the first one is still writing it
writer = json.loads(os.environ.get("TF_CONFIG", '{"task": {"index": 0}}'))["task"]["index"] == 0
from dml_keras.distribute import one_device
with one_device():  # a JAX multi-process run: what only this process does runs on its device alone
    model = keras.models.load_model(saved) if os.path.exists(saved) and writer else trained
    print(json.dumps({"start": getattr(record, "weights", None), "end": [w.tolist() for w in model.get_weights()],
                      "trained": trained is not None and [w.tolist() for w in trained.get_weights()],
                      "history": getattr(record, "history", None), "dtype": model.dtype_policy.name,
                      "settings": json.load(open(os.path.join(out, "run_info.json")))["starts"][-1]}))
"""


def _command(pairs, out, command, options):
    return [sys.executable, "-c", SCRIPT, str(pairs), str(out), command, json.dumps(options)]


def _parse(result):
    assert result.returncode == 0, result.stderr[-3000:]
    run = json.loads(result.stdout.strip().splitlines()[-1])
    flat = {k: np.concatenate([np.ravel(w) for w in run[k]]) for k in ("start", "end", "trained") if run[k]}
    return run, flat


JAX = {"KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install 'dml-keras[jax]')")


def _run(pairs, out, command, env=None, **options):
    env = {**{k: v for k, v in os.environ.items() if k != "TF_CONFIG"}, **(env or {})}
    return _parse(subprocess.run(_command(pairs, out, command, options), cwd=ROOT, env=env, capture_output=True,
                                 text=True, timeout=600))


def _free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _start_cluster(command_of, out, workers=2):
    """`workers` JAX processes forming a TF_CONFIG cluster on this machine, `command_of(index)` each; their output
    goes to files (a process blocked on a full pipe would hold the others at JAX's shutdown barrier)."""
    hosts = [f"localhost:{port}" for port in _free_ports(workers)]
    processes = []
    for index in range(workers):
        config = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
        logs = [open(f"{out}.worker{index}.{name}", "w+") for name in ("out", "err")]
        processes.append((subprocess.Popen(command_of(index), cwd=ROOT, text=True, stdout=logs[0], stderr=logs[1],
                                           env={**os.environ, **JAX, "TF_CONFIG": json.dumps(config)}), logs))
    return processes


def _finish(processes, timeout=600):
    results = []
    for process, logs in processes:
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            for other, _ in processes:
                other.kill()
            raise
        stdout, stderr = (log.seek(0) or log.read() for log in logs)
        results.append(subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr))
    return results


def _run_cluster(pairs, out, command, workers=2, **options):
    """The same run as `_run` under JAX, by `workers` processes forming a cluster on this machine."""
    results = _finish(_start_cluster(lambda index: _command(pairs, out, command, dict(options, strategy="multiworker")),
                                     out, workers))
    failed = [f"worker {i}: {r.stderr[-2000:]}" for i, r in enumerate(results) if r.returncode]
    assert not failed, "\n".join(failed)
    return [_parse(result) for result in results]


@pytest.fixture(scope="module")
def pairs(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp("pairs")
    make_hr_lr(root, photos, native=False)
    return root


@pytest.fixture(scope="module")
def one_device(pairs, tmp_path_factory):
    """`one_device(command)`: the one-device run every comparison starts from, run once per command.

    The tests that use it share an xdist group, so one worker runs them all and the run is not repeated.
    """
    runs = {}

    def run(command):
        if command not in runs:
            runs[command] = _run(pairs, tmp_path_factory.mktemp(f"one_{command}"), command)
        return runs[command]

    return run


@pytest.mark.xdist_group("one_device")
@needs_tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("command", ["degradation", "sr", "sr_in_step"])
def test_mirrored_on_two_devices_gives_the_one_device_result(command, pairs, one_device, tmp_path):
    one, w1 = one_device(command)
    two, w2 = _run(pairs, tmp_path / "two", command, strategy="mirrored")
    assert one["settings"]["replicas"] == 1 and two["settings"]["replicas"] == 2
    np.testing.assert_array_equal(w1["start"], w2["start"])
    moved = np.abs(w1["end"] - w1["start"]).max()
    assert moved > 1e-2  # 4 Adam steps of 0.01: the comparison below is not vacuous
    assert np.abs(w1["end"] - w2["end"]).max() <= 1e-3 * moved
    _assert_same_logs(one, two)


def _assert_same_logs(one, other, epochs=2):
    """Per-epoch logs, validation included, agree with the one-device run's."""
    assert len(one["history"]) == len(other["history"]) == epochs
    assert set(one["history"][0]) == set(other["history"][0]) and any(k.startswith("val_") for k in one["history"][0])
    for epoch_one, epoch_other in zip(one["history"], other["history"]):
        for key, value in epoch_one.items():
            assert abs(epoch_other[key] - value) <= 1e-3 * max(1.0, abs(value)), (key, epoch_other, epoch_one)


@needs_tensorflow
@pytest.mark.slow
def test_cli_strategy_flag_distributes(pairs, tmp_path):
    run, _ = _run(pairs, tmp_path / "cli", "cli")
    assert run["settings"]["replicas"] == 2


@pytest.mark.xdist_group("one_device")
@needs_tensorflow
@pytest.mark.slow
@pytest.mark.parametrize("command", ["degradation", "sr"])
def test_mixed_precision_trains_like_float32_and_saves_float32(command, pairs, one_device, tmp_path):
    full, w_full = one_device(command)
    mixed, w_mixed = _run(pairs, tmp_path / "mixed", command, mixed_precision=True)
    assert mixed["settings"]["precision"] == "mixed_bfloat16" and full["settings"]["precision"] == "float32"
    assert mixed["dtype"] == "float32"  # the saved model runs in float32
    np.testing.assert_allclose(w_mixed["start"], w_full["start"], atol=0)
    update_full, update_mixed = w_full["end"] - w_full["start"], w_mixed["end"] - w_mixed["start"]
    # bfloat16 keeps 8 bits of mantissa and Adam normalises small gradients, so the
    # updates agree in direction, not to the digit; unrelated updates give ~0. Measured for DML: 0.87 with
    # TensorFlow's two threads, 0.77 with one (the order of float32 sums moves the bfloat16 roundings); SR: 0.9999
    agreement = np.corrcoef(update_full, update_mixed)[0, 1]
    print(command, "update agreement", agreement)
    assert agreement > 0.6


@pytest.mark.xdist_group("one_device")
@needs_tensorflow
@pytest.mark.slow
def test_jit_compiled_training_gives_the_same_result(pairs, one_device, tmp_path):
    plain, w_plain = one_device("degradation")
    xla, w_xla = _run(pairs, tmp_path / "xla", "degradation", jit_compile=True)
    assert xla["settings"]["jit_compile"] is True and plain["settings"]["jit_compile"] is False
    moved = np.abs(w_plain["end"] - w_plain["start"]).max()
    assert moved > 1e-2 and np.abs(w_plain["end"] - w_xla["end"]).max() <= 1e-3 * moved


@needs_jax
@pytest.mark.slow
@pytest.mark.parametrize("command", ["degradation", "sr", "sr_in_step"])
def test_two_jax_workers_give_the_one_process_result_and_only_the_first_writes(command, pairs, tmp_path):
    one, w1 = _run(pairs, tmp_path / "one", command, env=JAX)
    (chief, w_chief), (other, w_other) = _run_cluster(pairs, tmp_path / "cluster", command)
    assert one["settings"]["workers"] == 1 and one["settings"]["backend"] == "jax"
    assert chief["settings"]["workers"] == 2 and chief["settings"]["replicas"] == 2
    np.testing.assert_array_equal(w1["start"], w_chief["start"])
    np.testing.assert_array_equal(w_chief["start"], w_other["start"])
    moved = np.abs(w1["end"] - w1["start"]).max()
    assert moved > 1e-2  # 4 Adam steps of 0.01: the comparisons below are not vacuous
    assert np.abs(w1["end"] - w_chief["end"]).max() <= 1e-4 * moved  # the saved model (measured: 2e-7)
    np.testing.assert_array_equal(w_chief["trained"], w_other["trained"])  # the workers stayed in step
    _assert_same_logs(one, chief)  # validation included, scored on one device
    _assert_same_logs(one, other)
    history = (tmp_path / "cluster" / "history.csv").read_text().splitlines()
    assert len(history) == 1 + 2  # one writer: a header and one row per epoch


@needs_jax
@pytest.mark.slow
def test_all_workers_resume_from_the_first_workers_backup(pairs, tmp_path):
    import shutil

    from dml_keras.workflows.degradation import train_degradation
    from tests.conftest import interrupt_at_epoch

    with pytest.raises(KeyboardInterrupt):  # the one-device run of SCRIPT, stopped after its first epoch
        train_degradation(pairs=pairs, out_dir=tmp_path / "one", num_basis=4, kernel_size=7, val_fraction=1 / 3,
                          basis_initializer="uniform", ema_steps=2, steps=4, steps_per_epoch=2, learning_rate=0.01,
                          patch_size=24, batch_size=4, verbose=0, callbacks=[interrupt_at_epoch(1)])
    shutil.copytree(tmp_path / "one", tmp_path / "cluster")
    one, w1 = _run(pairs, tmp_path / "one", "degradation", env=JAX)
    (chief, w_chief), (other, w_other) = _run_cluster(pairs, tmp_path / "cluster", "degradation")
    np.testing.assert_array_equal(w_chief["start"], w_other["start"])  # the second worker restored the backup too
    np.testing.assert_allclose(w_chief["start"], w1["start"], atol=1e-6)
    moved = np.abs(w1["end"] - w1["start"]).max()
    assert moved > 1e-3 and np.abs(w1["end"] - w_chief["end"]).max() <= 1e-3 * moved
    _assert_same_logs(one, chief, epochs=1)  # only the second epoch ran


@needs_jax
@pytest.mark.slow
def test_a_killed_worker_fails_the_job_loudly_and_a_rerun_resumes(pairs, tmp_path):
    import time

    out = tmp_path / "run"
    command = [sys.executable, "-m", "dml_keras", "train-degradation", str(pairs), "--out", str(out), "--basis", "4",
               "--kernel-size", "7", "--patch-size", "24", "--batch-size", "4", "--steps", "400",
               "--steps-per-epoch", "2", "--quiet", "--strategy", "multiworker"]
    processes = _start_cluster(lambda index: command, out)
    history = out / "history.csv"
    deadline = time.time() + 300
    while time.time() < deadline and (not history.exists() or len(history.read_text().splitlines()) < 3):
        time.sleep(0.2)
    assert history.exists() and len(history.read_text().splitlines()) >= 3, "two epochs should have run"
    processes[1][0].kill()
    killed = time.time()
    first = _finish(processes[:1], timeout=400)[0]  # JAX's coordination service notices at its heartbeat timeout
    assert first.returncode != 0 and time.time() - killed < 300
    assert "another task died" in first.stderr or "heartbeat timeout" in first.stderr
    epochs_before = len(history.read_text().splitlines()) - 1
    rerun = _finish(_start_cluster(lambda index: command[:command.index("--steps") + 1] + [str(2 * epochs_before + 4)]
                                   + command[command.index("--steps") + 2:], out))
    assert [r.returncode for r in rerun] == [0, 0], rerun[0].stderr[-2000:] + rerun[1].stderr[-2000:]
    rows = history.read_text().splitlines()
    epochs = [int(row.split(",")[0]) for row in rows[1:]]
    assert epochs[-1] == epochs_before + 1  # resumed after the last backed-up epoch, not from the start
    assert (out / "model.keras").exists()


@needs_tensorflow
@pytest.mark.slow
def test_xla_with_several_replicas_is_refused_before_any_work(pairs, tmp_path):
    # measured: TensorFlow's XLA fails (CPU collectives) or hangs (mirrored) on such a step
    result = subprocess.run(_command(pairs, tmp_path / "run", "sr", {"strategy": "mirrored", "jit_compile": True}),
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "trains on one device only; this run has 2 replicas" in result.stderr
    assert not (tmp_path / "run" / "spec.json").exists()


@needs_tensorflow
def test_multiworker_without_a_cluster_or_under_tensorflow_is_refused(pairs, tmp_path, capsys, monkeypatch):
    from dml_keras.cli import main

    monkeypatch.delenv("TF_CONFIG", raising=False)
    status = main(["train-degradation", str(pairs), "--out", str(tmp_path / "run"), "--steps", "1", "--strategy", "multiworker"])
    assert status == 2
    assert "TF_CONFIG" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before any work
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 3}}')
    assert main(["train-sr", str(pairs), "--out", str(tmp_path / "run"), "--steps", "1", "--strategy", "multiworker"]) == 2
    assert "not a usable cluster description" in capsys.readouterr().err
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["localhost:1"]}, "task": {"type": "worker", "index": 0}}')
    assert main(["train-sr", str(pairs), "--out", str(tmp_path / "run"), "--steps", "1", "--strategy", "multiworker"]) == 2
    assert "KERAS_BACKEND=jax" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_the_first_worker_writes(monkeypatch):
    from dml_keras.distribute import writes_outputs

    def config(jobs, task_type, index):
        cluster = {job: [f"host{job}{i}:1" for i in range(count)] for job, count in jobs.items()}
        monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}}))

    config({"worker": 2}, "worker", 0)
    assert writes_outputs("multiworker") and writes_outputs("mirrored")
    config({"worker": 2}, "worker", 1)
    assert not writes_outputs("multiworker") and writes_outputs("default")
    config({"chief": 1, "worker": 2}, "worker", 0)
    assert not writes_outputs("multiworker")
    config({"chief": 1, "worker": 2}, "chief", 0)
    assert writes_outputs("multiworker")
