"""Multi-device and multi-machine training, and mixed precision, for the training commands.

- `"mirrored"`: every local GPU (or, without GPUs, every logical CPU device),
  one model copy each, gradients averaged: the same update as one device
  with the same global batch (TensorFlow's `MirroredStrategy`).
- `"multiworker"`: several processes or machines under `KERAS_BACKEND=jax`, with
  Keras's public distribution API only: `keras.distribution.initialize` (the
  cluster from `TF_CONFIG`) and a `DataParallel` distribution over every
  process's devices. Every process runs the same command; each feeds its share
  of every global batch (`Workers.local_share`). Under TensorFlow it is refused:
  Keras 3.15's `fit` cannot run under `MultiWorkerMirroredStrategy`
  (keras-team/keras#20585) without reaching into private trainer methods.
- `mixed_precision`: `mixed_float16` on GPU (Keras adds loss scaling) or
  `mixed_bfloat16` on CPU; variables stay float32 and the loss is computed in float32.
  `"auto"` (the fine-tuning recipe's): bfloat16 where this CPU trains convolutions
  in it at least 1.25× faster than in float32, measured (`bfloat16_pays`), else float32.

Under another backend on one device, `resolve_strategy` gives `OneDevice`, which asks nothing of TensorFlow.
"""

import contextlib
import functools
import json
import os

import keras

from dml_keras.errors import SetupError
from dml_keras.names import STRATEGIES


class OneDevice:
    """The strategy of a run on one device under a backend without `tf.distribute` (what the trainers ask of one)."""

    num_replicas_in_sync = 1
    cluster_resolver = None

    def scope(self):
        return contextlib.nullcontext()


def resolve_strategy(strategy=None):
    """A `tf.distribute.Strategy` from a name (`STRATEGIES`) or an existing strategy (returned as is);
    under a backend other than TensorFlow, `OneDevice` for `None` or `"default"`."""
    if isinstance(strategy, str) and strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: strategy={strategy!r}")
    if isinstance(strategy, (OneDevice, Workers)):
        return strategy
    if strategy == "multiworker":
        _check_tf_config()
        if keras.backend.backend() != "jax":
            raise SetupError(
                "strategy 'multiworker' (--strategy) trains under KERAS_BACKEND=jax (Keras's distribution API, with "
                "the cluster in TF_CONFIG as now); TensorFlow's MultiWorkerMirroredStrategy cannot run Keras 3.15's fit "
                "(keras-team/keras#20585). Install JAX (pip install 'dml-keras[jax]') and set KERAS_BACKEND=jax.")
        return Workers.from_tf_config()
    if keras.backend.backend() != "tensorflow":
        if strategy is None or strategy == "default":
            return OneDevice()
        raise SetupError(f"strategy {strategy!r} (--strategy) is TensorFlow's tf.distribute: run with "
                         f"KERAS_BACKEND=tensorflow, or drop it to train on one device under {keras.backend.backend()}")
    import tensorflow as tf

    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if not isinstance(strategy, str):
        return strategy
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


_TF_CONFIG_EXAMPLE = (
    'TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, "task": {"type": "worker", "index": 0}}\' '
    "on the first machine, index 1 on the second"
)


def _check_tf_config():
    """Refuse a multi-worker run whose cluster is not described, before any worker waits for the others."""
    text = os.environ.get("TF_CONFIG")
    if not text:
        raise SetupError(f"strategy='multiworker' needs the cluster in the TF_CONFIG environment variable, e.g. {_TF_CONFIG_EXAMPLE}.")
    try:
        _cluster(json.loads(text))
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise SetupError(f"TF_CONFIG is not a usable cluster description ({error!r}); expected e.g. {_TF_CONFIG_EXAMPLE}.") from None


def _cluster(config):
    """`(hosts, index)` of a TF_CONFIG: the training tasks (`chief` first, then `worker`s) and this task's place."""
    jobs, task = config["cluster"], config["task"]
    hosts = list(jobs.get("chief", [])) + list(jobs.get("worker", []))
    offset = 0 if task["type"] == "chief" else len(jobs.get("chief", []))
    if task["type"] not in ("chief", "worker"):
        raise KeyError(f"task type {task['type']!r} (expected 'chief' or 'worker')")
    jobs[task["type"]][task["index"]]  # the task is in the cluster
    return hosts, offset + task["index"]


_JOINED = {}  # a process joins its cluster once


class Workers:
    """The strategy of a run over several processes under JAX: Keras's `DataParallel` over all their devices.

    `keras.distribution.initialize` joins the processes (the first host is
    the coordinator); every variable is replicated on every device and every
    global batch is split over them. Each process gives its own share of each
    batch (`local_share`), so the update is one device's on the global batch.
    A process that dies makes the others fail (JAX's coordination service, at
    its heartbeat timeout) rather than wait forever; rerun every process to
    resume from the first's backup.
    """

    def __init__(self, hosts, index):
        keras.distribution.initialize(job_addresses=hosts[0], num_processes=len(hosts), process_id=index)
        self.distribution = keras.distribution.DataParallel(auto_shard_dataset=False)
        keras.distribution.set_distribution(self.distribution)
        self.role = (index, len(hosts))
        self.num_replicas_in_sync = len(keras.distribution.list_devices())

    @classmethod
    def from_tf_config(cls):
        """The processes TF_CONFIG describes, joined once per process (later calls return the same object)."""
        if "workers" not in _JOINED:
            _JOINED["workers"] = cls(*_cluster(json.loads(os.environ["TF_CONFIG"])))
        return _JOINED["workers"]

    def scope(self):
        return self.distribution.scope()

    def local_share(self, data):
        """`data` (a `PyDataset` of global batches) as this process's rows of each batch."""
        return LocalShare(data, *self.role)


class LocalShare(keras.utils.PyDataset):
    """Rows `index·b/count … (index + 1)·b/count - 1` of each batch of `data` (every process reads every batch,
    as TensorFlow's DATA sharding does, and keeps its part)."""

    def __init__(self, data, index, count):
        super().__init__()
        self.data, self.index, self.count = data, index, count

    @property
    def num_batches(self):
        return self.data.num_batches

    def __len__(self):
        return len(self.data)

    def __getitem__(self, position):
        def part(array):
            rows = array.shape[0]
            if rows % self.count:
                raise SetupError(f"--batch-size {rows} does not split over {self.count} workers; "
                                 f"give a multiple of {self.count}.")
            share = rows // self.count
            return array[self.index * share:(self.index + 1) * share]

        return keras.tree.map_structure(part, self.data[position])


@contextlib.contextmanager
def one_device():
    """Inside, models are built and run on this process's device alone, also during a `Workers` run
    (for scoring the validation photos, which differ in size and cannot be split over devices)."""
    if keras.backend.backend() != "jax" or keras.distribution.distribution() is None:
        yield
        return
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def check_jit_compile(strategy, jit_compile):
    """Refuse XLA for a training step spread over several replicas, before any work is done.

    Measured with TensorFlow 2.21: on CPU devices XLA cannot compile the
    cross-replica sums ("Collectives are not yet implemented for CPU devices
    when compiling with XLA"); a mirrored step over two devices failed ("Trying
    to access resource ... located in device") or hung. Keras's own `"auto"`
    setting turns XLA off under `tf.distribute` for the same reason.
    """
    if jit_compile is True and strategy.num_replicas_in_sync > 1:
        raise SetupError(
            f"jit_compile=True (--jit-compile) trains on one device only; this run has "
            f"{strategy.num_replicas_in_sync} replicas, and TensorFlow's XLA cannot compile a step spread over "
            "several devices. Drop --jit-compile (Keras's default turns XLA off under tf.distribute) "
            "or train on one device."
        )


def worker_role(strategy):
    """`(index, count)` of this process among the workers `strategy` trains on; `(0, 1)` on one machine.

    Index 0 (the `chief` task, or else worker 0) writes the outputs.
    """
    return getattr(strategy, "role", (0, 1))


def writes_outputs(strategy):
    """Whether this process writes the training outputs under `strategy` (a name from `STRATEGIES`)."""
    if strategy != "multiworker":
        return True
    return _cluster(json.loads(os.environ["TF_CONFIG"]))[1] == 0


def precision_policy(mixed_precision):
    """The Keras dtype policy name for `mixed_precision` (`False`, `True` = best for this machine, `"auto"` =
    bfloat16 where it pays on this CPU, or a policy name)."""
    if not mixed_precision:
        return "float32"
    if mixed_precision == "auto":
        return "mixed_bfloat16" if bfloat16_pays() else "float32"
    if isinstance(mixed_precision, str):
        return mixed_precision
    return "mixed_float16" if _has_gpu() else "mixed_bfloat16"


_PROBE_SHAPE, _PROBE_LAYERS = (4, 48, 48, 64), 3


def _probe_seconds(dtype, repeat=5):
    """The fastest of `repeat` forward and backward passes through `_PROBE_LAYERS` 3×3 convolutions (64 → 64
    channels, LeakyReLU) on `_PROBE_SHAPE`, computed in `dtype` from float32 values, as a training step is."""
    import time

    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal(_PROBE_SHAPE).astype("float32")
    w = (rng.standard_normal((3, 3, 64, 64)) * 0.05).astype("float32")
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        @tf.function
        def step(x, w):
            with tf.GradientTape() as tape:
                tape.watch(w)
                y, kernel = tf.cast(x, dtype), tf.cast(w, dtype)
                for _ in range(_PROBE_LAYERS):
                    y = tf.nn.leaky_relu(tf.nn.conv2d(y, kernel, 1, "SAME"), 0.2)
                loss = tf.reduce_sum(tf.cast(y, tf.float32))
            return tape.gradient(loss, w)

        x, w = tf.constant(x), tf.constant(w)
        run = lambda: step(x, w).numpy()  # noqa: E731
    else:
        import jax

        def loss(w, x):
            y, kernel = x.astype(dtype), w.astype(dtype)
            for _ in range(_PROBE_LAYERS):
                y = jax.nn.leaky_relu(jax.lax.conv_general_dilated(y, kernel, (1, 1), "SAME",
                                                                   dimension_numbers=("NHWC", "HWIO", "NHWC")), 0.2)
            return y.astype("float32").sum()

        step = jax.jit(jax.grad(loss))
        run = lambda: step(w, x).block_until_ready()  # noqa: E731
    run()  # traced and compiled
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def bfloat16_speedup():
    """How many times faster this machine trains convolutions in bfloat16 than in float32 (`_probe_seconds`:
    about a second); `benchmarks/finetune_step.py` prints it."""
    return _probe_seconds("float32") / _probe_seconds("bfloat16")


@functools.cache
def bfloat16_pays():
    """Whether this machine trains convolutions in bfloat16 at least 1.25× faster than in float32, on its CPU,
    under TensorFlow or JAX: measured once per process (`bfloat16_speedup`).

    CPUs that report AVX-512 BF16 differ: on one 2-core AMD EPYC (family 26) a fine-tuning step in bfloat16
    took 0.65× the float32 step, on another (with AVX-512 BF16 reported too) 16× (benchmarks/README.md).
    So it is measured, not read from the CPU's flags. With a GPU, `False`: `--mixed-precision` asks for it.
    """
    if keras.backend.backend() not in ("tensorflow", "jax") or _has_gpu():
        return False
    return bfloat16_speedup() >= 1.25


def _has_gpu():
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_logical_devices("GPU"))
    if backend == "jax":
        import jax

        return jax.default_backend() == "gpu"
    return False


@contextlib.contextmanager
def training_scope(strategy=None, mixed_precision=False):
    """Build and compile models inside: `with training_scope("mirrored", True) as (strategy, policy): ...`.

    Models created inside are placed by `strategy` and use the dtype policy;
    the previous global policy is restored on exit.
    """
    strategy = resolve_strategy(strategy)
    policy = precision_policy(mixed_precision)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        with strategy.scope():
            yield strategy, policy
    finally:
        keras.config.set_dtype_policy(previous)


def float32_copy(model, sample, always=False):
    """`model` rebuilt in float32 with the same weights (what to save after mixed-precision training).

    A float32 model is returned as is, unless `always` (then: a new model outside any strategy).
    """
    if model.dtype_policy.name == "float32" and not always:
        return model
    config = model.get_config()
    config["dtype"] = "float32"
    copy = type(model).from_config(config)
    copy(sample)
    copy.set_weights(model.get_weights())
    return copy
