"""`UNetDiscriminator`: Real-ESRGAN's U-Net discriminator with spectral normalization.

It scores every pixel of an HR-sized image as real or generated (a logit
map the size of its input), so it judges local texture rather than the
whole picture.
"""

import keras
from keras import layers, ops

from dml_keras.ops.pixel_shuffle import upsample_bilinear2x


def _lrelu(x):
    return ops.leaky_relu(x, 0.2)


@keras.saving.register_keras_serializable(package="dml_keras")
class UNetDiscriminator(keras.Model):
    """3×3 conv → three 4×4 stride-2 convs (`f`→2f→4f→8f) → bilinear ×2 + 3×3 conv + skip, three times →
    two 3×3 convs → a 3×3 conv to one logit per pixel. LeakyReLU 0.2; spectral normalization
    (`keras.layers.SpectralNormalization`) on every convolution but the first and the last, which
    alone have biases, as published.

    Args:
        filters: `f`, the first convolution's channels (Real-ESRGAN: 64, 4.38 M parameters).

    Inputs need sides divisible by 8.

    Example:
    >>> import numpy as np
    >>> d = UNetDiscriminator(filters=8)
    >>> tuple(d(np.zeros((2, 16, 24, 3), "float32")).shape)
    (2, 16, 24, 1)
    """

    def __init__(self, filters=64, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters

        def normalized(channels, size, stride, name):
            conv = layers.Conv2D(channels, size, strides=stride, padding="same", use_bias=False, name=name)
            return layers.SpectralNormalization(conv, name=f"{name}_sn")

        f = filters
        self.conv0 = layers.Conv2D(f, 3, padding="same", name="conv0")
        self.down = [normalized(c, 4, 2, f"conv{i + 1}") for i, c in enumerate((2 * f, 4 * f, 8 * f))]
        self.up = [normalized(c, 3, 1, f"conv{i + 4}") for i, c in enumerate((4 * f, 2 * f, f))]
        self.extra = [normalized(f, 3, 1, f"conv{i + 7}") for i in range(2)]
        self.conv_last = layers.Conv2D(1, 3, padding="same", name="conv9")

    def build(self, input_shape):
        channels = [input_shape[-1], self.filters, 2 * self.filters, 4 * self.filters, 8 * self.filters]
        self.conv0.build((None, None, None, channels[0]))
        for layer, c in zip(self.down, channels[1:4]):
            layer.build((None, None, None, c))
        for layer, c in zip(self.up, channels[4:1:-1]):
            layer.build((None, None, None, c))
        for layer in self.extra:
            layer.build((None, None, None, self.filters))
        self.conv_last.build((None, None, None, self.filters))

    def call(self, images, training=False):
        skips = [_lrelu(self.conv0(images))]
        for layer in self.down:
            skips.append(_lrelu(layer(skips[-1], training=training)))
        x = skips.pop()
        for layer in self.up:
            x = _lrelu(layer(upsample_bilinear2x(x), training=training)) + skips.pop()
        for layer in self.extra:
            x = _lrelu(layer(x, training=training))
        return self.conv_last(x)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters)
        return config
