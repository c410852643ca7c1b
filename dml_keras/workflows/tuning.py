"""keras-tuner search over DML's hyperparameters (number of basis kernels, kernel size, learning rate)."""

import itertools
import json
import os

import keras
import keras_tuner as kt

from dml_keras.errors import DataError
from dml_keras.data.pairs import resolve_pairs, split_pairs
from dml_keras.data.pipeline import paired_dataset, validation_batches
from dml_keras.models import DegradationModel

OBJECTIVE = "val_psnr"


class DegradationHyperModel(kt.HyperModel):
    """Builds one `DegradationModel` per trial from the choices given (built and compiled in `build`)."""

    def __init__(self, num_basis=(4, 8, 16), kernel_sizes=(15,), learning_rates=(1e-4,), scale=4,
                 channels="y", lr_size="same", seed=0, **kwargs):
        super().__init__(**kwargs)
        self.num_basis = list(num_basis)
        self.kernel_sizes = list(kernel_sizes)
        self.learning_rates = list(learning_rates)
        self.scale = scale
        self.channels = channels
        self.lr_size = lr_size
        self.seed = seed

    def build(self, hp):
        model = DegradationModel(
            num_basis=hp.Choice("num_basis", self.num_basis),
            kernel_size=hp.Choice("kernel_size", self.kernel_sizes),
            scale=self.scale, channels=self.channels, lr_size=self.lr_size, seed=self.seed,
        )
        model.compile(optimizer=keras.optimizers.Adam(hp.Choice("learning_rate", self.learning_rates)))
        return model


def tune_degradation(pairs, out_dir, num_basis=(4, 8, 16), kernel_sizes=(15,), learning_rates=(1e-4,), scale=4,
                     channels="y", lr_size="same", patch_size=96, batch_size=8, steps=1000, val_fraction=0.2,
                     seed=0, verbose=0):
    """Grid search with validation PSNR (on held-out whole images) as the objective.

    Returns:
        list of `{"num_basis", "kernel_size", "learning_rate", "val_psnr"}`, best first;
        also written to `out_dir/tuning.json`, and as a Markdown table to `out_dir/tuning.md`.

    Raises:
        RuntimeError: a trial produced no objective value (keras-tuner would otherwise carry on silently).
    """
    source, pairs = pairs, resolve_pairs(pairs, scale)
    train_pairs, val_pairs = split_pairs(pairs, val_fraction)
    if not val_pairs or not train_pairs:
        raise DataError(f"Tuning holds out a fraction of the pairs for validation (--val-fraction {val_fraction}), "
                        f"and {len(pairs)} pair(s) of '{source}' leave none to train or none to score on. Give more "
                        "pairs, or a --val-fraction above 0 that leaves both.")
    train = paired_dataset(train_pairs, scale, patch_size, batch_size, lr_size, channels, seed=seed, cache=True)
    validation = validation_batches(val_pairs, scale, lr_size, channels, inputs="hr")
    hypermodel = DegradationHyperModel(num_basis, kernel_sizes, learning_rates, scale, channels, lr_size, seed)
    trials = len(list(itertools.product(num_basis, kernel_sizes, learning_rates)))
    tuner = kt.GridSearch(
        hypermodel, objective=kt.Objective(OBJECTIVE, direction="max"), max_trials=trials, seed=seed,
        directory=out_dir, project_name="search", overwrite=False,
    )
    keras.utils.set_random_seed(seed)
    tuner.search(train, validation_data=validation, epochs=1, steps_per_epoch=steps, verbose=verbose, shuffle=False)
    rows = []
    for trial in tuner.oracle.get_best_trials(num_trials=trials):
        if trial.score is None:
            metrics = sorted(trial.metrics.metrics)
            raise RuntimeError(
                f"Trial {trial.trial_id} has no '{OBJECTIVE}' (status {trial.status}); metrics it logged: {metrics}. "
                "Check the validation data and the objective name."
            )
        rows.append({**{k: trial.hyperparameters.get(k) for k in ("num_basis", "kernel_size", "learning_rate")},
                     OBJECTIVE: float(trial.score)})
    if len(rows) < trials:
        raise RuntimeError(f"Only {len(rows)} of {trials} trials finished; see {out_dir}/search for the failed ones.")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tuning.json"), "w") as handle:
        json.dump(rows, handle, indent=2)
    with open(os.path.join(out_dir, "tuning.md"), "w") as handle:
        handle.write(format_table(rows) + "\n")
    return rows


def format_table(rows):
    """The tuning rows as a Markdown table."""
    lines = ["| num_basis | kernel_size | learning_rate | val PSNR (dB) |", "|---|---|---|---|"]
    lines += [f"| {r['num_basis']} | {r['kernel_size']} | {r['learning_rate']:g} | {r[OBJECTIVE]:.3f} |" for r in rows]
    return "\n".join(lines)
