"""`SpatiallyVariantFilter`: basis kernels + per-pixel weights → degraded image."""

import keras
from keras import ops

from dml_keras.layers.basis_kernels import BasisKernels
from dml_keras.ops.filtering import basis_filter, basis_to_pixel_kernels


@keras.saving.register_keras_serializable(package="dml_keras")
class SpatiallyVariantFilter(keras.layers.Layer):
    """DML's degradation: `LR = Σ_m C(m) ⊙ (HR ⋆ φ_m)` with learnable basis kernels φ.

    Call it on `[images, weights]`: images `(B, H, W, C)` and weights
    `(B, h, w, M)` on the output grid (`h = ceil(H / stride)`); returns
    `(B, h, w, C)`, every channel filtered with the same per-pixel kernel.
    Arguments as `BasisKernels`.

    Example:
    >>> import numpy as np
    >>> layer = SpatiallyVariantFilter(num_basis=4, kernel_size=5, stride=2, seed=0)
    >>> tuple(layer([np.ones((1, 8, 8, 3), "float32"), np.ones((1, 4, 4, 4), "float32")]).shape)
    (1, 4, 4, 3)
    """

    def __init__(self, num_basis=8, kernel_size=15, initializer="uniform", constraint=None, stride=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.basis = BasisKernels(num_basis, kernel_size, initializer, constraint, stride, seed, name="basis")
        self.kernel_size, self.stride = kernel_size, stride

    def build(self, input_shape):
        self.basis.build(input_shape[0])

    def call(self, inputs):
        images, weights = inputs
        return basis_filter(images, self.basis.kernels, weights, self.stride)

    def pixel_kernels(self, weights):
        """The per-pixel kernels `(B, h, w, K, K)` that `weights` select."""
        flat = basis_to_pixel_kernels(self.basis.kernels, weights)
        shape = ops.shape(flat)
        return ops.reshape(flat, (shape[0], shape[1], shape[2], self.kernel_size, self.kernel_size))

    def compute_output_shape(self, input_shape):
        images_shape, weights_shape = input_shape
        return tuple(weights_shape[:3]) + (images_shape[-1],)

    def get_config(self):
        return {**super().get_config(), **self.basis.arguments()}
