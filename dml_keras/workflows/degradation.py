"""Fitting a degradation model on real pairs, with logs, checkpoints and resume."""

import json
import math
import os

import keras
import numpy as np

from dml_keras.callbacks import ImageSummaries, OneDeviceValidation, RestoreOnly
from dml_keras.data.pairs import discover_pairs, pair_geometry
from dml_keras.data.pipeline import paired_dataset, paired_eval_dataset
from dml_keras.distribute import (check_jit_compile, fit_across_workers, float32_copy, resolve_strategy,
                                  training_scope, worker_role)

CACHE_LIMIT_BYTES = 2 * 1024**3


def split_pairs(pairs, val_fraction):
    """Hold out evenly spaced pairs (every `round(1 / val_fraction)`-th) for validation.

    Returns:
        `(train_pairs, val_pairs)`.

    Example:
    >>> train, val = split_pairs(list(range(10)), 0.2)
    >>> val
    [4, 9]
    """
    if not val_fraction:
        return list(pairs), []
    every = max(2, round(1 / val_fraction))
    val = [p for i, p in enumerate(pairs) if i % every == every - 1]
    train = [p for i, p in enumerate(pairs) if i % every != every - 1]
    return train, val


def build_degradation_model(model="dml", **kwargs):
    """A degradation model by its command-line name, with the arguments it accepts."""
    from dml_keras.models import DEGRADATION_MODELS

    if model not in DEGRADATION_MODELS:
        raise ValueError(f"model must be one of {sorted(DEGRADATION_MODELS)}. Received: model={model!r}")
    cls = DEGRADATION_MODELS[model]
    accepted = cls.__init__.__code__.co_varnames
    return cls(**{k: v for k, v in kwargs.items() if k in accepted})


def _resumed_epoch(out_dir):
    """Epochs already finished by an interrupted run in `out_dir` (0 for a fresh run)."""
    path = os.path.join(out_dir, "backup", "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path) as handle:
        return int(json.load(handle).get("epoch", 0))


def fit_and_save(model, strategy, policy, out_dir, settings, train, validation, steps, steps_per_epoch, example,
                 callbacks=(), verbose="auto"):
    """`model.fit` with resume, checkpoints and logs in `out_dir`, then `out_dir/model.keras` in float32.

    Writes `training.json` (`settings` plus how it ran), `backup/` (resume),
    `checkpoints/last.keras`, `history.csv`, TensorBoard `logs/` with `example`
    (`(inputs, targets, tag)`) shown each epoch. With several workers only the
    first writes; the others resume from its `backup/`, so `out_dir` must be on
    a filesystem they share. Returns the trained float32 model.
    """
    index, workers = worker_role(strategy)
    backup = os.path.join(out_dir, "backup")
    if index == 0:
        settings = dict(settings, replicas=strategy.num_replicas_in_sync, workers=workers, precision=policy,
                        jit_compile=bool(model.jit_compile))
        with open(os.path.join(out_dir, "training.json"), "w") as handle:
            json.dump(settings, handle, indent=2)
        outputs = [
            keras.callbacks.BackupAndRestore(backup),
            keras.callbacks.ModelCheckpoint(os.path.join(out_dir, "checkpoints", "last.keras")),
            keras.callbacks.CSVLogger(os.path.join(out_dir, "history.csv"), append=True),
            keras.callbacks.TensorBoard(os.path.join(out_dir, "logs")),
            ImageSummaries(os.path.join(out_dir, "logs"), *example),
        ]
    else:
        outputs = [RestoreOnly(backup)]
    if workers > 1:
        # DATA sharding, what AUTO falls back to (with a warning) for these pipelines: every
        # worker runs the whole pipeline and keeps its share of each global batch
        import tensorflow as tf

        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        train = train.with_options(options)
    scoring = []
    if validation is not None and strategy.num_replicas_in_sync > 1:
        copy = float32_copy(model, example[0], always=True)
        copy.compile_from_config(model.get_compile_config())
        scoring, validation = [OneDeviceValidation(copy, validation)], None
    steps_per_epoch = min(steps_per_epoch, steps)
    with fit_across_workers(model, strategy):
        model.fit(
            train,
            epochs=math.ceil(steps / steps_per_epoch),
            steps_per_epoch=steps_per_epoch,
            validation_data=validation,
            callbacks=scoring + list(callbacks) + outputs,
            verbose=verbose if index == 0 else 0,
            shuffle=False,  # the pipelines shuffle, seeded
        )
    model = float32_copy(model, example[0])
    if index == 0:
        model.save(os.path.join(out_dir, "model.keras"))
    return model


def _can_cache(pairs, scale, lr_size, channels):
    pixels = sum(np.prod(pair_geometry(p, scale, lr_size)[0]) for p in pairs)
    return pixels * (1 if channels == "y" else 3) * 2 * 4 < CACHE_LIMIT_BYTES


def train_degradation(
    pairs,
    out_dir,
    model="dml",
    scale=4,
    num_basis=8,
    kernel_size=15,
    channels="y",
    lr_size="same",
    patch_size=192,
    batch_size=16,
    steps=100_000,
    steps_per_epoch=500,
    learning_rate=1e-4,
    val_pairs=None,
    val_fraction=0.0,
    seed=0,
    verbose="auto",
    callbacks=(),
    strategy=None,
    mixed_precision=False,
    jit_compile="auto",
    **model_kwargs,
):
    """Fit a degradation model on real pairs; resumable, logged, saved as `out_dir/model.keras`.

    Interrupting and calling again with the same arguments continues from the
    last finished epoch (`out_dir/backup`), it does not start over.

    Args:
        pairs: folder/CSV of pairs or a list of `ImagePair`.
        out_dir: where `model.keras`, `checkpoints/`, `logs/` (TensorBoard),
            `history.csv` and `training.json` go.
        model: `"dml"`, `"directnet"`, `"directkpn"` or `"global-kernel"`.
        steps: total optimisation steps; `steps_per_epoch` steps make one
            epoch (the unit of logging, validation and checkpointing).
        val_pairs: held-out pairs (folder/CSV/list); or hold out `val_fraction`.
        callbacks: extra Keras callbacks (they run on every worker).
        strategy: `"default"`, `"mirrored"`, `"multiworker"` (cluster in `TF_CONFIG`) or a
            `tf.distribute.Strategy`; `batch_size` is the global batch (`dml_keras.distribute`).
        mixed_precision: `True` for mixed float16 (GPU) / bfloat16 (CPU), or a policy name;
            the saved model is float32.
        jit_compile: XLA for the training step (`"auto"`: Keras decides; off on
            TensorFlow, where it measured 1.43× slower on CPU). One device only.
        Others: as `DegradationModel` and `paired_dataset` (paper defaults).

    Returns:
        the trained model.
    """
    # first: a strategy that cannot run is refused before any work is done
    strategy = resolve_strategy(strategy)
    check_jit_compile(strategy, jit_compile)
    pairs = discover_pairs(pairs, scale=scale) if isinstance(pairs, (str, os.PathLike)) else list(pairs)
    if val_pairs is None:
        pairs, val_pairs = split_pairs(pairs, val_fraction)
    elif isinstance(val_pairs, (str, os.PathLike)):
        val_pairs = discover_pairs(val_pairs, scale=scale)
    keras.utils.set_random_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    # A resumed run continues with fresh crops instead of replaying the stream from its start.
    resumed = _resumed_epoch(out_dir)
    data_seed = seed * 1_000_003 + resumed if resumed else seed
    train = paired_dataset(
        pairs, scale, patch_size, batch_size, lr_size, channels, seed=data_seed,
        cache=_can_cache(pairs, scale, lr_size, channels),
    )
    validation = None
    if val_pairs:
        validation = paired_eval_dataset(val_pairs, scale, lr_size, channels).map(lambda hr, lr, name: (hr, lr)).batch(1)
    sample_hr, sample_lr = next(iter((validation or train).take(1)))
    with training_scope(strategy, mixed_precision) as (strategy, policy):
        degradation = build_degradation_model(
            model, num_basis=num_basis, kernel_size=kernel_size, scale=scale, channels=channels,
            lr_size=lr_size, seed=seed, **model_kwargs,
        )
        degradation.compile(optimizer=keras.optimizers.Adam(learning_rate), jit_compile=jit_compile)
        degradation(sample_hr[:1])  # build before BackupAndRestore restores weights into it
    settings = dict(
        model=model, scale=scale, num_basis=num_basis, kernel_size=kernel_size, channels=channels,
        lr_size=lr_size, patch_size=patch_size, batch_size=batch_size, steps=steps,
        steps_per_epoch=steps_per_epoch, learning_rate=learning_rate, seed=seed,
        train_pairs=[p.name for p in pairs], val_pairs=[p.name for p in val_pairs or []],
        **model_kwargs,
    )
    example = (sample_hr.numpy()[:1], sample_lr.numpy()[:1], "hr_generated_lr_real_lr")
    return fit_and_save(degradation, strategy, policy, out_dir, settings, train, validation, steps,
                        steps_per_epoch, example, callbacks, verbose)
