import csv
import json

import keras
import numpy as np
import pytest

from dml_keras.cli import main
from dml_keras.training import split_pairs, train_degradation
from tests.data.test_pairs import make_hr_lr


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt


class _EpochRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.epochs = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append(epoch)


def _args(pairs, out):
    return dict(pairs=pairs, out_dir=out, num_basis=4, kernel_size=7, patch_size=24, batch_size=2,
                steps=6, steps_per_epoch=2, seed=0, verbose=0)


def test_interrupted_training_resumes_where_it_stopped(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    with pytest.raises(KeyboardInterrupt):
        train_degradation(**_args(tmp_path / "pairs", tmp_path / "run"), callbacks=[_Interrupt(2)])
    assert not (tmp_path / "run" / "model.keras").exists()
    recorder = _EpochRecorder()
    model = train_degradation(**_args(tmp_path / "pairs", tmp_path / "run"), callbacks=[recorder])
    assert recorder.epochs == [2]  # epochs 0 and 1 were kept, not redone
    with open(tmp_path / "run" / "history.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]
    reloaded = keras.models.load_model(tmp_path / "run" / "model.keras")
    x = photos["rocket"][:32, :32, :1][None]
    np.testing.assert_allclose(reloaded(x), model(x), atol=1e-6)


def test_cli_train_then_evaluate_writes_design_json(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    status = main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--basis", "4",
                   "--kernel-size", "7", "--patch-size", "24", "--batch-size", "2", "--steps", "4",
                   "--steps-per-epoch", "2", "--val-fraction", "0.5", "--quiet"])
    assert status == 0
    settings = json.loads((tmp_path / "run" / "training.json").read_text())
    assert settings["num_basis"] == 4 and len(settings["val_pairs"]) == 2
    assert (tmp_path / "run" / "logs").is_dir() and (tmp_path / "run" / "checkpoints" / "last.keras").exists()
    out = tmp_path / "scores.json"
    assert main(["evaluate-degradation", str(tmp_path / "run" / "model.keras"), str(tmp_path / "pairs"), "--json", str(out)]) == 0
    scores = json.loads(out.read_text())
    assert scores["count"] == 4 and len(scores["per_image"]) == 4
    assert np.isfinite(scores["psnr"]) and 0 < scores["ssim"] <= 1


def test_split_pairs_is_evenly_spaced_and_disjoint():
    train, val = split_pairs(list(range(50)), 0.2)
    assert len(val) == 10 and not set(train) & set(val) and len(train) == 40


def test_truncated_file_found_during_training_is_reported_by_name(tmp_path, photos, capsys):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    path = tmp_path / "pairs" / "lr" / "chelsea.png"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 200])  # header intact, pixels cut
    status = main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--basis", "2",
                   "--kernel-size", "5", "--patch-size", "24", "--batch-size", "4", "--steps", "4",
                   "--steps-per-epoch", "2", "--quiet"])
    assert status == 2
    err = capsys.readouterr().err
    assert "chelsea.png" in err and "not a readable image" in err
