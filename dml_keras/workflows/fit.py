"""The fit-and-save both model families share: resume, checkpoints, logs, strategies, float32 result."""

import json
import math
import os

import keras

from dml_keras.callbacks import (AloneOnThisProcess, Backup, ImageSummaries, OneDeviceValidation, RestoreOnly,
                                 SaveNetwork, averaging_optimizer)
from dml_keras.data.files import write_json
from dml_keras.distribute import float32_copy, one_device, worker_role
from dml_keras.errors import DataError, SetupError


def tensorflow_installed():
    """Whether TensorFlow can be imported here (TensorBoard's logs need it; training does not)."""
    import importlib.util

    try:
        return importlib.util.find_spec("tensorflow") is not None
    except ValueError:  # a module entry without a spec: imported in a way that cannot be looked up, or blocked
        return False


def resumed_epoch(out_dir):
    """Epochs already finished by an interrupted run in `out_dir` (0 for a fresh run).

    Raises:
        DataError: `out_dir` holds a finished run (`model.keras` and no backup), or a backup that cannot be read.
    """
    backup = os.path.join(out_dir, "backup")
    path = os.path.join(backup, "training_metadata.json")
    if not os.path.exists(path):
        if os.path.exists(os.path.join(out_dir, "model.keras")):
            raise DataError(f"'{out_dir}' holds a finished run (model.keras). Give another --out, or remove that "
                            "folder to train again.")
        return 0
    try:
        with open(path) as handle:
            return int(json.load(handle)["epoch"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"The run's backup '{backup}' cannot be read ({type(error).__name__} in "
                        "training_metadata.json). Delete that folder to start the run over.") from None


def concrete_precision(out_dir, spec):
    """`spec` with an `"auto"` precision made what it is for this run: what the run's first start chose (its
    `spec.json`) when it resumes, so that a resumed run computes as it did; else `"mixed_bfloat16"` where
    bfloat16 pays on this machine (`distribute.bfloat16_pays`), or `False`. The spec written is the concrete one."""
    if spec.execution.mixed_precision != "auto":
        return spec
    chosen = None
    if resumed_epoch(out_dir) and os.path.exists(os.path.join(out_dir, "spec.json")):
        from dml_keras.specs import read_spec

        chosen = read_spec(out_dir).execution.mixed_precision  # unreadable: one line, as check_same_run says
    if chosen is None or chosen == "auto":
        from dml_keras.distribute import bfloat16_pays

        chosen = "mixed_bfloat16" if bfloat16_pays() else False
    return spec.set("mixed_precision", chosen)


def resumed_steps(out_dir, schedule):
    """Training steps already taken by an interrupted run in `out_dir` (its backed-up epochs × steps per epoch):
    where its stateless stream goes on, so that a resumed run is the uninterrupted one, bit for bit."""
    return resumed_epoch(out_dir) * min(schedule.steps_per_epoch, schedule.steps)


# what may change when a stopped run is resumed: more steps (the recipes derive the average's span from them)
# and how it runs (devices, precision, XLA); `run_info.json` records those of each start
_MAY_CHANGE = ("schedule.steps", "average.ema_steps", "execution.strategy", "execution.mixed_precision",
               "execution.jit_compile")


def _settings_by_path(nested):
    """A spec's JSON (`RunSpec.to_dict`) as `{"recipe": ..., "crops.patch_size": ...}`: part.field → value."""
    flat = {}
    for key, value in nested.items():
        if isinstance(value, dict) and key != "spec":
            flat.update({f"{key}.{field}": item for field, item in value.items()})
        else:
            flat[key] = value
    return flat


def check_same_run(out_dir, spec):
    """Refuse to resume the stopped run in `out_dir` with a spec other than its own (`spec.json`), but for
    `_MAY_CHANGE`. A run stopped by a version that wrote no `spec.json` goes on unchecked."""
    path = os.path.join(out_dir, "spec.json")
    if not resumed_epoch(out_dir) or not os.path.exists(path):
        return
    try:
        with open(path) as handle:
            recorded = _settings_by_path(json.load(handle))
    except (OSError, ValueError, AttributeError) as error:
        raise DataError(f"The stopped run's spec '{path}' cannot be read ({error}). Delete '{out_dir}' to start "
                        "the run over.") from None
    given = _settings_by_path(json.loads(json.dumps(spec.to_dict())))
    names = {path: name for name, path in spec.PATHS.items()}
    # a setting the record lacks was added after the run started: the run ran as its default does now
    changed = [key for key in recorded if key not in _MAY_CHANGE and recorded[key] != given.get(key)]
    if changed:
        what = "; ".join(f"{names.get(key, key)} {recorded[key]!r} → {given.get(key)!r}" for key in changed[:3])
        raise DataError(f"'{out_dir}' holds a stopped run with other settings ({what}). Resume it with its own "
                        f"(--config {path}), or give another --out.")


def trim_history(out_dir, epochs):
    """Keep the first `epochs` epochs of `history.csv`: a run killed after logging an epoch but before backing it
    up logs that epoch again when it resumes, and must not log it twice."""
    import csv
    import io

    from dml_keras.data.files import atomic_file

    path = os.path.join(out_dir, "history.csv")
    if not os.path.exists(path):
        return
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    kept = rows[:1] + [row for row in rows[1:] if row and row[0].isdigit() and int(row[0]) < epochs]
    if kept != rows:
        text = io.StringIO()
        csv.writer(text, lineterminator="\n").writerows(kept)
        with atomic_file(path, "w") as handle:
            handle.write(text.getvalue())


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


def record_start(out_dir, how, from_step, record=None):
    """Add this start of the run (a resume is another) to `run_info.json`: when, on what machine, with which
    library versions, and `how` (backend, devices, precision). What the run does is `spec.json`; this is what
    ran it, with `record` (what the run found: its pairs' names, say) beside the starts."""
    import datetime

    from dml_keras.machine import machine, versions

    path = os.path.join(out_dir, "run_info.json")
    try:
        with open(path) as handle:
            starts = json.load(handle)["starts"]
    except (OSError, ValueError, KeyError, TypeError):
        starts = []
    start = {"started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "from_step": from_step, "machine": machine(), "versions": versions(), **how}
    write_json(path, {**(record or {}), "starts": starts + [start]})


def fit_and_save(model, strategy, policy, out_dir, spec, train, validation, example, callbacks=(), verbose="auto",
                 network_of=None, record=None):
    """`model.fit` with resume, checkpoints and logs in `out_dir`, then `out_dir/model.keras` in float32.

    With an optimizer that averages the weights (`averaging_adam`), validation
    scores the average and `model.keras` holds it.

    `spec` is the resolved run spec (`specs.SRRun`, `specs.DegradationRun`): its schedule gives the steps, and
    it is written as `spec.json`, which `--config` replays and a resume must match (`check_same_run`). Also
    writes `run_info.json` (`record`, and each start: when, the machine, the versions, the backend, devices and
    precision), `backup/` (resume),
    `checkpoints/last.keras`, `history.csv`, TensorBoard `logs/` with `example`
    (`(inputs, targets, tag)`) shown each epoch (where TensorFlow is installed:
    TensorBoard's files are written by `tf.summary`). With several workers only the
    first writes; the others resume from its `backup/`, so `out_dir` must be on
    a filesystem they share. Returns the trained float32 model.

    `network_of(model)`, when given, is what is checkpointed and saved instead
    of `model` itself (the EMA generator of a `PerceptualTrainer`); with the schedule's `keep_checkpoints`
    each epoch's is also kept as `checkpoints/step-N.keras`.
    """
    index, workers = worker_role(strategy)
    backup = os.path.join(out_dir, "backup")
    steps, steps_per_epoch = spec.schedule.steps, min(spec.schedule.steps_per_epoch, spec.schedule.steps)
    if index == 0:
        check_same_run(out_dir, spec)
        write_json(os.path.join(out_dir, "spec.json"), spec.to_dict())
        resumed = resumed_epoch(out_dir)
        how = dict(replicas=strategy.num_replicas_in_sync, workers=workers, precision=policy,
                   jit_compile=bool(model.jit_compile), backend=keras.backend.backend())
        record_start(out_dir, how, resumed * steps_per_epoch, record)
        trim_history(out_dir, resumed)
        # the epoch's line is logged before the backup records the epoch as done, so a kill in between loses
        # nothing (the resumed run logs it again, once: trim_history)
        outputs = [
            keras.callbacks.CSVLogger(os.path.join(out_dir, "history.csv"), append=True),
            Backup(backup),
            SaveNetwork(os.path.join(out_dir, "checkpoints", "last.keras"), network_of or (lambda trained: trained),
                        keep=getattr(spec.schedule, "keep_checkpoints", False)),
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
