"""Training recipes of both model families by name (no Keras or TensorFlow needed: the CLI reads them for its help)."""

import dataclasses
import json
from pathlib import Path

from dml_keras.errors import SetupError
from dml_keras.names import AUGMENTATIONS  # noqa: F401  (the recipes' choices; re-exported)
from dml_keras.names import SR_ARCHITECTURES


class _Recipe:
    def settings(self):
        """The recipe as a dict of its settings (flat names)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class DegradationRecipe(_Recipe):
    """How a degradation model trains: crops, optimization, schedule, weight average, orientation, network start.

    `ema_steps="auto"` averages over the last sixth of `steps`; the last four fields are single models' own
    (`MODEL_ONLY`). `dataclasses.replace(recipe, steps=...)` makes a variant.
    """

    patch_size: int
    batch_size: int
    steps: int
    steps_per_epoch: int
    learning_rate: float
    lr_schedule: str
    ema_steps: "int | str"
    augment: str
    filters: int
    basis_initializer: str
    weight_init: str
    kernel_init: str
    residual_on: str


@dataclasses.dataclass(frozen=True)
class SRRecipe(_Recipe):
    """How an SR network trains: LR geometry, crops, steps, Adam's rate and VDSR's depth (batch sizes are per
    network: `SR_BATCH_SIZES`)."""

    lr_size: str
    patch_size: int
    steps: int
    steps_per_epoch: int
    learning_rate: float
    depth: int


def _data(name):
    """A recipe file of the package (`recipes_data/NAME.json`, package data); its `note` says where each was
    measured."""
    with open(Path(__file__).resolve().parent / "recipes_data" / f"{name}.json") as handle:
        return {key: value for key, value in json.load(handle).items() if key != "note"}


# degradation recipes by name (`dml train-degradation --recipe`): "default", "large" (for a GPU), "paper"
RECIPES = {name: DegradationRecipe(**values) for name, values in _data("degradation").items()}
# The one table of which degradation model takes which of its own options (recipe entries and flags alike):
# the CLI, `train_degradation` and `resolve_recipe` refuse an option given to another model through it
# (`check_model_only`, one `SetupError`); tests/test_training.py checks it against the models' constructors.
LEARNED = ("dml", "directnet", "directkpn")
MODEL_ONLY = {"num_basis": ("dml",), "basis_initializer": ("dml",), "basis_constraint": ("dml",),
              "weight_init": ("dml",), "tone_offset": ("dml",), "unit_sum_kernels": ("dml",),
              "kernel_init": ("directkpn",), "residual_on": ("directnet",), "filters": LEARNED}
# options whose flag is not `--` + the name with dashes
FLAGS = {"num_basis": "--basis", "basis_initializer": "--basis-init"}


# SR training recipes by name (`dml train-sr --recipe`), "default" and "paper"; an argument left `None` comes from
# the recipe. Batch sizes are per network (`names.SR_ARCHITECTURES`); RRDB and `--loss gan` runs take Real-ESRGAN's
# rates (`STAGES`) instead of the recipe's.
SR_RECIPES = {name: SRRecipe(**values) for name, values in _data("sr").items()}
# Real-ESRGAN's published settings per stage: "l1" (RealESRNet x4plus), then "gan" (RealESRGAN x4plus)
_STAGES = _data("stages")
STAGES = {"l1": _STAGES["rrdb_l1"], "gan": _STAGES["rrdb_gan"]}
ADAM_BETAS = tuple(_STAGES["adam_betas"])
SR_BATCH_SIZES = {name: arch.batch_size for name, arch in SR_ARCHITECTURES.items()}
# Fine-tuning a published generator (`train-sr --init realesrgan_x4plus --loss gan`): what a run takes when not
# told otherwise (the run measured in saved_models/README.md, "Fine-tuning Real-ESRGAN x4plus")
FINETUNE = _data("finetune")


def takes(model, option):
    """Whether degradation `model` takes `option` (an option not in `MODEL_ONLY` is every model's)."""
    return model in MODEL_ONLY.get(option, (model,))


def check_model_only(model, **options):
    """Refuse, with a `SetupError` naming it and its flag, an option given (not `None`) that `model` does not take.

    Example:
    >>> check_model_only("directnet", residual_on="hr", kernel_init=None)
    >>> check_model_only("dml", residual_on="hr")
    Traceback (most recent call last):
    ...
    dml_keras.errors.SetupError: residual_on (--residual-on) is directnet's alone; dml takes none, drop it
    >>> check_model_only("global-kernel", filters=64)
    Traceback (most recent call last):
    ...
    dml_keras.errors.SetupError: filters (--filters) is dml's, directnet's and directkpn's; global-kernel takes none, drop it
    """
    for name, value in options.items():
        if value is None or takes(model, name):
            continue
        owners = [f"{owner}'s" for owner in MODEL_ONLY[name]]
        whose = f"{owners[0]} alone" if len(owners) == 1 else f"{', '.join(owners[:-1])} and {owners[-1]}"
        flag = FLAGS.get(name, "--" + name.replace("_", "-"))
        raise SetupError(f"{name} ({flag}) is {whose}; {model} takes none, drop it")


def resolve_recipe(recipe="default", model="dml", **overrides):
    """The settings of `recipe` for `model`, with every override that is not `None` applied.

    An override that only another model takes is an error (`check_model_only`).

    `ema_steps="auto"` becomes a sixth of `steps` (the average spans the run's last sixth).

    Example:
    >>> resolve_recipe("default", steps=10)["steps"], resolve_recipe("paper")["patch_size"]
    (10, 192)
    >>> resolve_recipe("default")["ema_steps"], resolve_recipe("large")["ema_steps"], resolve_recipe("paper")["ema_steps"]
    (500, 1000, 0)
    >>> "basis_initializer" in resolve_recipe("default", model="directnet")
    False
    >>> resolve_recipe("default", model="directkpn")["kernel_init"], resolve_recipe("paper", model="directkpn")["kernel_init"]
    ('gaussian', 'random')
    >>> resolve_recipe("default", model="directnet")["residual_on"], resolve_recipe("paper", model="directnet")["residual_on"]
    ('blur', 'hr')
    >>> resolve_recipe("default", model="directnet")["filters"], resolve_recipe("large")["filters"]
    (32, 64)
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {sorted(RECIPES)}. Received: recipe={recipe!r}")
    check_model_only(model, **overrides)
    settings = {k: v for k, v in RECIPES[recipe].settings().items() if takes(model, k)}
    settings.update({k: v for k, v in overrides.items() if v is not None})
    if settings["ema_steps"] == "auto":  # the last sixth of the run, whatever its length
        settings["ema_steps"] = max(1, settings["steps"] // 6)
    return settings

# What a trial of `dml tune` trains unless told (the rest is the default recipe's): a shorter run than the recipe's
# 3000 steps, scored on a fifth of the pairs
TUNE_TRIAL = {"steps": 1000, "val_fraction": 0.2}
