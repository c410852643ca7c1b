"""`VDSR` (Kim et al., CVPR 2016): 20 convolutions of 64 channels with a global residual."""

import keras
from keras import layers

from dml_keras.models.sr_base import SuperResolutionBase
from dml_keras.ops.pixel_shuffle import depth_to_space, upsample_nearest


@keras.saving.register_keras_serializable(package="dml_keras")
class VDSR(SuperResolutionBase):
    """SR network. `lr_size="same"`: input is the LR enlarged to HR size (the paper's setting),
    output `input + F(input)`. `"native"`: input is the small LR; the last convolution predicts
    `scale²` sub-pixels per channel (sub-pixel upsampler), added to the nearest-enlarged input.

    Args:
        depth: number of convolutions (20).
        filters: channels of the hidden convolutions (64).
        scale: SR factor (used by `"native"`).
        channels: `"y"` or `"rgb"` (1 and 3 also accepted, as older files store them).
        lr_size: `"same"` or `"native"`.

    Example:
    >>> import numpy as np
    >>> tuple(VDSR(depth=4, filters=8, scale=3, lr_size="native")(np.zeros((1, 5, 7, 1), "float32")).shape)
    (1, 15, 21, 1)
    """

    def __init__(self, depth=20, filters=64, scale=4, channels="y", lr_size="same", **kwargs):
        super().__init__(scale=scale, channels=channels, lr_size=lr_size, **kwargs)
        if depth < 2:
            raise ValueError(f"depth must be at least 2. Received: depth={depth}")
        self.depth = depth
        self.filters = filters
        self.body = [layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"conv_{i}") for i in range(depth - 1)]
        out_channels = self.image_channels * (scale * scale if lr_size == "native" else 1)
        self.tail = layers.Conv2D(out_channels, 3, padding="same", name=f"conv_{depth - 1}")

    def call(self, images):
        x = images
        for layer in self.body:
            x = layer(x)
        residual = self.tail(x)
        if self.lr_size == "native":
            return upsample_nearest(images, self.scale) + depth_to_space(residual, self.scale)
        return images + residual

    def get_config(self):
        config = super().get_config()
        config.update(depth=self.depth, filters=self.filters)
        return config
