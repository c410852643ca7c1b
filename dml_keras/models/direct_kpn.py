"""`DirectKPN`: the paper's baseline that predicts a free K×K kernel at every pixel."""

import keras

from dml_keras.layers.weight_predictor import WeightPredictor
from dml_keras.models.degradation_base import DegradationBase
from dml_keras.ops.filtering import per_pixel_filter


@keras.saving.register_keras_serializable(package="dml_keras")
class DirectKPN(DegradationBase):
    """Per-pixel kernels `(K², unnormalised)` predicted from Y by the DML backbone, applied by `per_pixel_filter`.

    Example:
    >>> import numpy as np
    >>> tuple(DirectKPN(kernel_size=5)(np.zeros((1, 16, 16, 3), "float32")).shape)
    (1, 16, 16, 3)
    """

    def __init__(self, scale=4, kernel_size=15, channels="y", lr_size="same", filters=32, **kwargs):
        super().__init__(scale=scale, kernel_size=kernel_size, channels=channels, lr_size=lr_size, **kwargs)
        self.filters = filters
        self.network = WeightPredictor(kernel_size * kernel_size, filters=filters, activation=None, name="kernel_predictor")

    def build(self, input_shape):
        self.network.build(tuple(input_shape[:3]) + (1,))
        self.built = True

    def generate(self, images, guide):
        kernels = self.network(guide)
        if self.stride > 1:
            kernels = kernels[:, :: self.stride, :: self.stride, :]
        return per_pixel_filter(images, kernels, self.kernel_size, self.stride)

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters)
        return config
