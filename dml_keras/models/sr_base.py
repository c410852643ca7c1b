"""What every SR network shares: geometry (`scale`, `lr_size`, `channels`) and `super_resolve` for photos of any size."""

import keras
import numpy as np

from dml_keras.models.contract import CHANNELS, LR_SIZES
from dml_keras.ops.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from dml_keras.ops.resize import imresize, shrink_enlarged
from dml_keras.ops.tiling import TILE_MARGIN, apply_tiled


def check_channels(channels):
    """`"y"` or `"rgb"`; the image-channel counts 1 and 3 of older saved files are read as those."""
    channels = {1: "y", 3: "rgb"}.get(channels, channels)
    if channels not in CHANNELS:
        raise ValueError(f"channels must be one of {CHANNELS}. Received: channels={channels!r}")
    return channels


def run_tiled(model, image, tile_size=512, margin=TILE_MARGIN):
    """Apply an SR `model` to one `(H, W, C)` image in tiles with `margin` pixels of context (seamless).

    Each tile is computed with real neighbouring pixels around it and only its
    centre is kept, so tiles meet without seams; with `margin` at least the
    network's receptive field the result equals the untiled one.
    """
    factor = model.scale if model.lr_size == "native" else 1
    return apply_tiled(lambda piece: keras.ops.convert_to_numpy(model(piece, training=False)), image, tile_size, margin,
                       factor=factor)


def _capture_size(enlarged, scale):
    """An LR stored at HR size taken back to `1/scale`: the exact inverse of the bicubic enlargement
    (`shrink_enlarged`, as training reads such pairs) when the size allows, else a bicubic reduction."""
    height, width = enlarged.shape[:2]
    if height % scale == 0 and width % scale == 0:
        return np.clip(shrink_enlarged(enlarged, scale), 0, 1)
    return np.clip(imresize(enlarged, output_size=(height // scale, width // scale)), 0, 1)


def super_resolve(model, lr_rgb, tile_size=512, margin=TILE_MARGIN, enlarged=False):
    """Super-resolve an RGB photo in `[0, 1]` with any SR model; returns RGB `scale` times larger, clipped.

    Args:
        model: anything with `scale`, `lr_size`, `channels` that maps an image
            batch to its SR output (a Keras SR network, or an exported file,
            which takes and returns RGB).
        lr_rgb: `(h, w, 3)` low-resolution photo, or with `enlarged=True` an LR
            already enlarged to HR size (same-size LR files such as RealSR v3),
            whose output is then the same size.

    Same-size models (the paper's VDSR) get the MATLAB-bicubic enlargement as
    input; native models get the small LR. Y models restore Y and take Cb/Cr
    from the bicubic enlargement.
    """
    lr_rgb = np.asarray(lr_rgb, np.float32)
    scale = model.scale
    native = model.lr_size == "native"
    if enlarged:
        big = lr_rgb
        small = _capture_size(lr_rgb, scale) if native else None
    else:
        small = lr_rgb
        big = np.clip(imresize(lr_rgb, output_size=(lr_rgb.shape[0] * scale, lr_rgb.shape[1] * scale)), 0, 1)
    if model.channels == "rgb":
        return np.clip(run_tiled(model, small if native else big, tile_size, margin), 0, 1)
    ycbcr = np.array(rgb_to_ycbcr(big.astype(np.float64)))
    y_in = np.asarray(rgb_to_y(small.astype(np.float64)), np.float32) if native else ycbcr[..., :1].astype(np.float32)
    ycbcr[..., :1] = run_tiled(model, y_in, tile_size, margin)
    return np.clip(np.asarray(ycbcr_to_rgb(ycbcr)), 0, 1).astype(np.float32)


class SuperResolutionBase(keras.Model):
    """Base of the SR networks: `scale`, `lr_size` (`"same"`/`"native"`), `channels` (`"y"`/`"rgb"`), `super_resolve`."""

    def __init__(self, scale=4, channels="y", lr_size="same", **kwargs):
        super().__init__(**kwargs)
        if lr_size not in LR_SIZES:
            raise ValueError(f"lr_size must be one of {LR_SIZES}. Received: lr_size={lr_size!r}")
        self.scale = int(scale)
        self.channels = check_channels(channels)
        self.lr_size = lr_size

    @property
    def image_channels(self):
        """1 (Y) or 3 (RGB): the channels of the tensors the network takes and returns."""
        return 1 if self.channels == "y" else 3

    def super_resolve(self, lr_rgb, tile_size=512, enlarged=False):
        """`super_resolve(self, ...)`: an RGB photo of any size, in tiles."""
        return super_resolve(self, lr_rgb, tile_size, enlarged=enlarged)

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale, channels=self.channels, lr_size=self.lr_size)
        return config
