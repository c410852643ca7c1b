"""Pictures of what a degradation model learned (the paper's Figs. 2–4)."""

import math

import numpy as np


def kernel_grid(kernels, columns=None, gap=1, upscale=8):
    """Tile `(K, K, M)` kernels into one grey image in `[0, 1]`, each kernel min-max scaled.

    Example:
    >>> kernel_grid(np.random.default_rng(0).random((15, 15, 8))).shape
    (241, 483)
    """
    kernels = np.asarray(kernels, np.float64)
    size, count = kernels.shape[0], kernels.shape[-1]
    columns = columns or min(count, math.ceil(math.sqrt(count * 2)))
    rows = math.ceil(count / columns)
    cell = size * upscale
    grid = np.ones((rows * (cell + gap) - gap, columns * (cell + gap) - gap))
    for index in range(count):
        kernel = kernels[..., index]
        span = kernel.max() - kernel.min()
        kernel = (kernel - kernel.min()) / span if span > 0 else np.zeros_like(kernel)
        kernel = np.kron(kernel, np.ones((upscale, upscale)))
        r, c = divmod(index, columns)
        grid[r * (cell + gap) : r * (cell + gap) + cell, c * (cell + gap) : c * (cell + gap) + cell] = kernel
    return grid.astype(np.float32)
