"""The contract every model of a family follows, whatever it is: learned (Keras), built-in, or an exported file.

Workflows and the CLI rely on these members only, so any object that has them
can be passed where a model is taken.

Degradation models (`DegradationBase` subclasses, `IdentityDegradation`,
`BicubicDegradation`, `HandcraftedDegradation`, `LearnedBlurWithNoise`,
`AtNativeSize`, `ExportedModel` of kind `"degradation"`):

- `scale`: the SR factor (int);
- `lr_size`: `"same"` (LR enlarged back to HR size, the paper) or `"native"` (1/scale);
- `channels`: `"y"` (computes on Y: give it Y, it is scored on Y) or `"rgb"`;
- `kernel_size`: the blur's support in HR px; scores leave out `kernel_size // 2` at the border
  (15 for the built-ins and the hand-crafted pipeline: the paper's crop of 7);
- `stochastic`: `True` for random degradations, which also take `degrade(..., seeds=...)`;
- `adds_noise`: `True` for those that add their own noise (synthesis adds no white noise by default);
- `degrade(images, tile_size=...)`: HR `(H, W, C)` or `(N, H, W, C)` in `[0, 1]` → LR, NumPy float32.

SR models (`VDSR`, `RCAN`, `ExportedModel` of kind `"sr"`): the same
`scale`, `lr_size`, `channels`, and `super_resolve(lr_rgb, tile_size=..., enlarged=False)`:
an RGB photo of any size → RGB `scale` times larger, clipped to `[0, 1]`.
"""

from typing import Protocol, runtime_checkable

from dml_keras.names import CHANNELS, LR_SIZES  # noqa: F401  (re-exported: the models check against them)


@runtime_checkable
class Degradation(Protocol):
    """HR photos in, the LR a camera would capture out."""

    scale: int
    lr_size: str
    channels: str
    kernel_size: int
    stochastic: bool
    adds_noise: bool

    def degrade(self, images, tile_size=512): ...


@runtime_checkable
class SuperResolution(Protocol):
    """A low-resolution photo in, a `scale`-times larger one out."""

    scale: int
    lr_size: str
    channels: str

    def super_resolve(self, lr_rgb, tile_size=512, enlarged=False): ...
