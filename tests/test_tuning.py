import json

import pytest

from dml_keras.cli import main
from dml_keras.workflows.tuning import tune_degradation
from tests.conftest import make_hr_lr


def test_tune_ranks_every_choice_by_validation_psnr(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    assert main(["tune", str(tmp_path / "pairs"), "--out", str(tmp_path / "tune"), "--basis", "2,4",
                 "--kernel-sizes", "5", "--patch-size", "24", "--batch-size", "2", "--steps", "3",
                 "--val-fraction", "0.5"]) == 0
    rows = json.loads((tmp_path / "tune" / "tuning.json").read_text())
    assert sorted(r["num_basis"] for r in rows) == [2, 4]
    assert rows[0]["val_psnr"] >= rows[1]["val_psnr"]
    assert "| num_basis |" in (tmp_path / "tune" / "tuning.md").read_text()


def test_wrong_objective_fails_loudly(tmp_path, photos, monkeypatch):
    import dml_keras.workflows.tuning as tuning

    make_hr_lr(tmp_path / "pairs", photos, native=False)
    monkeypatch.setattr(tuning, "OBJECTIVE", "val_not_a_metric")
    with pytest.raises(RuntimeError, match="val_not_a_metric"):
        tune_degradation(tmp_path / "pairs", tmp_path / "tune", num_basis=(2,), kernel_sizes=(5,), patch_size=24,
                         batch_size=2, steps=2, val_fraction=0.5)
