"""PSNR and SSIM as the SR literature computes them (BasicSR conventions).

Crop `crop_border` pixels on every side, convert to MATLAB Y (optional), then
PSNR in float64 with peak 255, and SSIM with an 11×11 Gaussian window
(σ = 1.5), "valid" filtering, C1 = (0.01·255)², C2 = (0.03·255)².

The math is written once in `keras.ops` (`psnr_on_batch`, `ssim_on_batch`):
the NumPy-facing functions run it in float64, the Keras metrics in the
model's float type inside `fit()`.
"""

import keras
import numpy as np
from keras import ops

from dml_keras.ops.color import rgb_to_y

_PEAK = 255.0


def _gaussian_window(size=11, sigma=1.5):
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    g /= g.sum()
    return np.outer(g, g)


def _crop_and_y(images, crop_border, y_channel):
    # float64 stays (reference comparisons); anything else (float16/bfloat16 under mixed precision) is scored in float32
    wide = keras.backend.standardize_dtype(getattr(images, "dtype", "float32")) == "float64"
    images = ops.cast(images, "float64" if wide else "float32")
    if crop_border:
        images = images[:, crop_border:-crop_border, crop_border:-crop_border, :]
    if y_channel and images.shape[-1] == 3:
        images = rgb_to_y(images)
    return images * _PEAK


def psnr_on_batch(a, b, crop_border=0, y_channel=True):
    """Per-image PSNR (dB) of `(N, H, W, C)` tensors in `[0, 1]` → `(N,)`."""
    a, b = _crop_and_y(a, crop_border, y_channel), _crop_and_y(b, crop_border, y_channel)
    mse = ops.mean(ops.square(a - b), axis=(1, 2, 3))
    return 10.0 * ops.log10(_PEAK**2 / ops.maximum(mse, 1e-20))


def ssim_on_batch(a, b, crop_border=0, y_channel=True):
    """Per-image SSIM of `(N, H, W, C)` tensors in `[0, 1]` → `(N,)` (mean over channels)."""
    a, b = _crop_and_y(a, crop_border, y_channel), _crop_and_y(b, crop_border, y_channel)
    channels = a.shape[-1]
    window = np.tile(_gaussian_window()[:, :, None, None], (1, 1, channels, 1))
    window = ops.cast(window, a.dtype)

    def blur(x):
        return ops.depthwise_conv(x, window, strides=1, padding="valid")

    c1, c2 = (0.01 * _PEAK) ** 2, (0.03 * _PEAK) ** 2
    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return ops.mean(ssim_map, axis=(1, 2, 3))


def to_float_batch(image):
    """uint8/uint16/float image(s), HWC or NHWC → float64 NHWC in `[0, 1]` and whether a batch was given."""
    array = np.asarray(image)
    if array.dtype == np.uint8:
        array = array / 255.0
    elif array.dtype == np.uint16:
        array = array / 65535.0
    array = array.astype(np.float64)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim not in (3, 4):
        raise ValueError(f"Expected an (H, W, C) image or an (N, H, W, C) batch. Received shape {array.shape}")
    batched = array.ndim == 4
    return (array if batched else array[None]), batched


def _evaluate(function, a, b, crop_border, y_channel):
    a, batched = to_float_batch(a)
    b, _ = to_float_batch(b)
    if a.shape != b.shape:
        raise ValueError(f"Images must have the same shape. Received {a.shape[1:]} and {b.shape[1:]}")
    if crop_border and min(a.shape[1:3]) <= 2 * crop_border:
        raise ValueError(f"crop_border={crop_border} leaves nothing of a {a.shape[1]}×{a.shape[2]} image")
    values = ops.convert_to_numpy(function(ops.convert_to_tensor(a), ops.convert_to_tensor(b), crop_border, y_channel))
    return values.astype(np.float64) if batched else float(values[0])


def psnr(a, b, crop_border=0, y_channel=True):
    """PSNR in dB between two RGB images (or batches), as BasicSR's `calculate_psnr`.

    Args:
        a, b: `(H, W, 3)` or `(N, H, W, 3)` RGB (or 1-channel), uint8, uint16 or float in `[0, 1]`.
        crop_border: pixels removed on each side before measuring.
        y_channel: measure on MATLAB Y (`True`, the SR convention) or on all channels.

    Returns:
        float for one image; a `(N,)` float64 array for a batch.

    Example:
    >>> import numpy as np
    >>> a = np.zeros((8, 8, 3), np.uint8); b = a.copy(); b[0, 0] = 255
    >>> round(psnr(a, b, y_channel=False), 2)
    18.06
    """
    return _evaluate(psnr_on_batch, a, b, crop_border, y_channel)


def ssim(a, b, crop_border=0, y_channel=True):
    """SSIM between two RGB images (or batches), as BasicSR's `calculate_ssim`.

    Same arguments and returns as `psnr`; images must be at least 11×11 after cropping.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((32, 32, 3))
    >>> ssim(x, x)
    1.0
    """
    return _evaluate(ssim_on_batch, a, b, crop_border, y_channel)


def color_error(a, b, crop_border=0, block=8):
    """Mean colour error: the mean absolute difference (0-255 scale, over R, G and B) between `block`×`block`
    averages of two RGB images in `[0, 1]`, after cropping `crop_border` pixels. It sees colour and exposure
    shifts and is blind to texture, so a sharper or softer output of the right colours scores near 0.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((32, 32, 3))
    >>> color_error(x, x), round(color_error(x, x + 0.01), 2)
    (0.0, 2.55)
    """
    a, b = (np.asarray(x, np.float64) for x in (a, b))
    if crop_border:
        a, b = (x[crop_border:-crop_border, crop_border:-crop_border] for x in (a, b))
    h, w = a.shape[0] // block * block, a.shape[1] // block * block

    def low(x):
        return x[:h, :w].reshape(h // block, block, w // block, block, -1).mean(axis=(1, 3))

    return float(np.mean(np.abs(low(a) - low(b))) * 255)


@keras.saving.register_keras_serializable(package="dml_keras")
class PSNR(keras.metrics.MeanMetricWrapper):
    """Mean PSNR (dB) over images, for `model.compile(metrics=[PSNR()])`.

    Inputs in `[0, 1]`; 3-channel inputs are measured on Y when `y_channel`.

    Example:
    >>> m = PSNR(crop_border=4)
    >>> m.update_state(np.zeros((1, 16, 16, 1)), np.full((1, 16, 16, 1), 0.1))
    >>> round(float(m.result()), 2)
    20.0
    """

    def __init__(self, crop_border=0, y_channel=True, name="psnr", dtype=None, **kwargs):
        super().__init__(psnr_on_batch, name=name, dtype=dtype, crop_border=crop_border, y_channel=y_channel)
        self.crop_border = crop_border
        self.y_channel = y_channel

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "crop_border": self.crop_border, "y_channel": self.y_channel}


@keras.saving.register_keras_serializable(package="dml_keras")
class SSIM(keras.metrics.MeanMetricWrapper):
    """Mean SSIM over images, for `model.compile(metrics=[SSIM()])` (same arguments as `PSNR`).

    Example:
    >>> m = SSIM()
    >>> x = np.random.default_rng(0).random((2, 16, 16, 1)).astype("float32")
    >>> m.update_state(x, x)
    >>> round(float(m.result()), 4)
    1.0
    """

    def __init__(self, crop_border=0, y_channel=True, name="ssim", dtype=None, **kwargs):
        super().__init__(ssim_on_batch, name=name, dtype=dtype, crop_border=crop_border, y_channel=y_channel)
        self.crop_border = crop_border
        self.y_channel = y_channel

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, "crop_border": self.crop_border, "y_channel": self.y_channel}
