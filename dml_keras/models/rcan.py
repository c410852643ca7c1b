"""`RCAN` (Zhang et al., ECCV 2018): residual groups of residual channel-attention blocks."""

import keras
from keras import layers, ops

from dml_keras.models.sr_base import SuperResolutionBase
from dml_keras.ops.pixel_shuffle import depth_to_space, upsample_nearest


@keras.saving.register_keras_serializable(package="dml_keras")
class ChannelAttention(keras.layers.Layer):
    """Squeeze-and-excitation: global average → 1×1 conv (`filters // reduction`) → ReLU → 1×1 conv → sigmoid → scale."""

    def __init__(self, filters=64, reduction=16, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.reduction = reduction
        self.squeeze = layers.Conv2D(max(1, filters // reduction), 1, activation="relu", name="squeeze")
        self.excite = layers.Conv2D(filters, 1, activation="sigmoid", name="excite")

    def build(self, input_shape):
        self.squeeze.build((None, 1, 1, self.filters))
        self.excite.build((None, 1, 1, max(1, self.filters // self.reduction)))

    def call(self, x):
        return x * self.excite(self.squeeze(ops.mean(x, axis=(1, 2), keepdims=True)))

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, reduction=self.reduction)
        return config


@keras.saving.register_keras_serializable(package="dml_keras")
class ResidualChannelAttentionBlock(keras.layers.Layer):
    """conv → ReLU → conv → channel attention, times `residual_scale`, plus the input."""

    def __init__(self, filters=64, reduction=16, residual_scale=0.1, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.reduction = reduction
        self.residual_scale = residual_scale
        self.conv1 = layers.Conv2D(filters, 3, padding="same", activation="relu", name="conv1")
        self.conv2 = layers.Conv2D(filters, 3, padding="same", name="conv2")
        self.attention = ChannelAttention(filters, reduction, name="attention")

    def build(self, input_shape):
        for layer in (self.conv1, self.conv2, self.attention):
            layer.build((None, None, None, self.filters))

    def call(self, x):
        return x + self.residual_scale * self.attention(self.conv2(self.conv1(x)))

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, reduction=self.reduction, residual_scale=self.residual_scale)
        return config


@keras.saving.register_keras_serializable(package="dml_keras")
class RCAN(SuperResolutionBase):
    """SR network: head conv → `num_groups` × (`num_blocks` RCAB → conv, + skip) → conv, + long skip → tail.

    Defaults are the authors' slim variant (5 groups × 10 blocks, 64 channels,
    attention 64→4, residual scale 0.1). `lr_size="same"`: same-size input and a
    global residual; `"native"`: sub-pixel upsampler on small LR.

    Example:
    >>> import numpy as np
    >>> m = RCAN(num_groups=1, num_blocks=1, filters=8, reduction=4, scale=2, channels="rgb", lr_size="native")
    >>> tuple(m(np.zeros((1, 6, 5, 3), "float32")).shape)
    (1, 12, 10, 3)
    """

    def __init__(self, num_groups=5, num_blocks=10, filters=64, reduction=16, residual_scale=0.1, scale=4,
                 channels="y", lr_size="same", **kwargs):
        super().__init__(scale=scale, channels=channels, lr_size=lr_size, **kwargs)
        self.num_groups = num_groups
        self.num_blocks = num_blocks
        self.filters = filters
        self.reduction = reduction
        self.residual_scale = residual_scale
        self.head = layers.Conv2D(filters, 3, padding="same", name="head")
        self.groups = [
            [ResidualChannelAttentionBlock(filters, reduction, residual_scale, name=f"group_{g}_block_{b}") for b in range(num_blocks)]
            + [layers.Conv2D(filters, 3, padding="same", name=f"group_{g}_conv")]
            for g in range(num_groups)
        ]
        self.body_conv = layers.Conv2D(filters, 3, padding="same", name="body_conv")
        upsample = scale * scale if lr_size == "native" else 1
        self.upsampler = layers.Conv2D(filters * upsample, 3, padding="same", name="upsampler") if upsample > 1 else None
        self.tail = layers.Conv2D(self.image_channels, 3, padding="same", name="tail")

    def call(self, images):
        features = self.head(images)
        x = features
        for group in self.groups:
            skip = x
            for layer in group:
                x = layer(x)
            x = x + skip
        x = self.body_conv(x) + features
        if self.upsampler is not None:
            x = depth_to_space(self.upsampler(x), self.scale)
            return upsample_nearest(images, self.scale) + self.tail(x)
        return images + self.tail(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_groups=self.num_groups, num_blocks=self.num_blocks, filters=self.filters, reduction=self.reduction,
            residual_scale=self.residual_scale,
        )
        return config
