"""A grid search over DML's settings (number of basis kernels, kernel size, learning rate): every trial is a
`train-degradation` run of the same spec but for the searched settings, trained by `train_degradation` (so on
any backend, resumable, the same recipe) and scored by its validation PSNR at its final checkpoint."""

import csv
import itertools
import json
import os

from dml_keras.data.files import atomic_file, write_json
from dml_keras.data.pairs import resolve_pairs, split_pairs
from dml_keras.errors import DataError, SetupError
from dml_keras.specs.degradation import DegradationRun
from dml_keras.specs.recipes import TUNE_TRIAL
from dml_keras.workflows.degradation import train_degradation

OBJECTIVE = "val_psnr"
SEARCHED = ("num_basis", "kernel_size", "learning_rate")


def tune_degradation(pairs, out_dir, num_basis=(4, 8, 16), kernel_sizes=(15,), learning_rates=(1e-4,), *,
                     verbose=0, **settings):
    """Train one DML per combination of the choices into `out_dir/TRIAL/` and rank them by validation PSNR
    (the held-out whole images, the weight average at the last step).

    `settings`: the flat settings of `specs.DegradationRun` shared by every trial (`steps`, `patch_size`,
    `val_pairs`, `seed`, …); unset ones come from `specs.recipes.TUNE_TRIAL`, then the default recipe. A
    finished trial (its `model.keras` and the same `spec.json`) is not trained again, and an interrupted one
    resumes, so a search that stops goes on where it stopped when called again.

    Returns:
        list of `{"num_basis", "kernel_size", "learning_rate", "val_psnr", "run"}`, best first; also written to
        `out_dir/tuning.json`, and as a Markdown table to `out_dir/tuning.md`.
    """
    base = DegradationRun.of(pairs=pairs, **{**TUNE_TRIAL, **settings}).resolved()
    if base.network.model != "dml":
        raise SetupError(f"dml tune searches DML's settings; --model {base.network.model} has no basis to search")
    if base.data.val_pairs is None:
        train_pairs, val_pairs = split_pairs(resolve_pairs(pairs, base.geometry.scale), base.data.val_fraction)
        if not val_pairs or not train_pairs:
            raise DataError(
                f"Tuning holds out a fraction of the pairs for validation (--val-fraction {base.data.val_fraction}), "
                f"and {len(train_pairs) + len(val_pairs)} pair(s) of '{pairs}' leave none to train or none to score "
                "on. Give more pairs, or a --val-fraction above 0 that leaves both.")
    rows = []
    for choice in itertools.product(num_basis, kernel_sizes, learning_rates):
        spec = base
        for name, value in zip(SEARCHED, choice):
            spec = spec.set(name, value)
        spec = spec.resolved()
        run = "basis{}_kernel{}_rate{:g}".format(*choice)
        folder = os.path.join(out_dir, run)
        if not _finished(folder, spec):
            train_degradation(out_dir=folder, spec=spec, verbose=verbose)
        rows.append({**dict(zip(SEARCHED, choice)), OBJECTIVE: _final_score(folder), "run": run})
    rows.sort(key=lambda row: -row[OBJECTIVE])
    write_json(os.path.join(out_dir, "tuning.json"), rows)
    with atomic_file(os.path.join(out_dir, "tuning.md"), "w") as handle:
        handle.write(format_table(rows) + "\n")
    return rows


def _finished(folder, spec):
    try:
        with open(os.path.join(folder, "spec.json")) as handle:
            recorded = json.load(handle)
    except (OSError, ValueError):
        return False
    return recorded == spec.to_dict() and os.path.exists(os.path.join(folder, "model.keras"))


def _final_score(folder):
    """The last epoch's validation PSNR in the trial's `history.csv`."""
    path = os.path.join(folder, "history.csv")
    with open(path, newline="") as handle:
        epochs = list(csv.DictReader(handle))
    if not epochs or not epochs[-1].get(OBJECTIVE):
        logged = sorted(epochs[-1]) if epochs else []
        raise RuntimeError(f"'{path}' has no '{OBJECTIVE}' at its last epoch; it logged: {logged}")
    return float(epochs[-1][OBJECTIVE])


def format_table(rows):
    """The tuning rows as a Markdown table."""
    lines = ["| num_basis | kernel_size | learning_rate | val PSNR (dB) |", "|---|---|---|---|"]
    lines += [f"| {r['num_basis']} | {r['kernel_size']} | {r['learning_rate']:g} | {r[OBJECTIVE]:.3f} |" for r in rows]
    return "\n".join(lines)
