"""`DegradationRun`: what one `dml train-degradation` run does, as one frozen, typed spec (no Keras here).

Built like `SRRun` (`specs.base.RunSpec`): `DegradationRun.of(steps=500)`, `from_dict` of a run's `spec.json`,
`set("crops.patch_size", 96)`; `resolved()` checks it (an option another model owns is one `SetupError` naming
its flag, from `recipes.MODEL_ONLY`) and fills what is left `None` from the named recipe.
"""

import dataclasses
import typing

from dml_keras.errors import SetupError
from dml_keras.names import DEGRADATION_MODELS
from dml_keras.specs.base import Execution, RunSpec, spec_paths
from dml_keras.specs.recipes import MODEL_ONLY, RECIPES, check_model_only, resolve_recipe


@dataclasses.dataclass(frozen=True)
class Geometry:
    """The SR factor, the channels the model computes on (`"y"`, `"rgb"`) and the LR size (`"same"`, `"native"`)."""

    scale: int = 4
    channels: str = "y"
    lr_size: str = "same"


@dataclasses.dataclass(frozen=True)
class Data:
    """Real training pairs, and held-out ones: `val_pairs`, or every round(1/`val_fraction`)-th pair."""

    pairs: typing.Any = None
    val_pairs: typing.Any = None
    val_fraction: float = 0.0


@dataclasses.dataclass(frozen=True)
class Network:
    """The model by name and its options; the last seven are single models' own (`recipes.MODEL_ONLY`)."""

    model: str = "dml"
    kernel_size: int = 15
    num_basis: "int | None" = None
    filters: "int | None" = None
    basis_initializer: "str | None" = None
    basis_constraint: "str | None" = None
    weight_init: "str | None" = None
    tone_offset: "bool | None" = None
    unit_sum_kernels: "bool | None" = None
    kernel_init: "str | None" = None
    residual_on: "str | None" = None


@dataclasses.dataclass(frozen=True)
class Crops:
    """HR crop side, crops per step, and how crops are oriented (`names.AUGMENTATIONS`)."""

    patch_size: "int | None" = None
    batch_size: "int | None" = None
    augment: "str | None" = None


@dataclasses.dataclass(frozen=True)
class Optimization:
    """Adam's rate and its schedule (`"constant"`, or `"cosine"` to 0 over the steps)."""

    learning_rate: "float | None" = None
    lr_schedule: "str | None" = None


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Steps, and steps between logs, validation and checkpoints."""

    steps: "int | None" = None
    steps_per_epoch: "int | None" = None


@dataclasses.dataclass(frozen=True)
class Average:
    """The weight average's span in steps (0: off; `"auto"`: a sixth of the steps)."""

    ema_steps: "int | str | None" = None


_PARTS = {"geometry": Geometry, "data": Data, "network": Network, "crops": Crops, "optimization": Optimization,
          "schedule": Schedule, "average": Average, "execution": Execution}
PATHS = spec_paths(_PARTS)


@dataclasses.dataclass(frozen=True)
class DegradationRun(RunSpec):
    """One degradation training run. `DegradationRun.of(**settings)`; `resolved()` checks it and fills it in."""

    COMMAND, VERSION, PARTS, PATHS, DICT_KEYS = "train-degradation", "degradation-run/1", _PARTS, PATHS, {}
    SOURCES = ("data.pairs", "data.val_pairs")

    recipe: str = "default"
    geometry: Geometry = Geometry()
    data: Data = Data()
    network: Network = Network()
    crops: Crops = Crops()
    optimization: Optimization = Optimization()
    schedule: Schedule = Schedule()
    average: Average = Average()
    execution: Execution = Execution()

    @property
    def closed_form(self):
        """The global kernel is fitted by least squares: no steps, no recipe."""
        return self.network.model == "global-kernel"

    def model_options(self):
        """The options the model is built with: the given and filled ones, and DML's seed."""
        options = {name: getattr(self.network, name) for name in MODEL_ONLY}
        options = {k: v for k, v in options.items() if v is not None}
        return {**options, "seed": self.execution.seed} if self.network.model == "dml" else options

    def resolved(self):
        """The spec checked, with every setting left `None` filled from the recipe (`specs.recipes.RECIPES`).

        Raises:
            SetupError: one line naming the flag, for anything that cannot run.
        """
        network = self.network
        if network.model not in DEGRADATION_MODELS:
            raise SetupError(f"model (--model) must be one of {', '.join(DEGRADATION_MODELS)}, not {network.model!r}")
        if self.recipe not in RECIPES:
            raise SetupError(f"recipe (--recipe) must be one of {', '.join(RECIPES)}, not {self.recipe!r}")
        if self.data.pairs is None:
            raise SetupError("Give the training pairs (PAIRS), or --config with the spec.json of a run to replay")
        options = {name: getattr(network, name) for name in MODEL_ONLY}
        check_model_only(network.model, **options)
        spec = self.set("num_basis", 8) if network.model == "dml" and network.num_basis is None else self
        spec = spec.set("mixed_precision", spec.execution.mixed_precision or False)
        if spec.closed_form:
            return spec
        given = {name: spec.get(name) for name in ("patch_size", "batch_size", "steps", "steps_per_epoch",
                                                   "learning_rate", "lr_schedule", "ema_steps", "augment")}
        filled = resolve_recipe(spec.recipe, network.model, **given, **options)
        for name, value in filled.items():
            spec = spec.set(name, value)
        if spec.optimization.lr_schedule not in ("constant", "cosine"):
            raise SetupError(f"lr_schedule (--lr-schedule) must be 'constant' or 'cosine', not "
                             f"{spec.optimization.lr_schedule!r}")
        return spec
