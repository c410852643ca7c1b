"""`GlobalKernel`: one K×K kernel for the whole image (the authors' "uniform" baseline).

The kernel is best fitted in closed form: `least_squares_kernel` solves the
normal equations of the training loss over every interior pixel, so the
baseline sits at the bound no single kernel can beat (gradient training of
the same kernel converges slowly towards it).
"""

import keras
import numpy as np

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

    def set_kernel(self, kernel):
        """Use `kernel` `(K, K)` (correlation: `kernel[r + dy, r + dx]` weighs the HR pixel at offset `(dy, dx)`)."""
        kernel = np.asarray(kernel, dtype=np.float32)
        if kernel.shape != (self.kernel_size, self.kernel_size):
            raise ValueError(f"kernel must be {self.kernel_size}×{self.kernel_size}. Received: shape={kernel.shape}")
        if not self.built:
            self.build((None, None, None, 1 if self.channels == "y" else 3))
        self.kernel.kernels.assign(kernel[..., None])

    def get_config(self):
        config = super().get_config()
        config.update(initializer=self.initializer)
        return config


def least_squares_kernel(images, targets, kernel_size=15, stride=1, border=None, rows_per_step=32):
    """The `K×K` kernel minimising `Σ (HR ⋆ k − LR)²` over every interior output pixel of every pair.

    Accumulates the normal equations (`K² × K²`, float64) image by image, so
    memory does not grow with the data, and solves them exactly.

    Args:
        images: HR images, each `(H, W)` or `(H, W, C)`; channels are pooled
            (one kernel for all, as `GlobalKernel` applies it).
        targets: the matching LR, `(H, W[, C])` (`stride=1`, same-size LR) or
            `(ceil(H / stride), ceil(W / stride)[, C])` (native LR).
        kernel_size: odd `K`.
        stride: 1, or the scale for native-size LR (output `(i, j)` sees the
            HR window centred at `(i·stride, j·stride)`).
        border: output pixels left out on each side; default the training
            loss's, `ceil((K // 2) / stride)`, so no window reaches the padding.

    Returns:
        float64 `(K, K)`, in the orientation `GlobalKernel.set_kernel` takes.

    Example:
    >>> rng = np.random.default_rng(0)
    >>> hr = rng.random((40, 40))
    >>> lr = 0.5 * hr[1:-1, 1:-1] + 0.25 * (hr[:-2, 1:-1] + hr[2:, 1:-1])   # vertical [¼, ½, ¼]
    >>> k = least_squares_kernel([hr], [np.pad(lr, 1)], kernel_size=3)
    >>> (np.round(k, 6) + 0.0).tolist()
    [[0.0, 0.25, 0.0], [0.0, 0.5, 0.0], [0.0, 0.25, 0.0]]
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd. Received: kernel_size={kernel_size}")
    radius = kernel_size // 2
    border = -(-radius // stride) if border is None else border
    gram = np.zeros((kernel_size**2, kernel_size**2))
    moment = np.zeros(kernel_size**2)
    count = 0
    for hr, lr in zip(images, targets):
        hr, lr = np.asarray(hr, np.float64), np.asarray(lr, np.float64)
        hr, lr = (hr[..., None] if hr.ndim == 2 else hr), (lr[..., None] if lr.ndim == 2 else lr)
        out_h, out_w = lr.shape[:2]
        if out_h - 2 * border < 1 or out_w - 2 * border < 1:
            raise ValueError(f"an LR image of {out_h}×{out_w} has no pixels inside a border of {border}")
        for top in range(border, out_h - border, rows_per_step):
            bottom = min(top + rows_per_step, out_h - border)
            # HR rows the windows of output rows top..bottom-1 cover (all inside the image)
            band = hr[top * stride - radius : (bottom - 1) * stride + radius + 1]
            windows = np.lib.stride_tricks.sliding_window_view(band, (kernel_size, kernel_size), axis=(0, 1))
            windows = windows[::stride, border * stride - radius :: stride][:, : out_w - 2 * border]
            # (rows, cols, C, K, K) → one row per output pixel and channel
            design = windows.reshape(-1, kernel_size**2)
            values = lr[top:bottom, border : out_w - border].reshape(-1)
            gram += design.T @ design
            moment += design.T @ values
            count += values.size
    if not count:
        raise ValueError("least_squares_kernel needs at least one image pair")
    return np.linalg.solve(gram, moment).reshape(kernel_size, kernel_size)
