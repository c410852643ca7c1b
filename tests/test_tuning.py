import json
import os

import pytest

from dml_keras.cli import main
from dml_keras.errors import SetupError
from dml_keras.workflows.tuning import tune_degradation
from tests.conftest import make_hr_lr

FLAGS = ["--kernel-sizes", "5", "--patch-size", "24", "--batch-size", "2", "--steps", "3", "--val-fraction", "0.5"]


def test_tune_trains_one_run_per_choice_and_ranks_them_by_validation_psnr(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    out = tmp_path / "tune"
    assert main(["tune", str(tmp_path / "pairs"), "--out", str(out), "--basis", "2,4", *FLAGS]) == 0
    rows = json.loads((out / "tuning.json").read_text())
    assert sorted(r["num_basis"] for r in rows) == [2, 4]
    assert rows[0]["val_psnr"] >= rows[1]["val_psnr"] > 10
    assert "| num_basis |" in (out / "tuning.md").read_text()
    for row in rows:  # each trial is a train-degradation run of the flags given, but for the searched setting
        spec = json.loads((out / row["run"] / "spec.json").read_text())
        assert (spec["network"]["num_basis"], spec["network"]["kernel_size"]) == (row["num_basis"], 5)
        assert (spec["crops"]["patch_size"], spec["schedule"]["steps"], spec["data"]["val_fraction"]) == (24, 3, 0.5)
        assert spec["optimization"]["learning_rate"] == row["learning_rate"] == 1e-4
    # called again, the finished trials are kept, not trained again, and rank the same
    models = {row["run"]: os.stat(out / row["run"] / "model.keras").st_mtime_ns for row in rows}
    assert main(["tune", str(tmp_path / "pairs"), "--out", str(out), "--basis", "2,4", *FLAGS]) == 0
    assert json.loads((out / "tuning.json").read_text()) == rows
    assert {run: os.stat(out / run / "model.keras").st_mtime_ns for run in models} == models


def test_a_trial_without_the_objective_fails_loudly(tmp_path, photos, monkeypatch):
    import dml_keras.workflows.tuning as tuning

    make_hr_lr(tmp_path / "pairs", photos, native=False)
    monkeypatch.setattr(tuning, "OBJECTIVE", "val_not_a_metric")
    with pytest.raises(RuntimeError, match="val_not_a_metric"):
        tune_degradation(tmp_path / "pairs", tmp_path / "tune", num_basis=(2,), kernel_sizes=(5,), patch_size=24,
                         batch_size=2, steps=2, val_fraction=0.5)


def test_tune_searches_dml_only(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    with pytest.raises(SetupError, match="searches DML"):
        tune_degradation(tmp_path / "pairs", tmp_path / "tune", model="directnet", steps=2)
