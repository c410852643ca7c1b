"""`GlobalKernel`: one learned K×K kernel for the whole image (the authors' "uniform" baseline)."""

import keras

from dml_keras.layers.basis_kernels import BasisKernels
from dml_keras.models.degradation_base import DegradationBase


@keras.saving.register_keras_serializable(package="dml_keras")
class GlobalKernel(DegradationBase):
    """`LR = HR ⋆ k` with one learnable kernel (initialised as a narrow Gaussian, sum 1).

    Example:
    >>> import numpy as np
    >>> model = GlobalKernel(kernel_size=5)
    >>> x = np.random.default_rng(0).random((1, 12, 12, 1)).astype("float32")
    >>> bool(abs(float(model(x).numpy().mean()) - float(x.mean())) < 0.05)
    True
    """

    def __init__(self, scale=4, kernel_size=15, channels="y", lr_size="same", initializer="gaussian", **kwargs):
        super().__init__(scale=scale, kernel_size=kernel_size, channels=channels, lr_size=lr_size, **kwargs)
        self.initializer = initializer
        self.kernel = BasisKernels(1, kernel_size, initializer=initializer, stride=self.stride, name="kernel")

    def build(self, input_shape):
        self.kernel.build(input_shape)
        self.built = True

    def generate(self, images, guide):
        return self.kernel(images)[..., 0]

    def get_config(self):
        config = super().get_config()
        config.update(initializer=self.initializer)
        return config
