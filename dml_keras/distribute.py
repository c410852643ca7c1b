"""Multi-device training and mixed precision for the training commands (TensorFlow's `tf.distribute`).

- `"mirrored"`: every local GPU (or, without GPUs, every logical CPU device),
  one model copy each, gradients averaged: the same update as one device
  with the same global batch.
- `"multiworker"`: across machines — accepted, but refused with an explanation:
  Keras 3's `fit` fails under `MultiWorkerMirroredStrategy` (keras-team/keras#20585;
  we reproduced it on a two-process local cluster).
- `mixed_precision`: `mixed_float16` on GPU (Keras adds loss scaling) or
  `mixed_bfloat16` on CPU; variables stay float32 and the loss is computed in float32.
"""

import contextlib

import keras

from dml_keras.data.errors import DataError

STRATEGIES = ("default", "mirrored", "multiworker")


def resolve_strategy(strategy=None):
    """A `tf.distribute.Strategy` from a name (`STRATEGIES`) or an existing strategy (returned as is)."""
    import tensorflow as tf

    if strategy is None or strategy == "default":
        return tf.distribute.get_strategy()
    if not isinstance(strategy, str):
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}. Received: strategy={strategy!r}")
    if keras.backend.backend() != "tensorflow":
        raise ValueError(f"strategy={strategy!r} needs KERAS_BACKEND=tensorflow; under JAX use keras.distribution.")
    if strategy == "multiworker":
        # Tried on a two-process local cluster: Keras 3's fit reduces the first distributed
        # batch eagerly and then reduces scalar logs along axis 0, and both fail under
        # MultiWorkerMirroredStrategy. Fail before any worker waits for the others.
        raise DataError(
            f"strategy='multiworker' does not work with Keras {keras.__version__}'s fit "
            "(keras-team/keras#20585). Use --strategy mirrored for the GPUs of one machine; "
            "split offline synthesis across machines with `dml synthesize --shard I/N`."
        )
    gpus = tf.config.list_logical_devices("GPU")
    devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
    return tf.distribute.MirroredStrategy(devices)


def precision_policy(mixed_precision):
    """The Keras dtype policy name for `mixed_precision` (`False`, `True` = best for this machine, or a policy name)."""
    if not mixed_precision:
        return "float32"
    if isinstance(mixed_precision, str):
        return mixed_precision
    import tensorflow as tf

    return "mixed_float16" if tf.config.list_logical_devices("GPU") else "mixed_bfloat16"


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


def float32_copy(model, sample):
    """`model` rebuilt in float32 with the same weights (what to save after mixed-precision training)."""
    if model.dtype_policy.name == "float32":
        return model
    config = model.get_config()
    config["dtype"] = "float32"
    copy = type(model).from_config(config)
    copy(sample)
    copy.set_weights(model.get_weights())
    return copy
