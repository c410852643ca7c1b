"""The typed run spec of `dml train-sr` (`specs.SRRun`): built from flat settings or a file, checked and filled
once, written into the run folder, replayed by `--config` and varied by `--set`."""

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from dml_keras.cli import _NOT_SETTINGS, _SPEC_FLAGS, build_parser, main
from dml_keras.errors import SetupError
from dml_keras.specs.sr import PATHS, SRRun
from tests.conftest import make_hr_lr, needs_tensorflow


def test_specs_import_no_keras():
    code = "import sys, dml_keras.specs; print(sorted(m for m in sys.modules if m.split('.')[0] in ('keras', 'tensorflow', 'jax')))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_every_flag_of_a_command_with_a_spec_is_one_setting_of_its_spec_and_back():
    from dml_keras.specs.degradation import PATHS as DEGRADATION_PATHS
    from dml_keras.specs.synthesis import PATHS as SYNTHESIS_PATHS

    for command, paths, without_flag in (("train-sr", PATHS, {"reduction", "residual_scale"}),
                                         ("train-degradation", DEGRADATION_PATHS, set()),
                                         ("synthesize", SYNTHESIS_PATHS, set())):
        parser = build_parser().commands[command]
        dests = {action.dest for action in parser._actions if action.dest != "help"}
        settings = {_SPEC_FLAGS[command].get(dest, dest) for dest in dests - (_NOT_SETTINGS - set(_SPEC_FLAGS[command]))}
        assert settings <= set(paths), command
        # the settings without a flag are the SR networks' rarer sizes, reachable with --set
        assert set(paths) - settings == without_flag, command


def test_fine_tuning_a_published_generator_is_filled_from_its_recipe_and_resolving_again_changes_nothing():
    spec = SRRun.of(pairs="pairs", arch="rrdb", loss="gan", init="realesrgan_x4plus").resolved()
    assert (spec.crops.patch_size, spec.crops.batch_size, spec.schedule.steps, spec.schedule.steps_per_epoch) == (
        128, 4, 250, 125)
    assert (spec.optimization.learning_rate, spec.average.ema_decay, spec.start.d_warmup, spec.start.tune_blocks,
            spec.objective.color_weight) == (1e-4, 0.99, 50, 4, 1.0)
    assert (spec.geometry.channels, spec.geometry.lr_size) == ("rgb", "native")
    assert spec.resolved() == spec
    # bfloat16 where it pays on this machine (measured when the run starts); every other run in float32
    assert spec.execution.mixed_precision == "auto"
    assert SRRun.of(pairs="p", arch="rrdb", loss="gan", init="x", mixed_precision=False).resolved(
        ).execution.mixed_precision is False
    assert SRRun.of(pairs="p").resolved().execution.mixed_precision is False
    from dml_keras.cli import spec_of_command

    command = ["train-sr", "p", "--arch", "rrdb", "--loss", "gan", "--init", "x", "--out", "o"]
    assert [spec_of_command(command + flag).execution.mixed_precision
            for flag in ([], ["--mixed-precision"], ["--no-mixed-precision"])] == ["auto", True, False]
    assert spec_of_command(["train-degradation", "p", "--out", "o"]).execution.mixed_precision is False
    # a value given wins over the recipe's
    assert SRRun.of(pairs="p", arch="rrdb", loss="gan", init="x", steps=40).resolved().schedule.steps == 40
    # fine-tuning compares with the HR as it is; Real-ESRGAN's own stages, and --sharpen, with the sharpened HR
    assert spec.objective.sharpen is False
    assert SRRun.of(pairs="p", arch="rrdb", loss="gan", init="x", sharpen=True).resolved().objective.sharpen is True
    assert SRRun.of(pairs="p", arch="rrdb", loss="gan", num_blocks=2).resolved().objective.sharpen is True
    vdsr = SRRun.of(pairs="p").resolved()
    assert (vdsr.network.sizes, vdsr.crops.batch_size, vdsr.geometry.channels, vdsr.optimization.learning_rate) == (
        {"depth": 12}, 16, "y", 2e-4)
    assert SRRun.of(pairs="p", recipe="paper").resolved().network.sizes == {"depth": 20}


def test_the_spec_file_holds_the_spec_and_refuses_what_is_not_one():
    spec = SRRun.of(pairs="/data/pairs", arch="rcan", num_groups=2, noise_sigma=(1.0, 5.0),
                    degradation="bicubic", hr_dir="/data/hr").resolved()
    written = json.loads(json.dumps(spec.to_dict()))
    assert written["network"] == {"arch": "rcan", "sizes": {"num_groups": 2}}
    assert written["data"]["degradation"] == "bicubic" and written["data"]["pairs"] == "/data/pairs"
    assert SRRun.from_dict(written) == spec
    with pytest.raises(SetupError, match="is not a train-sr spec"):
        SRRun.from_dict({"arch": "vdsr"})
    with pytest.raises(SetupError, match="'optimiser' is not a part"):
        SRRun.from_dict({**written, "optimiser": {}})


@pytest.mark.parametrize("settings, message", [
    (dict(pairs="p", stesp=3), "'stesp' is not a setting of train-sr"),
    (dict(pairs="p", arch="vdsr", growth=8), "vdsr does not take growth. It takes: depth, filters"),
    (dict(pairs="p", arch="vdsr", tune_blocks=2), "--tune-blocks chooses blocks to train: it is for --arch rrdb"),
    # fine-tuning's recipe trains the last RRDB blocks: a VDSR started from a model with --loss gan cannot take it
    (dict(pairs="p", loss="gan", init="run"), "--tune-blocks chooses blocks to train: it is for --arch rrdb"),
    (dict(pairs="p", d_warmup=5), "--d-warmup and --init-d train the discriminator"),
    (dict(pairs="p", arch="rrdb", loss="l2"), "Real-ESRGAN's recipe trains with 'l1' then 'gan'"),
    (dict(pairs="p", arch="rrdb", lr_size="same"), "runs on the small LR"),
    (dict(pairs="p", loss="gan", channels="y"), "use --channels rgb"),
    (dict(degradation="bicubic"), "needs --hr-dir"),
    (dict(), "Give real pairs"),
    (dict(pairs="p", degradation="bicubic", hr_dir="h", synthesis="in-step"), "--synthesis in-step"),
])
def test_a_run_that_cannot_run_is_one_setup_error_naming_the_flag(settings, message):
    with pytest.raises(SetupError, match=message):
        SRRun.of(**settings).resolved()


def test_set_reaches_every_setting_by_path_or_name():
    spec = SRRun.of(pairs="p")
    assert spec.set("crops.patch_size", 64).crops.patch_size == 64
    assert spec.set("network.sizes.filters", 8).set("depth", 3).network.sizes == {"filters": 8, "depth": 3}
    assert spec.set("synthesis", "in-step").synthesis.where == "in-step"
    with pytest.raises(SetupError, match="'crops.patch' is not a setting"):
        spec.set("crops.patch", 64)


@needs_tensorflow
def test_spec_json_replays_the_run_bit_for_bit_and_set_varies_one_setting(tmp_path, photos, capsys):
    import keras

    make_hr_lr(tmp_path / "pairs", photos, native=True)
    assert main(["train-sr", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--depth", "3",
                 "--filters", "8", "--steps", "4", "--steps-per-epoch", "2", "--batch-size", "2",
                 "--patch-size", "32", "--seed", "1", "--quiet"]) == 0
    spec = tmp_path / "run" / "spec.json"
    assert main(["train-sr", "--config", str(spec), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    assert (tmp_path / "again" / "spec.json").read_text() == spec.read_text()
    weights = [keras.models.load_model(tmp_path / run / "model.keras").get_weights() for run in ("run", "again")]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    assert main(["train-sr", "--config", str(spec), "--out", str(tmp_path / "longer"), "--set", "schedule.steps=6",
                 "--set", "network.sizes.filters=4", "--quiet"]) == 0
    first, longer = (json.loads((tmp_path / run / "spec.json").read_text()) for run in ("run", "longer"))
    assert (longer["schedule"]["steps"], longer["network"]["sizes"]["filters"]) == (6, 4)
    longer["schedule"]["steps"], longer["network"]["sizes"]["filters"] = 4, 8
    assert longer == first
    assert keras.models.load_model(tmp_path / "longer" / "model.keras").filters == 4
    capsys.readouterr()
    assert main(["train-sr", "--config", str(spec), "--out", str(tmp_path / "bad"), "--set", "schedule.steps=-1"]) == 2
    assert capsys.readouterr().err.strip() == "error: --steps must be at least 1, not -1"
    assert main(["train-sr", "--config", str(spec), "--out", str(tmp_path / "bad"), "--set", "crops.size=3"]) == 2
    assert capsys.readouterr().err.startswith("error: --set 'crops.size=3': give PATH=VALUE")


def test_a_degradation_run_is_filled_from_its_recipe_and_owns_its_options():
    from dml_keras.specs import DegradationRun

    spec = DegradationRun.of(pairs="p").resolved()
    assert (spec.crops.patch_size, spec.crops.batch_size, spec.crops.augment, spec.schedule.steps,
            spec.schedule.steps_per_epoch, spec.average.ema_steps) == (64, 8, "dihedral", 3000, 250, 500)
    assert (spec.optimization.learning_rate, spec.optimization.lr_schedule) == (1e-4, "constant")
    assert spec.model_options() == dict(num_basis=8, filters=32, basis_initializer="gaussian",
                                        weight_init="uniform_mix", seed=0)
    assert spec.resolved() == spec
    paper = DegradationRun.of(pairs="p", recipe="paper", model="directnet", steps=600).resolved()
    assert (paper.schedule.steps, paper.average.ema_steps, paper.crops.augment, paper.network.residual_on,
            paper.network.num_basis) == (600, 0, "flips", "hr", None)
    with pytest.raises(SetupError, match=r"num_basis \(--basis\) is dml's alone; directkpn takes none"):
        DegradationRun.of(pairs="p", model="directkpn", num_basis=4).resolved()
    with pytest.raises(SetupError, match="lr_schedule"):
        DegradationRun.of(pairs="p", lr_schedule="step").resolved()
    assert DegradationRun.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec.set("pairs", spec.to_dict()["data"]["pairs"])


@needs_tensorflow
def test_a_degradation_spec_json_replays_its_run_bit_for_bit(tmp_path, photos):
    import keras

    make_hr_lr(tmp_path / "pairs", photos, native=False)
    assert main(["train-degradation", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"), "--basis", "2",
                 "--kernel-size", "5", "--filters", "4", "--steps", "2", "--steps-per-epoch", "1", "--batch-size",
                 "2", "--patch-size", "24", "--seed", "2", "--quiet"]) == 0
    assert main(["train-degradation", "--config", str(tmp_path / "run" / "spec.json"), "--out",
                 str(tmp_path / "again"), "--quiet"]) == 0
    assert (tmp_path / "again" / "spec.json").read_text() == (tmp_path / "run" / "spec.json").read_text()
    weights = [keras.models.load_model(tmp_path / run / "model.keras").get_weights() for run in ("run", "again")]
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)
    spec = json.loads((tmp_path / "run" / "spec.json").read_text())
    # the recipe's "auto" average is written as the span it became: a sixth of 2 steps, at least 1
    assert (spec["network"]["num_basis"], spec["average"]["ema_steps"], spec["crops"]["augment"]) == (2, 1, "dihedral")


def test_a_synthesis_spec_json_replays_the_pairs_byte_for_byte_and_set_varies_them(tmp_path, photos):
    from dml_keras.data.io import write_image
    from dml_keras.specs import SynthesisRun, read_spec

    for name in ("astronaut", "coffee"):
        write_image(tmp_path / "hr" / f"{name}.png", photos[name][:96, :128])
    assert main(["synthesize", "bicubic", str(tmp_path / "hr"), "--out", str(tmp_path / "a"), "--noise-sigma", "0,5",
                 "--seed", "3", "--no-quantize"]) == 0
    spec = read_spec(tmp_path / "a")
    assert type(spec) is SynthesisRun and spec.get("noise_sigma") == (0.0, 5.0) and spec.output.quantize is False
    assert spec.source.hr_dir == str(tmp_path / "hr") and spec.source.scale == 4
    config = str(tmp_path / "a" / "spec.json")
    assert main(["synthesize", "--config", config, "--out", str(tmp_path / "b")]) == 0
    assert main(["synthesize", "--config", config, "--out", str(tmp_path / "c"), "--set", "noise.seed=4"]) == 0
    for name in ("astronaut.png", "coffee.png"):
        first = (tmp_path / "a" / "lr" / name).read_bytes()
        assert (tmp_path / "b" / "lr" / name).read_bytes() == first  # 16-bit LR with the same noise draws
        assert (tmp_path / "c" / "lr" / name).read_bytes() != first  # another seed, other draws
    assert read_spec(tmp_path / "c").noise.seed == 4 and read_spec(tmp_path / "b") == spec.set("out_dir", str(tmp_path / "b"))


@pytest.mark.parametrize("argv, message", [
    (["bicubic", "HR", "--tile", "0"], "--tile must be at least 1"),
    (["bicubic", "--out", "X"], "Give the degradation model (MODEL), the clean photos (HR_DIR) and --out"),
    (["bicubic", "HR", "--set", "output.tile_size=-2"], "--tile must be at least 1, not -2"),
    (["bicubic", "HR", "--set", "noise.sigma=3"], "--set 'noise.sigma=3': give PATH=VALUE with a setting of the run spec"),
])
def test_a_synthesis_that_cannot_run_is_one_line(tmp_path, capsys, argv, message):
    argv = [str(tmp_path / "hr") if a == "HR" else a for a in argv]
    out = [] if "--out" in argv else ["--out", str(tmp_path / "out")]
    assert main(["synthesize", *argv, *out]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("settings, message", [
    (dict(tile_size=0), "tile_size (--tile) must be a whole number of at least 1, not 0"),
    (dict(examples_per_shard=2.5), "examples_per_shard (--examples-per-shard) must be a whole number"),
    (dict(noise_sigma=(5.0, 1.0)), "noise_sigma (--noise-sigma) must be a sigma >= 0 (0-255 scale) or a range"),
    (dict(hr_dir=None), "Give the degradation model (MODEL), the clean photos (HR_DIR) and --out"),
])
def test_a_synthesis_spec_from_python_is_checked_as_the_command_is(settings, message):
    from dml_keras.specs import SynthesisRun

    spec = SynthesisRun.of(**{"model": "bicubic", "hr_dir": "photos", "out_dir": "pairs", **settings})
    with pytest.raises(SetupError, match=re.escape(message)):
        spec.resolved()
