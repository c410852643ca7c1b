"""`DirectKPN`: the paper's baseline that predicts a free K×K kernel at every pixel."""

import keras

from dml_keras.layers.basis_kernels import starting_kernel
from dml_keras.layers.weight_predictor import WeightPredictor
from dml_keras.models.degradation_base import DegradationBase
from dml_keras.ops.filtering import per_pixel_filter


KERNEL_INITS = ("gaussian", "random")


@keras.saving.register_keras_serializable(package="dml_keras")
class DirectKPN(DegradationBase):
    """Per-pixel kernels `(K², unnormalised)` predicted from Y by the DML backbone, applied by `per_pixel_filter`.

    Args:
        kernel_init: how the kernels start. `"gaussian"`: every pixel's kernel
            is DML's starting kernel (the mean of its Gaussian basis family,
            summing to 1; the network's last layer starts at zero), so both
            models begin from the same blur; `"random"`: the last layer starts
            at random, as any network (the paper's baseline), and the first
            kernels are noise.
        filters: the network's width. Others: as `DegradationBase`.

    Example:
    >>> import numpy as np
    >>> tuple(DirectKPN(kernel_size=5)(np.zeros((1, 16, 16, 3), "float32")).shape)
    (1, 16, 16, 3)
    """

    def __init__(self, scale=4, kernel_size=15, channels="y", lr_size="same", filters=32, kernel_init="gaussian",
                 **kwargs):
        super().__init__(scale=scale, kernel_size=kernel_size, channels=channels, lr_size=lr_size, **kwargs)
        if kernel_init not in KERNEL_INITS:
            raise ValueError(f"kernel_init must be one of {KERNEL_INITS}. Received: kernel_init={kernel_init!r}")
        self.filters, self.kernel_init = filters, kernel_init
        start = {}
        if kernel_init == "gaussian":
            start = dict(output_bias=starting_kernel(kernel_size).reshape(-1).tolist(), output_kernel_initializer="zeros")
        self.network = WeightPredictor(kernel_size * kernel_size, filters=filters, activation=None,
                                       name="kernel_predictor", **start)

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
        config.update(filters=self.filters, kernel_init=self.kernel_init)
        return config
