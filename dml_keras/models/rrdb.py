"""`RRDBNet` (Wang et al., ESRGAN, ECCVW 2018): the generator of ESRGAN and Real-ESRGAN.

Residual-in-residual dense blocks of five 3×3 convolutions (LeakyReLU 0.2,
residual scale 0.2) on the small LR, then nearest-neighbour enlargements
each followed by a convolution. Real-ESRGAN x4plus is `RRDBNet(num_blocks=23,
filters=64, growth=32)` (16.7 M parameters).
"""

import keras
from keras import layers, ops

from dml_keras.models.sr_base import SuperResolutionBase
from dml_keras.ops.pixel_shuffle import upsample_nearest

# the enlargement steps per SR factor: ESRGAN enlarges x2 twice for x4
UPSAMPLING_STEPS = {2: (2,), 3: (3,), 4: (2, 2), 8: (2, 2, 2)}


def _lrelu(x):
    return ops.leaky_relu(x, 0.2)


@keras.saving.register_keras_serializable(package="dml_keras")
class ResidualDenseBlock(keras.layers.Layer):
    """Five densely connected 3×3 convolutions (`growth` channels each, the last back to `filters`), × 0.2, + input."""

    def __init__(self, filters=64, growth=32, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.growth = filters, growth
        self.convs = [layers.Conv2D(growth if i < 4 else filters, 3, padding="same", name=f"conv{i + 1}") for i in range(5)]

    def build(self, input_shape):
        for i, conv in enumerate(self.convs):
            conv.build((None, None, None, self.filters + i * self.growth))

    def call(self, x):
        # Each convolution sees all earlier features side by side. It is computed as the sum of one convolution
        # per feature with that feature's slice of the kernel: the same weights and the same result (to float
        # rounding) without concatenating, which made the step 1.4x slower on a CPU (benchmarks/README.md).
        features = [x]
        for i, conv in enumerate(self.convs):
            # split (not sliced) so that the kernel's gradient is one concatenation of the pieces' gradients
            bounds = [self.filters + j * self.growth for j in range(i)]
            kernels = ops.split(ops.cast(conv.kernel, x.dtype), bounds, axis=2) if i else [ops.cast(conv.kernel, x.dtype)]
            total = None
            for feature, kernel in zip(features, kernels):
                part = ops.conv(feature, kernel, padding="same")
                total = part if total is None else total + part
            total = total + ops.cast(conv.bias, x.dtype)
            if i < 4:
                features.append(_lrelu(total))
        return x + 0.2 * total

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, growth=self.growth)
        return config


@keras.saving.register_keras_serializable(package="dml_keras")
class RRDB(keras.layers.Layer):
    """Three residual dense blocks in a row, × 0.2, + input (residual in residual)."""

    def __init__(self, filters=64, growth=32, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.growth = filters, growth
        self.blocks = [ResidualDenseBlock(filters, growth, name=f"rdb{i + 1}") for i in range(3)]

    def build(self, input_shape):
        for block in self.blocks:
            block.build((None, None, None, self.filters))

    def call(self, x):
        y = x
        for block in self.blocks:
            y = block(y)
        return x + 0.2 * y

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, growth=self.growth)
        return config


@keras.saving.register_keras_serializable(package="dml_keras")
class RRDBNet(SuperResolutionBase):
    """SR network on the small LR (`lr_size="native"` only): conv → `num_blocks` RRDB → conv (+ skip) →
    nearest enlargements with a conv each → conv → conv.

    Args:
        num_blocks: RRDB blocks (Real-ESRGAN: 23).
        filters: channels of the trunk (64).
        growth: channels each dense convolution adds (32).
        scale: 2, 3, 4 or 8.
        channels: `"rgb"` (Real-ESRGAN) or `"y"`.

    Example:
    >>> import numpy as np
    >>> m = RRDBNet(num_blocks=1, filters=8, growth=4, scale=3)
    >>> tuple(m(np.zeros((1, 5, 7, 3), "float32")).shape)
    (1, 15, 21, 3)
    """

    def __init__(self, num_blocks=23, filters=64, growth=32, scale=4, channels="rgb", lr_size="native", **kwargs):
        super().__init__(scale=scale, channels=channels, lr_size=lr_size, **kwargs)
        if lr_size != "native":
            raise ValueError(f"RRDBNet runs on the small LR: lr_size must be 'native'. Received: lr_size={lr_size!r}")
        if self.scale not in UPSAMPLING_STEPS:
            raise ValueError(f"RRDBNet's scale must be one of {tuple(UPSAMPLING_STEPS)}. Received: scale={scale}")
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be at least 1. Received: num_blocks={num_blocks}")
        self.num_blocks, self.filters, self.growth = num_blocks, filters, growth
        self.conv_first = layers.Conv2D(filters, 3, padding="same", name="conv_first")
        self.body = [RRDB(filters, growth, name=f"rrdb_{i}") for i in range(num_blocks)]
        self.conv_body = layers.Conv2D(filters, 3, padding="same", name="conv_body")
        self.ups = [layers.Conv2D(filters, 3, padding="same", name=f"conv_up{i + 1}")
                    for i in range(len(UPSAMPLING_STEPS[self.scale]))]
        self.conv_hr = layers.Conv2D(filters, 3, padding="same", name="conv_hr")
        self.conv_last = layers.Conv2D(self.image_channels, 3, padding="same", name="conv_last")

    def call(self, images):
        features = self.conv_first(images)
        x = features
        for block in self.body:
            x = block(x)
        x = features + self.conv_body(x)
        for factor, conv in zip(UPSAMPLING_STEPS[self.scale], self.ups):
            x = _lrelu(conv(upsample_nearest(x, factor)))
        return self.conv_last(_lrelu(self.conv_hr(x)))

    def get_config(self):
        config = super().get_config()
        config.update(num_blocks=self.num_blocks, filters=self.filters, growth=self.growth)
        return config
