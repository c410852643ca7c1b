"""`DirectNet`: the paper's baseline that maps HR to LR directly (residual on HR)."""

import keras
from keras import ops

from dml_keras.layers.weight_predictor import WeightPredictor
from dml_keras.models.degradation_base import DegradationBase


@keras.saving.register_keras_serializable(package="dml_keras")
class DirectNet(DegradationBase):
    """`LR = HR + F(HR)` with the DML backbone ending in a linear conv to the image channels.

    A Y model given RGB runs on each channel separately. For native-size LR
    the output is sampled every `scale` pixels.

    Example:
    >>> import numpy as np
    >>> tuple(DirectNet()(np.zeros((1, 16, 16, 1), "float32")).shape)
    (1, 16, 16, 1)
    """

    def __init__(self, scale=4, kernel_size=15, channels="y", lr_size="same", filters=32, **kwargs):
        super().__init__(scale=scale, kernel_size=kernel_size, channels=channels, lr_size=lr_size, **kwargs)
        self.filters = filters
        self.image_channels = 1 if channels == "y" else 3
        self.network = WeightPredictor(self.image_channels, filters=filters, activation=None, name="network")

    def build(self, input_shape):
        self.network.build(tuple(input_shape[:3]) + (self.image_channels,))
        self.built = True

    def generate(self, images, guide):
        shape = ops.shape(images)
        if images.shape[-1] != self.image_channels:  # Y model on RGB: one plane at a time
            planes = ops.reshape(ops.transpose(images, (0, 3, 1, 2)), (shape[0] * shape[3], shape[1], shape[2], 1))
            out = planes + self.network(planes)
            out = ops.transpose(ops.reshape(out, (shape[0], shape[3], shape[1], shape[2])), (0, 2, 3, 1))
        else:
            out = images + self.network(images)
        return out[:, :: self.stride, :: self.stride, :] if self.stride > 1 else out

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters)
        return config
