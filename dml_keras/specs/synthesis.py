"""`SynthesisRun`: what one `dml synthesize` run makes, as a frozen, typed spec built from parts (no Keras here).

Built like the training specs (`specs.base.RunSpec`): `SynthesisRun.of(model="dml_realsr_x4", hr_dir="photos/",
out_dir="pairs/")`, `from_dict` of the `spec.json` a run writes, varied by path (`spec.set("noise.seed", 3)`).
Everything in it decides the pairs, but for the folders and `tile_size`: every worker of a Beam pipeline needs
only the spec to make any shard.
"""

import dataclasses
import math
import os
import typing

from dml_keras.errors import SetupError
from dml_keras.specs.base import RunSpec, spec_paths


@dataclasses.dataclass(frozen=True)
class Source:
    """The degradation (`model`: a built-in name, a preset, a `.keras` file or run folder, an exported model;
    a path every worker can read), the clean photos (`hr_dir`), the factor (`None`: 4, or the model's own) and
    the LR's size (`None`: the model's)."""

    model: typing.Any = None
    hr_dir: typing.Any = None
    scale: "int | None" = None
    lr_size: "str | None" = None


@dataclasses.dataclass(frozen=True)
class Noise:
    """Sensor noise after the degradation: its model, sigma (0-255; a range `(low, high)` drawn per photo;
    `None`: the degradation's default), the size it is drawn at, and the seed of every draw."""

    noise_model: str = "white"
    noise_sigma: "float | tuple | None" = None
    noise_resolution: str = "output"
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class Output:
    """Where the pairs go (`out_dir`), 8-bit LR (`quantize`) or 16-bit, the tile side for large photos, and
    photos per shard file (TFRecord shards)."""

    out_dir: typing.Any = None
    quantize: bool = True
    tile_size: int = 512
    examples_per_shard: int = 256


_PARTS = {"source": Source, "noise": Noise, "output": Output}
PATHS = spec_paths(_PARTS, recipe=False)


@dataclasses.dataclass(frozen=True)
class SynthesisRun(RunSpec):
    """One synthesis run. Build it with `SynthesisRun.of(**settings)`; `resolved()` checks it and fills it in."""

    COMMAND, VERSION, PARTS, PATHS = "synthesize", "synthesis-run/1", _PARTS, PATHS
    SOURCES = ("source.model", "source.hr_dir", "output.out_dir")

    source: Source = Source()
    noise: Noise = Noise()
    output: Output = Output()

    def resolved(self):
        """The spec checked (one-line `SetupError`s naming the flag), with the factor filled in."""
        if self.source.model is None or self.source.hr_dir is None or self.output.out_dir is None:
            raise SetupError("Give the degradation model (MODEL), the clean photos (HR_DIR) and --out")
        for name, flag in (("examples_per_shard", "--examples-per-shard"), ("tile_size", "--tile")):
            value = self.get(name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise SetupError(f"{name} ({flag}) must be a whole number of at least 1, not {value!r}")
        sigma = self.noise.noise_sigma
        sigmas = sigma if isinstance(sigma, tuple) else () if sigma is None else (sigma,)
        if len(sigmas) > 2 or any(not 0 <= s < math.inf for s in sigmas) or list(sigmas) != sorted(sigmas):
            raise SetupError(f"noise_sigma (--noise-sigma) must be a sigma >= 0 (0-255 scale) or a range LOW,HIGH, "
                             f"not {sigma!r}")
        return self.set("scale", self.source.scale or 4)

    # the shards: photos sorted by file name, `examples_per_shard` a shard

    def shard_count(self, photos):
        """How many shards `photos` fill."""
        return max(1, math.ceil(len(photos) / self.output.examples_per_shard))

    def shard_photos(self, index, photos):
        """The photos of shard `index`."""
        size = self.output.examples_per_shard
        return photos[index * size:(index + 1) * size]

    def shard_path(self, index, count):
        from dml_keras.data.records import shard_name

        return os.path.join(self.output.out_dir, shard_name(index, count))
