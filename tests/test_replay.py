"""A run's spec.json replays it (`--config`), flags given as well override single values; the training.json of
runs from before spec.json replays too."""

import json

import keras
import numpy as np

from dml_keras.cli import main
from tests.conftest import make_hr_lr, needs_tensorflow, run_settings

pytestmark = needs_tensorflow  # both trainers read their crops with tf.data


def _weights(run):
    return keras.models.load_model(run / "model.keras").get_weights()


def _settings(run):
    return json.loads((run / "spec.json").read_text())


def test_train_degradation_config_replays_the_run_and_flags_override(tmp_path, photos, monkeypatch):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    assert main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--basis", "4",
                 "--steps", "6", "--steps-per-epoch", "3", "--batch-size", "2", "--patch-size", "32",
                 "--filters", "8", "--val-fraction", "0.25", "--seed", "3", "--quiet"]) == 0
    monkeypatch.chdir(tmp_path / "run")  # the data are found from anywhere: spec.json holds absolute paths
    assert main(["train-degradation", "--config", "spec.json", "--out", str(tmp_path / "again"), "--quiet"]) == 0
    first, again = _settings(tmp_path / "run"), _settings(tmp_path / "again")
    assert again == first and first["network"]["num_basis"] == 4 and first["data"]["val_fraction"] == 0.25
    for a, b in zip(_weights(tmp_path / "run"), _weights(tmp_path / "again")):
        np.testing.assert_array_equal(a, b)
    assert main(["train-degradation", "--config", "spec.json", "--out", str(tmp_path / "shorter"), "--steps", "3",
                 "--quiet"]) == 0
    shorter = _settings(tmp_path / "shorter")
    assert shorter["schedule"].pop("steps") == 3 and first["schedule"].pop("steps") == 6 and shorter == first
    # a run from before spec.json recorded its flat settings, and how it ran, in training.json: it replays too
    legacy = dict(model="dml", recipe="default", scale=4, kernel_size=15, channels="y", lr_size="same", patch_size=32,
                  batch_size=2, steps=6, steps_per_epoch=3, learning_rate=1e-4, lr_schedule="constant",
                  ema_steps=again["average"]["ema_steps"],
                  augment="dihedral", pairs_source=str(tmp_path / "pairs"), val_source=None, val_fraction=0.25,
                  train_pairs=["a", "b", "c"], val_pairs=["d"], num_basis=4, filters=8, seed=3, replicas=1,
                  workers=1, precision="float32", jit_compile=False, backend="tensorflow")
    (tmp_path / "training.json").write_text(json.dumps(legacy))
    assert main(["train-degradation", "--config", str(tmp_path / "training.json"), "--out", str(tmp_path / "old"),
                 "--quiet"]) == 0
    assert _settings(tmp_path / "old") == again
    for a, b in zip(_weights(tmp_path / "run"), _weights(tmp_path / "old")):
        np.testing.assert_array_equal(a, b)


def test_train_sr_config_replays_the_run(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=True)
    assert main(["train-sr", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--lr-size", "native",
                 "--depth", "3", "--filters", "8", "--steps", "4", "--steps-per-epoch", "2", "--batch-size", "2",
                 "--patch-size", "32", "--val", str(tmp_path / "pairs"), "--seed", "1", "--quiet"]) == 0
    config = tmp_path / "run" / "spec.json"
    assert main(["train-sr", "--config", str(config), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    assert _settings(tmp_path / "again") == _settings(tmp_path / "run")
    for a, b in zip(_weights(tmp_path / "run"), _weights(tmp_path / "again")):
        np.testing.assert_array_equal(a, b)


def test_a_config_of_the_other_family_or_with_an_unknown_key_is_one_line(tmp_path, capsys):
    (tmp_path / "sr.json").write_text(json.dumps({"arch": "vdsr", "steps": 3}))
    assert main(["train-degradation", "--config", str(tmp_path / "sr.json"), "--out", str(tmp_path / "x")]) == 2
    assert "not the training.json of a train-degradation run" in capsys.readouterr().err
    (tmp_path / "typo.json").write_text(json.dumps({"arch": "vdsr", "stesp": 3}))
    assert main(["train-sr", "--config", str(tmp_path / "typo.json"), "--out", str(tmp_path / "y")]) == 2
    assert "key 'stesp' is not a setting of dml train-sr" in capsys.readouterr().err


def test_train_sr_recipes_default_to_the_best_measured_and_keep_the_papers(tmp_path, photos):
    from dml_keras.data.io import write_image
    from tests.conftest import hr_lr

    for name, photo in photos.items():
        hr, lr = hr_lr(photo, size=128, native=True)
        write_image(tmp_path / "pairs" / "hr" / f"{name}.png", hr)
        write_image(tmp_path / "pairs" / "lr" / f"{name}.png", lr)
    for recipe, expected in (("default", ("native", 96, 2e-4, 12)), ("paper", ("same", 48, 1e-4, 20))):
        flags = [] if recipe == "default" else ["--recipe", "paper"]
        assert main(["train-sr", str(tmp_path / "pairs"), "--out", str(tmp_path / recipe), "--steps", "1",
                     "--batch-size", "1", "--quiet", *flags]) == 0
        settings = run_settings(tmp_path / recipe)
        assert (settings["lr_size"], settings["patch_size"], settings["learning_rate"], settings["depth"]) == expected
        assert keras.models.load_model(tmp_path / recipe / "model.keras").lr_size == expected[0]
