"""`BasisKernels`: the M learnable K×K basis kernels φ_m of DML."""

import keras
import numpy as np
from keras import ops

INITIALIZERS = ("uniform", "gaussian")
CONSTRAINTS = (None, "simplex")


@keras.saving.register_keras_serializable(package="dml_keras")
class UnitSumNonNegative(keras.constraints.Constraint):
    """Projects each kernel (last axis indexes kernels) to be non-negative and sum to one."""

    def __call__(self, w):
        w = ops.relu(w)
        return w / ops.maximum(ops.sum(w, axis=(0, 1), keepdims=True), 1e-8)


def gaussian_family(num_basis, kernel_size):
    """`num_basis` Gaussian kernels, `(K, K, M)`, each summing to one: isotropic widths, then anisotropic ones.

    Example:
    >>> gaussian_family(8, 15).shape
    (15, 15, 8)
    """
    radius = kernel_size // 2
    yy, xx = np.mgrid[-radius : radius + 1, -radius : radius + 1].astype(np.float64)
    kernels = []
    isotropic = max(1, num_basis // 2)
    for index in range(num_basis):
        if index < isotropic:
            sigma_x = sigma_y = 0.5 + 3.5 * index / max(1, isotropic - 1)
            angle = 0.0
        else:
            k = index - isotropic
            sigma_x, sigma_y = 0.8 + 2.0 * (k % 2), 2.5 + 1.0 * (k % 3)
            angle = np.pi * k / max(1, num_basis - isotropic)
        c, s = np.cos(angle), np.sin(angle)
        u, v = c * xx + s * yy, -s * xx + c * yy
        g = np.exp(-0.5 * ((u / sigma_x) ** 2 + (v / sigma_y) ** 2))
        kernels.append(g / g.sum())
    return np.stack(kernels, axis=-1).astype(np.float32)


def starting_kernel(kernel_size, num_basis=8):
    """The blur DML starts from with its default recipe: its Gaussian family mixed at `1/M` each, `(K, K)`, summing to one.

    The baselines start from it too (`DirectKPN(kernel_init="gaussian")`, `DirectNet(residual_on="blur")`).

    Example:
    >>> round(float(starting_kernel(15).sum()), 6)
    1.0
    """
    return gaussian_family(num_basis, kernel_size).mean(axis=-1)


def uniform_family(num_basis, kernel_size, seed=None):
    """Random uniform kernels, `(K, K, M)`, each normalised to sum to one (the paper's initialisation)."""
    values = np.random.default_rng(seed).uniform(0.0, 1.0, (kernel_size, kernel_size, num_basis))
    return (values / values.sum(axis=(0, 1), keepdims=True)).astype(np.float32)


@keras.saving.register_keras_serializable(package="dml_keras")
class BasisKernels(keras.layers.Layer):
    """A bank of `num_basis` learnable `kernel_size × kernel_size` kernels.

    Calling the layer on images `(B, H, W, C)` returns every channel filtered by
    every kernel, `(B, h, w, C, M)` (reflect padding; `stride` for native LR).

    Args:
        num_basis: number of kernels `M` (paper: 8).
        kernel_size: odd `K` (paper: 15).
        initializer: `"uniform"` (random, each kernel sums to 1: the paper) or
            `"gaussian"` (isotropic and anisotropic Gaussians).
        constraint: `None` (free, like the authors' code) or `"simplex"`
            (non-negative, each kernel sums to 1, enforced after every update).
        stride: 1 (same-size LR) or the scale (native-size LR).
        seed: seed of the uniform initialisation.

    Example:
    >>> import numpy as np
    >>> layer = BasisKernels(num_basis=4, kernel_size=5, seed=0)
    >>> tuple(layer(np.zeros((2, 8, 8, 1), "float32")).shape)
    (2, 8, 8, 1, 4)
    """

    def __init__(self, num_basis=8, kernel_size=15, initializer="uniform", constraint=None, stride=1, seed=None, **kwargs):
        super().__init__(**kwargs)
        if kernel_size % 2 != 1 or kernel_size < 1:
            raise ValueError(f"kernel_size must be a positive odd number. Received: kernel_size={kernel_size}")
        if num_basis < 1:
            raise ValueError(f"num_basis must be at least 1. Received: num_basis={num_basis}")
        if initializer not in INITIALIZERS:
            raise ValueError(f"initializer must be one of {INITIALIZERS}. Received: initializer={initializer!r}")
        if constraint not in CONSTRAINTS:
            raise ValueError(f"constraint must be one of {CONSTRAINTS}. Received: constraint={constraint!r}")
        self.num_basis = num_basis
        self.kernel_size = kernel_size
        self.initializer = initializer
        self.constraint = constraint
        self.stride = stride
        self.seed = seed

    def build(self, input_shape=None):
        if self.initializer == "gaussian":
            values = gaussian_family(self.num_basis, self.kernel_size)
        else:
            values = uniform_family(self.num_basis, self.kernel_size, self.seed)
        self.kernels = self.add_weight(
            name="kernels",
            shape=(self.kernel_size, self.kernel_size, self.num_basis),
            initializer=keras.initializers.Constant(values),
            constraint=UnitSumNonNegative() if self.constraint == "simplex" else None,
        )

    def call(self, images):
        from dml_keras.ops.filtering import basis_responses

        return basis_responses(images, self.kernels, self.stride)

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        shrink = (lambda n: None if n is None else -(-n // self.stride))
        return (batch, shrink(height), shrink(width), channels, self.num_basis)

    def arguments(self):
        """The constructor's arguments: what `get_config` adds, and what `SpatiallyVariantFilter` saves of its basis."""
        names = ("num_basis", "kernel_size", "initializer", "constraint", "stride", "seed")
        return {name: getattr(self, name) for name in names}

    def get_config(self):
        return {**super().get_config(), **self.arguments()}
