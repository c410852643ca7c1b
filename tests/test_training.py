import csv
import json
import re
from pathlib import Path

import keras
import numpy as np
import pytest

from dml_keras.cli import main
from dml_keras.errors import SetupError
from dml_keras.data.pairs import split_pairs
from dml_keras.workflows.degradation import train_degradation
from tests.conftest import interrupt_at_epoch, make_hr_lr, run_info, run_settings


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
        train_degradation(**_args(tmp_path / "pairs", tmp_path / "run"), callbacks=[interrupt_at_epoch(2)])
    assert not (tmp_path / "run" / "model.keras").exists()
    recorder = _EpochRecorder()
    model = train_degradation(**_args(tmp_path / "pairs", tmp_path / "run"), callbacks=[recorder])
    assert recorder.epochs == [2]  # epochs 0 and 1 were kept, not redone
    with open(tmp_path / "run" / "history.csv") as handle:
        assert [int(row["epoch"]) for row in csv.DictReader(handle)] == [0, 1, 2]
    reloaded = keras.models.load_model(tmp_path / "run" / "model.keras")
    x = photos["rocket"][:32, :32, :1][None]
    np.testing.assert_allclose(reloaded(x), model(x), atol=1e-6)
    # it went on with the batches it would have drawn: the uninterrupted run, bit for bit
    whole = train_degradation(**_args(tmp_path / "pairs", tmp_path / "whole"))
    assert all((a == b).all() for a, b in zip(whole.get_weights(), model.get_weights()))
    with open(tmp_path / "run" / "history.csv") as cut, open(tmp_path / "whole" / "history.csv") as uncut:
        assert [row["loss"] for row in csv.DictReader(cut)] == [row["loss"] for row in csv.DictReader(uncut)]


def test_cli_train_then_evaluate_writes_design_json(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    status = main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--basis", "4",
                   "--kernel-size", "7", "--patch-size", "24", "--batch-size", "2", "--steps", "4",
                   "--steps-per-epoch", "2", "--val-fraction", "0.5", "--quiet"])
    assert status == 0
    assert run_settings(tmp_path / "run")["num_basis"] == 4 and len(run_info(tmp_path / "run")["val_pairs"]) == 2
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


def test_default_recipe_is_what_train_degradation_uses(tmp_path, photos):
    # no flag but the run length: every other setting is the default recipe's (the shipped model's, plus averaging)
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    assert main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"),
                 "--steps", "12", "--steps-per-epoch", "12", "--quiet"]) == 0
    settings = run_settings(tmp_path / "run")
    expected = dict(recipe="default", model="dml", num_basis=8, kernel_size=15, patch_size=64, batch_size=8,
                    learning_rate=1e-4, lr_schedule="constant", ema_steps=2, augment="dihedral", filters=32,
                    basis_initializer="gaussian", weight_init="uniform_mix", channels="y", lr_size="same")
    assert {k: settings[k] for k in expected} == expected
    shipped = keras.models.load_model(Path(__file__).resolve().parents[1] / "saved_models" / "dml_realsr_x4.keras")
    shipped = shipped.get_config()
    assert (shipped["basis_initializer"], shipped["weight_init"], shipped["num_basis"]) == ("gaussian", "uniform_mix", 8)


@pytest.mark.parametrize("recipe, flags, expected", [
    # the authors' setting: no averaging, left-right and up-down flips, 32 channels
    ("paper", [], (16, "uniform", "half", 500, 0, "flips", 32)),
    # the default's start, averaged over a sixth of 12 steps, 64 channels; crops as photographed, as asked
    ("large", ["--augment", "none"], (16, "gaussian", "uniform_mix", 500, 2, "none", 64)),
    ("large", ["--filters", "8"], (16, "gaussian", "uniform_mix", 500, 2, "dihedral", 8)),
])
def test_other_recipes_are_one_flag_away_and_flags_override_them(tmp_path, photos, recipe, flags, expected):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    assert main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--recipe", recipe,
                 "--steps", "12", "--patch-size", "32", "--basis", "4", "--kernel-size", "7", "--quiet", *flags]) == 0
    settings = run_settings(tmp_path / "run")
    assert settings["recipe"] == recipe
    assert (settings["batch_size"], settings["basis_initializer"], settings["weight_init"],
            settings["steps_per_epoch"], settings["ema_steps"], settings["augment"], settings["filters"]) == expected
    assert (settings["patch_size"], settings["num_basis"], settings["steps"]) == (32, 4, 12)
    model = keras.models.load_model(tmp_path / "run" / "model.keras")
    assert model.predictor.filters == expected[-1]
    assert model.predictor.head.kernel.shape == (3, 3, 1, expected[-1])


@pytest.mark.parametrize("model, option, recipe, flags, expected", [
    ("directkpn", "kernel_init", "default", [], "gaussian"), ("directkpn", "kernel_init", "paper", [], "random"),
    ("directkpn", "kernel_init", "paper", ["--kernel-init", "gaussian"], "gaussian"),
    ("directnet", "residual_on", "default", [], "blur"), ("directnet", "residual_on", "paper", [], "hr"),
    ("directnet", "residual_on", "default", ["--residual-on", "hr"], "hr")])
def test_baselines_start_where_the_recipe_says(tmp_path, photos, model, option, recipe, flags, expected):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    assert main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--model", model,
                 "--recipe", recipe, "--steps", "2", "--patch-size", "32", "--batch-size", "2", "--kernel-size", "7",
                 "--filters", "8", "--quiet", *flags]) == 0
    assert run_settings(tmp_path / "run")[option] == expected
    assert getattr(keras.models.load_model(tmp_path / "run" / "model.keras"), option) == expected


@pytest.mark.parametrize("flag, option, value, owner, other", [
    ("--kernel-init", "kernel_init", "random", "directkpn", "directnet"),
    ("--residual-on", "residual_on", "hr", "directnet", "directkpn")])
def test_a_baselines_start_is_its_own(tmp_path, photos, capsys, flag, option, value, owner, other):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    message = f"{option} ({flag}) is {owner}'s alone"
    assert main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"),
                 flag, value, "--steps", "1"]) == 2
    assert message + "; dml takes none" in capsys.readouterr().err
    for model in (other, "global-kernel"):  # refused before any work, the closed-form kernel included
        with pytest.raises(SetupError, match=re.escape(f"{message}; {model} takes none")):
            train_degradation(tmp_path / "pairs", tmp_path / model, model=model, steps=1, **{option: value})
        assert not (tmp_path / model).exists()


def test_the_ownership_table_is_the_models_constructors():
    import inspect

    from dml_keras.names import DEGRADATION_MODELS
    from dml_keras.workflows.degradation import build_degradation_model
    from dml_keras.specs.recipes import MODEL_ONLY, takes

    classes = {name: type(build_degradation_model(name, scale=4)) for name in DEGRADATION_MODELS}
    for option in MODEL_ONLY:
        for name, cls in classes.items():
            assert takes(name, option) == (option in inspect.signature(cls.__init__).parameters), (name, option)


@pytest.mark.parametrize("flags, option, message", [
    (["--model", "directnet", "--basis", "4"], dict(num_basis=4),
     "num_basis (--basis) is dml's alone; directnet takes none"),
    (["--model", "directkpn", "--tone-offset"], dict(tone_offset=True),
     "tone_offset (--tone-offset) is dml's alone; directkpn takes none"),
    (["--model", "global-kernel", "--filters", "8"], dict(filters=8),
     "filters (--filters) is dml's, directnet's and directkpn's; global-kernel takes none")])
def test_an_option_of_another_model_is_one_line_naming_its_flag(tmp_path, photos, capsys, flags, option, message):
    # the CLI and the library refuse it alike (one table, one error class), before any work
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    assert main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), *flags]) == 2
    assert capsys.readouterr().err.strip() == f"error: {message}, drop it"
    with pytest.raises(SetupError, match=re.escape(message)):
        train_degradation(tmp_path / "pairs", tmp_path / "run", model=flags[1], steps=1, **option)
    assert not (tmp_path / "run").exists()


def test_global_kernel_is_fitted_in_closed_form(tmp_path, photos):
    # pairs made by a known kernel: the CLI's global kernel finds it without a single step
    from scipy.ndimage import correlate

    from dml_keras.data import write_image

    yy, xx = np.mgrid[-3:4, -3:4]
    kernel = np.exp(-(xx**2) / 2.0 - yy**2 / 0.8)
    kernel /= kernel.sum()
    for name in ("coffee", "chelsea", "rocket"):
        hr = photos[name][:120, :160]
        write_image(tmp_path / "pairs" / "hr" / f"{name}.png", hr)
        # 16-bit PNG keeps the blurred LR exact enough for a 1e-2 recovery
        lr = np.stack([correlate(hr[..., c].astype(np.float64), kernel, mode="mirror") for c in range(3)], -1)
        write_image(tmp_path / "pairs" / "lr" / f"{name}.png", lr, bit_depth=16)
    assert main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--model", "global-kernel",
                 "--kernel-size", "7", "--scale", "2", "--val-fraction", "0.34", "--quiet"]) == 0
    record = run_info(tmp_path / "run")
    assert record["solver"] == "least_squares" and len(record["train_pairs"]) == 2
    assert record["val_psnr"] > 45  # the held-out photo, blurred by the same kernel, is reproduced
    found = keras.models.load_model(tmp_path / "run" / "model.keras").kernel.kernels.numpy()[..., 0]
    np.testing.assert_allclose(found, kernel, atol=1e-2)


def test_cosine_schedule_ends_at_zero(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    train_degradation(**dict(_args(tmp_path / "pairs", tmp_path / "run"), steps=4), lr_schedule="cosine",
                      learning_rate=1e-3)
    assert run_settings(tmp_path / "run")["lr_schedule"] == "cosine"
    optimizer = keras.models.load_model(tmp_path / "run" / "checkpoints" / "last.keras").optimizer
    assert int(optimizer.iterations) == 4
    assert float(optimizer.learning_rate) == pytest.approx(0.0, abs=1e-12)


class _WeightRecorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.steps = []

    def on_train_batch_end(self, batch, logs=None):
        self.steps.append([w.numpy().copy() for w in self.model.trainable_weights])


def test_ema_saves_the_moving_average_of_the_weights(tmp_path, photos):
    # the average computed here by hand from the weights after every step; the first step starts it
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    recorder = _WeightRecorder()
    model = train_degradation(**dict(_args(tmp_path / "pairs", tmp_path / "run"), steps=5), ema_steps=4,
                              learning_rate=1e-2, callbacks=[recorder])
    assert run_settings(tmp_path / "run")["ema_steps"] == 4
    average = recorder.steps[0]
    for weights in recorder.steps[1:]:
        average = [0.75 * a + 0.25 * w for a, w in zip(average, weights)]
    saved = keras.models.load_model(tmp_path / "run" / "model.keras")
    moved = max(np.abs(w - a).max() for w, a in zip(recorder.steps[-1], average))
    assert moved > 1e-3  # the average is not the last step's weights
    for got, want in zip(saved.trainable_weights, average):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
    for got, want in zip(model.trainable_weights, average):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)


def test_interrupted_ema_training_resumes_its_average(tmp_path, photos):
    # the average after a resume still holds the steps before the interruption
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    before, after = _WeightRecorder(), _WeightRecorder()
    with pytest.raises(KeyboardInterrupt):
        train_degradation(**_args(tmp_path / "pairs", tmp_path / "run"), ema_steps=4, learning_rate=1e-2,
                          callbacks=[before, interrupt_at_epoch(2)])
    model = train_degradation(**_args(tmp_path / "pairs", tmp_path / "run"), ema_steps=4, learning_rate=1e-2,
                              callbacks=[after])
    assert (len(before.steps), len(after.steps)) == (4, 2)
    steps = before.steps + after.steps
    average = steps[0]
    for weights in steps[1:]:
        average = [0.75 * a + 0.25 * w for a, w in zip(average, weights)]
    for got, want in zip(model.trainable_weights, average):
        np.testing.assert_allclose(got.numpy(), want, atol=1e-6)
