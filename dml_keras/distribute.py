"""Multi-device training and mixed precision for the training commands (TensorFlow's `tf.distribute`).

- `"mirrored"`: every local GPU (or, without GPUs, every logical CPU device),
  one model copy each, gradients averaged: the same update as one device
  with the same global batch.
- `"multiworker"`: across machines (`MultiWorkerMirroredStrategy`, cluster from
  `TF_CONFIG`): every worker runs the same command; the global batch is split
  over all workers' devices. Keras 3.15's `fit` fails there as it is
  (keras-team/keras#20585); `fit_across_workers` makes it run.
- `mixed_precision`: `mixed_float16` on GPU (Keras adds loss scaling) or
  `mixed_bfloat16` on CPU; variables stay float32 and the loss is computed in float32.

Under another backend (JAX, PyTorch) a run trains on one device: `resolve_strategy`
gives `OneDevice`, which asks nothing of TensorFlow.
"""

import contextlib
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
    if keras.backend.backend() != "tensorflow":
        if strategy is None or strategy == "default" or isinstance(strategy, OneDevice):
            return OneDevice()
        raise SetupError(f"strategy {strategy!r} (--strategy) is TensorFlow's tf.distribute: run with "
                         f"KERAS_BACKEND=tensorflow, or drop it to train on one device under {keras.backend.backend()}")
    import tensorflow as tf

    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if not isinstance(strategy, str):
        return strategy
    if strategy == "multiworker":
        _check_tf_config()
        return tf.distribute.MultiWorkerMirroredStrategy()
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
        config = json.loads(text)
        task = config["task"]
        hosts = config["cluster"][task["type"]]
        hosts[task["index"]]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise SetupError(f"TF_CONFIG is not a usable cluster description ({error!r}); expected e.g. {_TF_CONFIG_EXAMPLE}.") from None


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


def _role(resolver):
    """`(index, count)` of this task among the cluster's training tasks; index 0 is `chief`, or else worker 0."""
    jobs = resolver.cluster_spec().as_dict()
    chiefs, workers = len(jobs.get("chief", [])), len(jobs.get("worker", []))
    if chiefs + workers <= 1:
        return 0, 1
    return resolver.task_id + (chiefs if resolver.task_type == "worker" else 0), chiefs + workers


def worker_role(strategy):
    """`(index, count)` of this process among the workers `strategy` trains on; `(0, 1)` on one machine.

    Index 0 (the `chief` task, or else worker 0) writes the outputs.
    """
    resolver = getattr(strategy, "cluster_resolver", None)
    return (0, 1) if resolver is None else _role(resolver)


def writes_outputs(strategy):
    """Whether this process writes the training outputs under `strategy` (a name from `STRATEGIES`)."""
    if strategy != "multiworker":
        return True
    import tensorflow as tf

    return _role(tf.distribute.cluster_resolver.TFConfigClusterResolver())[0] == 0


@contextlib.contextmanager
def fit_across_workers(model, strategy):
    """Inside, `model.fit` runs under a `MultiWorkerMirroredStrategy` spanning several workers.

    Keras 3.15's `fit` fails there twice (keras-team/keras#20585): it reduces the
    first distributed batch as one nested value to learn the input shapes, and it
    reduces each scalar log along axis 0. Inside this context the model learns
    its input shapes from this worker's part of the batch and its steps return
    logs of shape `(1,)`, which the cross-worker mean turns into scalars. The
    changes are on this model object only and undone on exit; with one worker
    nothing changes.
    """
    if worker_role(strategy)[1] == 1:
        yield model
        return
    import tensorflow as tf

    def local_part(value):
        return strategy.experimental_local_results(value)[0] if isinstance(value, tf.distribute.DistributedValues) else value

    def symbolic_build_from_local_batch(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, batches in iterator:
                data_batch = keras.tree.map_structure(local_part, next(batches))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    def with_vector_logs(step):
        def step_with_vector_logs(data):
            return keras.tree.map_structure(lambda log: tf.reshape(log, [1]), step(data))

        return step_with_vector_logs

    overrides = {
        "_maybe_symbolic_build": symbolic_build_from_local_batch,
        "train_step": with_vector_logs(model.train_step),
        "test_step": with_vector_logs(model.test_step),
    }
    for name, function in overrides.items():
        object.__setattr__(model, name, function)
    try:
        yield model
    finally:
        for name in overrides:
            object.__delattr__(model, name)


def precision_policy(mixed_precision):
    """The Keras dtype policy name for `mixed_precision` (`False`, `True` = best for this machine, or a policy name)."""
    if not mixed_precision:
        return "float32"
    if isinstance(mixed_precision, str):
        return mixed_precision
    return "mixed_float16" if _has_gpu() else "mixed_bfloat16"


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
