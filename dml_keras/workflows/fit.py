"""The fit-and-save both model families share: resume, checkpoints, logs, strategies, float32 result."""

import json
import math
import os

import keras

from dml_keras.callbacks import (AloneOnThisProcess, ImageSummaries, OneDeviceValidation, RestoreOnly, SaveNetwork,
                                 averaging_optimizer)
from dml_keras.data.files import write_json
from dml_keras.distribute import float32_copy, one_device, worker_role
from dml_keras.errors import SetupError


def tensorflow_installed():
    """Whether TensorFlow can be imported here (TensorBoard's logs need it; training does not)."""
    import importlib.util

    try:
        return importlib.util.find_spec("tensorflow") is not None
    except ValueError:  # a module entry without a spec: imported in a way that cannot be looked up, or blocked
        return False


def resumed_epoch(out_dir):
    """Epochs already finished by an interrupted run in `out_dir` (0 for a fresh run)."""
    path = os.path.join(out_dir, "backup", "training_metadata.json")
    if not os.path.exists(path):
        return 0
    with open(path) as handle:
        return int(json.load(handle).get("epoch", 0))


def averaging_adam(learning_rate, ema_steps=0):
    """Adam that, with `ema_steps` > 0, also keeps an exponential moving average of the weights.

    The average spans about `ema_steps` steps (momentum `1 - 1/ema_steps`);
    `fit_and_save` validates with it and saves it as the final model, so the
    result is not whichever point of the last steps' oscillation training
    stopped at. It is optimizer state, so an interrupted run resumes it.
    """
    if ema_steps < 0:
        raise SetupError(f"ema_steps (--ema-steps) must be 0 (off) or a positive number of steps, not {ema_steps}")
    if not ema_steps:
        return keras.optimizers.Adam(learning_rate)
    return keras.optimizers.Adam(learning_rate, use_ema=True, ema_momentum=1.0 - 1.0 / ema_steps)


def fit_and_save(model, strategy, policy, out_dir, settings, train, validation, steps, steps_per_epoch, example,
                 callbacks=(), verbose="auto", network_of=None, keep_checkpoints=False):
    """`model.fit` with resume, checkpoints and logs in `out_dir`, then `out_dir/model.keras` in float32.

    With an optimizer that averages the weights (`averaging_adam`), validation
    scores the average and `model.keras` holds it.

    Writes `training.json` (`settings` plus how it ran), `backup/` (resume),
    `checkpoints/last.keras`, `history.csv`, TensorBoard `logs/` with `example`
    (`(inputs, targets, tag)`) shown each epoch (where TensorFlow is installed:
    TensorBoard's files are written by `tf.summary`). With several workers only the
    first writes; the others resume from its `backup/`, so `out_dir` must be on
    a filesystem they share. Returns the trained float32 model.

    `network_of(model)`, when given, is what is checkpointed and saved instead
    of `model` itself (the EMA generator of a `PerceptualTrainer`); with `keep_checkpoints` each epoch's
    is also kept as `checkpoints/step-N.keras`.
    """
    index, workers = worker_role(strategy)
    backup = os.path.join(out_dir, "backup")
    if index == 0:
        settings = dict(settings, replicas=strategy.num_replicas_in_sync, workers=workers, precision=policy,
                        jit_compile=bool(model.jit_compile), backend=keras.backend.backend())
        write_json(os.path.join(out_dir, "training.json"), settings)
        outputs = [
            keras.callbacks.BackupAndRestore(backup),
            keras.callbacks.ModelCheckpoint(os.path.join(out_dir, "checkpoints", "last.keras")) if network_of is None
            else SaveNetwork(os.path.join(out_dir, "checkpoints", "last.keras"), network_of, keep=keep_checkpoints),
            keras.callbacks.CSVLogger(os.path.join(out_dir, "history.csv"), append=True),
        ]
        if tensorflow_installed():
            outputs.append(keras.callbacks.TensorBoard(os.path.join(out_dir, "logs")))
            if workers == 1:  # the images need the model on one process
                outputs.append(ImageSummaries(os.path.join(out_dir, "logs"), *example))
    else:
        outputs = [RestoreOnly(backup)]
    if workers > 1:
        # the same Keras calls on every worker: what they load or save creates no variable shared between them
        outputs = [AloneOnThisProcess(callback) for callback in outputs]
        train = strategy.local_share(train)  # every worker reads the whole stream and keeps its rows of each batch
    scoring = []
    if validation is not None and strategy.num_replicas_in_sync > 1:
        with one_device():  # a copy of what is scored and saved (the SR network of an in-step synthesis run)
            copy = float32_copy(model if network_of is None else network_of(model), example[0], always=True)
            copy.compile_from_config(model.get_compile_config())
        scoring, validation = [OneDeviceValidation(copy, validation, network_of)], None
    if averaging_optimizer(model.optimizer) is not None:
        # validation scores the averaged weights; BackupAndRestore keeps the raw ones and the average
        scoring.append(keras.callbacks.SwapEMAWeights())
    steps_per_epoch = min(steps_per_epoch, steps)
    model.fit(
        train,
        epochs=math.ceil(steps / steps_per_epoch),
        steps_per_epoch=steps_per_epoch,
        validation_data=validation,
        callbacks=scoring + list(callbacks) + outputs,
        verbose=verbose if index == 0 else 0,
        shuffle=False,  # the pipelines shuffle, seeded
    )
    model = float32_copy(model if network_of is None else network_of(model), example[0])
    if index == 0:
        with one_device():
            model.save(os.path.join(out_dir, "model.keras"))
    return model
