"""`SRRun`: what one `dml train-sr` run does, as one frozen, typed spec built from parts (no Keras here).

A spec is made from flat settings (`SRRun.of(steps=500, arch="rrdb")`, the keywords of `train_sr` and the
flags of `dml train-sr`), from a file (`SRRun.from_dict`, the `spec.json` a run writes), and varied by path
(`spec.set("crops.patch_size", 64)`). `resolved()` checks it (every check, once, as a one-line `SetupError`
naming the flag) and fills what is left `None` from the named recipe, so that a resolved spec says all that
the run does; resolving it again changes nothing, which is what makes `--config` replay a run exactly.
"""

import dataclasses
import typing

from dml_keras.errors import SetupError
from dml_keras.names import SR_ARCHITECTURES, SR_ARCHS, SR_LOSSES
from dml_keras.specs.base import Execution, RunSpec, spec_paths
from dml_keras.specs.recipes import FINETUNE, SR_BATCH_SIZES, SR_RECIPES, STAGES


@dataclasses.dataclass(frozen=True)
class Geometry:
    """The SR factor, the colour channels (`None`: RGB for perceptual runs, Y otherwise) and the LR size."""

    scale: int = 4
    channels: "str | None" = None
    lr_size: "str | None" = None


@dataclasses.dataclass(frozen=True)
class Data:
    """Where the pairs come from: real `pairs`, synthetic pairs from disk, or a `degradation` applied on the fly
    to the photos in `hr_dir`; a mix takes `synthetic_fraction` synthetic ones. `val_pairs`: real pairs scored
    each epoch. Each is a path (a preset or built-in name for `degradation`) or, from Python, an object."""

    pairs: typing.Any = None
    synthetic_pairs: typing.Any = None
    degradation: typing.Any = None
    hr_dir: typing.Any = None
    synthetic_fraction: float = 0.5
    val_pairs: typing.Any = None


@dataclasses.dataclass(frozen=True)
class Synthesis:
    """How on-the-fly pairs are made: noise after the degradation, crops per decoded photo, and `where`
    (`"pipeline"`: in the input pipeline; `"in-step"`: in the compiled training step)."""

    noise_sigma: "float | tuple | None" = None
    noise_model: str = "white"
    noise_resolution: str = "output"
    crops_per_image: int = 4
    where: str = "pipeline"


@dataclasses.dataclass(frozen=True)
class Crops:
    """HR crop side and crops per step (`None`: the recipe's, and the network's batch size)."""

    patch_size: "int | None" = None
    batch_size: "int | None" = None


@dataclasses.dataclass(frozen=True)
class Network:
    """The SR network by its registered name (`names.SR_ARCHITECTURES`) and the sizes given to it."""

    arch: str = "vdsr"
    sizes: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Objective:
    """`loss`: auto, l1, l2 or gan (Real-ESRGAN's L1 + VGG + GAN against a U-Net of `d_filters`);
    `color_weight`: an L1 term between 8×8 averages; `sharpen`: compare with the unsharp-masked truth (`None`:
    Real-ESRGAN's, yes, or the fine-tuning recipe's, no)."""

    loss: str = "auto"
    d_filters: int = 64
    color_weight: "float | None" = None
    sharpen: "bool | None" = None


@dataclasses.dataclass(frozen=True)
class Optimization:
    """Adam's rate (`None`: the recipe's, or Real-ESRGAN's per stage)."""

    learning_rate: "float | None" = None


@dataclasses.dataclass(frozen=True)
class Schedule:
    """Steps, steps between logs/validation/checkpoints, the collapse guard (dB, 0 off), kept checkpoints."""

    steps: "int | None" = None
    steps_per_epoch: "int | None" = None
    collapse_drop: float = 2.0
    keep_checkpoints: bool = False


@dataclasses.dataclass(frozen=True)
class Average:
    """The generator's weight average of perceptual runs (`None`: 0.999, or the fine-tuning recipe's)."""

    ema_decay: "float | None" = None


@dataclasses.dataclass(frozen=True)
class Start:
    """What the run starts from: `init` (an SR model: a preset name, `.keras` or run folder), `init_d` (a
    discriminator), `tune_blocks` (train only the last RRDB blocks), `d_warmup` (discriminator-only steps)."""

    init: typing.Any = None
    init_d: typing.Any = None
    tune_blocks: "int | None" = None
    d_warmup: "int | None" = None


_PARTS = {"geometry": Geometry, "data": Data, "synthesis": Synthesis, "crops": Crops, "network": Network,
          "objective": Objective, "optimization": Optimization, "schedule": Schedule, "average": Average,
          "start": Start, "execution": Execution}
# every size of every registered network is a setting of its own, network.sizes.NAME
_DICT_KEYS = {"network.sizes": tuple(dict.fromkeys(size for arch in SR_ARCHITECTURES.values() for size in arch.sizes))}
# flat name → path: `train_sr`'s keywords and (through the CLI's one table, `cli._SR_FLAGS`) its flags
PATHS = spec_paths(_PARTS, aliases={"synthesis": "synthesis.where"}, dict_keys=_DICT_KEYS)


@dataclasses.dataclass(frozen=True)
class SRRun(RunSpec):
    """One SR training run. Build it with `SRRun.of(**settings)`; `resolved()` checks it and fills it in."""

    COMMAND, VERSION, PARTS, PATHS, DICT_KEYS = "train-sr", "sr-run/1", _PARTS, PATHS, _DICT_KEYS
    SOURCES = ("data.pairs", "data.synthetic_pairs", "data.degradation", "data.hr_dir", "data.val_pairs",
               "start.init", "start.init_d")

    recipe: str = "default"
    geometry: Geometry = Geometry()
    data: Data = Data()
    synthesis: Synthesis = Synthesis()
    crops: Crops = Crops()
    network: Network = Network()
    objective: Objective = Objective()
    optimization: Optimization = Optimization()
    schedule: Schedule = Schedule()
    average: Average = Average()
    start: Start = Start()
    execution: Execution = Execution()

    # what the run is

    @property
    def architecture(self):
        return SR_ARCHITECTURES[self.network.arch]

    @property
    def perceptual(self):
        """Trained with Real-ESRGAN's recipe (`PerceptualTrainer`): RRDB, or any `--loss gan`."""
        return self.architecture.perceptual or self.objective.loss == "gan"

    @property
    def stage(self):
        return "gan" if self.objective.loss == "gan" else "l1"

    @property
    def mixing(self):
        """Real pairs mixed with synthetic ones."""
        data = self.data
        return data.pairs is not None and (data.degradation is not None or data.synthetic_pairs is not None)

    @property
    def in_step(self):
        return self.synthesis.where == "in-step"

    @property
    def finetuning(self):
        """The GAN stage from a network whose sizes it takes (a published generator), not from an L1 stage."""
        return self.start.init is not None and self.objective.loss == "gan" and not self.network.sizes

    # checking and filling in

    def resolved(self):
        """The spec checked, with every setting left `None` filled from the recipes (`specs.recipes`).

        Raises:
            SetupError: one line naming the flag, for anything that cannot run.
        """
        spec = self
        if spec.finetuning:  # the fine-tuning recipe fills what is not given (then checked with the rest)
            for name, value in FINETUNE.items():
                if spec.get(name) is None:
                    spec = spec.set(name, value)
        spec.check()
        recipe, arch = SR_RECIPES[spec.recipe], spec.architecture
        given_lr_size = spec.geometry.lr_size
        for name in ("lr_size", "patch_size", "steps", "steps_per_epoch"):
            if spec.get(name) is None:
                spec = spec.set(name, getattr(recipe, name))
        if arch.recipe_depth and "depth" not in spec.network.sizes:
            spec = spec.set("depth", recipe.depth)
        if spec.perceptual and spec.objective.loss == "l2":
            raise SetupError(f"--arch {arch.name} --loss l2: Real-ESRGAN's recipe trains with 'l1' then 'gan'")
        if arch.native_only and given_lr_size is None:
            spec = spec.set("lr_size", "native")
        if arch.native_only and spec.geometry.lr_size != "native":
            raise SetupError(f"--arch {arch.name} runs on the small LR: drop --lr-size same (it takes --lr-size native)")
        spec = spec.set("channels", spec.geometry.channels or ("rgb" if spec.perceptual else "y"))
        if spec.stage == "gan" and spec.geometry.channels != "rgb":
            raise SetupError("--loss gan compares VGG features of RGB images: use --channels rgb (the default for it)")
        if not spec.optimization.learning_rate:
            rate = STAGES[spec.stage]["learning_rate"] if spec.perceptual else recipe.learning_rate
            spec = spec.set("learning_rate", rate)
        spec = spec.set("ema_decay", 0.999 if spec.average.ema_decay is None else spec.average.ema_decay)
        spec = spec.set("d_warmup", spec.start.d_warmup or 0)
        spec = spec.set("color_weight", spec.objective.color_weight or 0.0)
        spec = spec.set("sharpen", spec.objective.sharpen is not False)
        spec = spec.set("mixed_precision", spec.execution.mixed_precision or False)
        return spec.set("batch_size", spec.crops.batch_size or SR_BATCH_SIZES[arch.name])

    def check(self):
        """Every check that needs neither Keras nor the data (`resolved` runs it first)."""
        def one_of(flag, value, choices):
            if value not in choices:
                raise SetupError(f"{flag} must be one of {', '.join(map(str, choices))}, not {value!r}")

        one_of("arch (--arch)", self.network.arch, SR_ARCHS)
        one_of("loss (--loss)", self.objective.loss, SR_LOSSES)
        one_of("recipe (--recipe)", self.recipe, tuple(SR_RECIPES))
        one_of("synthesis (--synthesis)", self.synthesis.where, ("pipeline", "in-step"))
        arch = self.architecture
        unknown = sorted(set(self.network.sizes) - set(arch.sizes))
        if unknown:
            raise SetupError(f"{arch.name} does not take {', '.join(unknown)}. It takes: {', '.join(arch.sizes)}")
        if (self.start.d_warmup or self.start.init_d is not None) and self.objective.loss != "gan":
            raise SetupError("--d-warmup and --init-d train the discriminator of the GAN stage: add --loss gan")
        if self.start.tune_blocks is not None and not arch.tunable_blocks:
            tunable = ", ".join(n for n, a in SR_ARCHITECTURES.items() if a.tunable_blocks)
            raise SetupError(f"--tune-blocks chooses blocks to train: it is for --arch {tunable}, not {arch.name}")
        data = self.data
        if data.pairs is None and data.degradation is None and data.synthetic_pairs is None:
            raise SetupError("Give real pairs, or a degradation model (--degradation) and clean photos (--hr-dir), or both")
        if data.degradation is not None and data.synthetic_pairs is not None:
            raise SetupError("Give synthetic pairs one way: --degradation (on the fly) or a folder of them (from disk)")
        if data.degradation is not None and data.hr_dir is None:
            raise SetupError("On-the-fly synthesis (--degradation) needs --hr-dir, a folder of clean HR photos")
        if self.in_step and (data.degradation is None or self.mixing or self.perceptual):
            raise SetupError("--synthesis in-step makes the pairs of --degradation in the training step: give "
                             "--degradation and --hr-dir without real pairs, and not with --arch rrdb or --loss gan")
