"""Real-ESRGAN's hand-crafted image operations (Wang et al., ICCVW 2021, with its published defaults).

Blur kernels (isotropic, anisotropic, generalized and plateau Gaussians, sinc),
resizing, Gaussian and Poisson noise, JPEG, and `second_order`: two stages of
blur → resize → noise → JPEG, then a resize to the LR size with a sinc filter
and a JPEG pass in random order. Every random choice comes from a generator
keyed by `(key, visit)` (`_rng`). NumPy, SciPy and OpenCV, with TensorFlow's
JPEG codec; the degradation models built on them are in
`dml_keras.models.handcrafted`.
"""

import dataclasses

import cv2
import numpy as np
from scipy import special

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
RESIZE_MODES = {"area": cv2.INTER_AREA, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
MAX_KERNEL_SIZE = 21


# ----------------------------------------------------------------------------- kernels


def sigma_matrix(sigma_x, sigma_y, theta):
    """The covariance `R diag(σx², σy²) Rᵀ` of a Gaussian rotated by `theta` (radians)."""
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return rotation @ np.diag([sigma_x**2, sigma_y**2]) @ rotation.T


def _quadratic_form(kernel_size, covariance):
    """`xᵀ Σ⁻¹ x` on the `kernel_size`² grid centred on the middle tap."""
    half = kernel_size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    grid = np.stack([x, y], -1)
    return np.einsum("...i,ij,...j->...", grid, np.linalg.inv(covariance), grid)


def shaped_kernel(kernel_size, sigma_x, sigma_y=None, theta=0.0, shape="gaussian", beta=1.0):
    """A normalised blur kernel: `"gaussian"` `exp(-q/2)`, `"generalized"` `exp(-q^β/2)` or `"plateau"` `1/(1+q^β)`.

    `q = xᵀ Σ⁻¹ x` with `Σ = sigma_matrix(sigma_x, sigma_y, theta)`; `sigma_y=None` is isotropic.

    Example:
    >>> k = shaped_kernel(7, 1.0)
    >>> round(float(k.sum()), 6), k.shape
    (1.0, (7, 7))
    """
    if kernel_size % 2 != 1:
        raise ValueError(f"kernel_size must be odd. Received: kernel_size={kernel_size}")
    q = _quadratic_form(kernel_size, sigma_matrix(sigma_x, sigma_x if sigma_y is None else sigma_y, theta))
    if shape == "gaussian":
        kernel = np.exp(-0.5 * q)
    elif shape == "generalized":
        kernel = np.exp(-0.5 * np.power(q, beta))
    elif shape == "plateau":
        kernel = 1.0 / (np.power(q, beta) + 1.0)
    else:
        raise ValueError(f"shape must be 'gaussian', 'generalized' or 'plateau'. Received: shape={shape!r}")
    return kernel / kernel.sum()


def sinc_kernel(cutoff, kernel_size):
    """The ideal circular low-pass (2-D sinc) of angular `cutoff` (radians per pixel), normalised.

    `k(r) = cutoff · J1(cutoff · r) / (2π r)`, with its limit `cutoff² / (4π)` at
    the centre: it rings like an over-sharpened or band-limited camera path.
    """
    half = kernel_size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    radius = np.hypot(x, y)
    with np.errstate(invalid="ignore", divide="ignore"):
        kernel = cutoff * special.j1(cutoff * radius) / (2 * np.pi * radius)
    kernel[half, half] = cutoff**2 / (4 * np.pi)
    return kernel / kernel.sum()


def pad_kernel(kernel, size=MAX_KERNEL_SIZE):
    """Zero-pad a square kernel to `size`² (centred)."""
    pad = (size - kernel.shape[0]) // 2
    return np.pad(kernel, pad)


# ----------------------------------------------------------------------------- settings


@dataclasses.dataclass(frozen=True)
class StageSettings:
    """One blur → resize → noise stage (the JPEG range is shared)."""

    blur_prob: float
    sigma: tuple
    kernel_probs: tuple = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
    generalized_beta: tuple = (0.5, 4.0)
    plateau_beta: tuple = (1.0, 2.0)
    sinc_prob: float = 0.1
    resize_probs: tuple = (0.2, 0.7, 0.1)  # up, down, keep
    resize_range: tuple = (0.15, 1.5)
    gaussian_noise_prob: float = 0.5
    noise_sigma: tuple = (1.0, 30.0)  # 0–255 scale
    poisson_scale: tuple = (0.05, 3.0)
    gray_noise_prob: float = 0.4


# Real-ESRGAN's published training defaults (x4plus).
FIRST_STAGE = StageSettings(blur_prob=1.0, sigma=(0.2, 3.0))
SECOND_STAGE = StageSettings(blur_prob=0.8, sigma=(0.2, 1.5), resize_probs=(0.3, 0.4, 0.3), resize_range=(0.3, 1.2),
                             noise_sigma=(1.0, 25.0), poisson_scale=(0.05, 2.5))
JPEG_QUALITY = (30, 95)
FINAL_SINC_PROB = 0.8


def _rng(key, visit):
    return np.random.default_rng([int(key), int(visit)])


def random_blur_kernel(rng, stage=FIRST_STAGE):
    """A kernel as Real-ESRGAN draws it: odd size 7–21, a sinc with `stage.sinc_prob`, else one of
    `KERNEL_TYPES` with `stage.kernel_probs`; zero-padded to 21²."""
    size = int(rng.choice(np.arange(7, MAX_KERNEL_SIZE + 1, 2)))
    if rng.uniform() < stage.sinc_prob:
        cutoff = rng.uniform(np.pi / 3, np.pi) if size < 13 else rng.uniform(np.pi / 5, np.pi)
        return pad_kernel(sinc_kernel(cutoff, size))
    kind = KERNEL_TYPES[rng.choice(len(KERNEL_TYPES), p=np.asarray(stage.kernel_probs) / sum(stage.kernel_probs))]
    shape = "gaussian" if kind in ("iso", "aniso") else kind.split("_")[0]
    beta = 1.0
    if shape == "generalized":  # β < 1 half the time: heavy tails and sharp peaks alike
        beta = rng.uniform(stage.generalized_beta[0], 1) if rng.uniform() < 0.5 else rng.uniform(1, stage.generalized_beta[1])
    elif shape == "plateau":
        beta = rng.uniform(*stage.plateau_beta)
    sigma_x = rng.uniform(*stage.sigma)
    if kind.endswith("iso") and not kind.endswith("aniso"):
        sigma_y, theta = sigma_x, 0.0
    else:
        sigma_y, theta = rng.uniform(*stage.sigma), rng.uniform(-np.pi, np.pi)
    return pad_kernel(shaped_kernel(size, sigma_x, sigma_y, theta, shape, beta))


# ----------------------------------------------------------------------------- operations on one image


def blur(image, kernel):
    """Correlate each channel with `kernel`, reflecting at the borders (as BasicSR's `filter2D`)."""
    out = cv2.filter2D(np.ascontiguousarray(image, np.float32), -1, kernel.astype(np.float32),
                       borderType=cv2.BORDER_REFLECT_101)
    return out.reshape(image.shape)


def resize(image, size, mode):
    """Resize `(H, W, C)` to `size = (h, w)` with OpenCV's `"area"`, `"bilinear"` or `"bicubic"`."""
    height, width = max(1, int(size[0])), max(1, int(size[1]))
    out = cv2.resize(np.ascontiguousarray(image, np.float32), (width, height), interpolation=RESIZE_MODES[mode])
    return out.reshape(height, width, image.shape[-1])


def gaussian_noise(image, rng, sigma, gray):
    """`image` plus white Gaussian noise of `sigma` (0–255 scale), the same in every channel if `gray`."""
    shape = image.shape[:2] + (1,) if gray else image.shape
    return image + rng.standard_normal(shape).astype(np.float32) * np.float32(sigma / 255.0)


def poisson_noise(image, rng, scale, gray):
    """Shot noise as Real-ESRGAN draws it: Poisson counts at the image's number of grey levels, times `scale`."""
    def shot(values):
        quantized = np.clip(np.round(values * 255.0), 0, 255) / 255.0
        levels = 2 ** np.ceil(np.log2(max(len(np.unique(quantized)), 2)))
        return (rng.poisson(quantized * levels) / levels - quantized).astype(np.float32)

    if gray:
        noise = shot(cv2.cvtColor(np.ascontiguousarray(image[..., :3], np.float32), cv2.COLOR_RGB2GRAY)[..., None])
    else:
        noise = shot(image)
    return image + noise * np.float32(scale)


def jpeg(image, quality):
    """JPEG-compress an RGB image in `[0, 1]` at `quality` and decode it: `tf.image.adjust_jpeg_quality`'s codec.

    Encoded and decoded with TensorFlow's libjpeg settings (4:2:0 chroma, its
    default DCT), so the artifacts are those of `tf.image.adjust_jpeg_quality`
    (OpenCV's decoder differs by ~1 grey level on average).
    """
    import tensorflow as tf

    pixels = np.clip(np.round(np.asarray(image, np.float32) * 255.0), 0, 255).astype(np.uint8)
    decoded = tf.io.decode_jpeg(tf.io.encode_jpeg(pixels, quality=int(quality)), channels=3)
    return decoded.numpy().astype(np.float32) / 255.0


def _random_noise(image, rng, stage):
    gray = rng.uniform() < stage.gray_noise_prob
    if rng.uniform() < stage.gaussian_noise_prob:
        return gaussian_noise(image, rng, rng.uniform(*stage.noise_sigma), gray)
    return poisson_noise(image, rng, rng.uniform(*stage.poisson_scale), gray)


def _random_jpeg(image, rng, quality=JPEG_QUALITY):
    return jpeg(np.clip(image, 0, 1), int(rng.integers(quality[0], quality[1] + 1)))


def _random_mode(rng):
    return list(RESIZE_MODES)[rng.integers(len(RESIZE_MODES))]


def _random_factor(rng, stage):
    direction = rng.choice(3, p=stage.resize_probs)
    low, high = stage.resize_range
    # both factors are drawn whatever the direction: this order of draws made the shipped table2 models
    return (rng.uniform(1, high), rng.uniform(low, 1), 1.0)[direction]


def _final_sinc(rng):
    if rng.uniform() < FINAL_SINC_PROB:
        return pad_kernel(sinc_kernel(rng.uniform(np.pi / 3, np.pi), int(rng.choice(np.arange(7, MAX_KERNEL_SIZE + 1, 2)))))
    return None


def second_order(image, rng, scale):
    """Real-ESRGAN's two-stage degradation of one RGB HR image `(H, W, 3)` to `(H // scale, W // scale, 3)`."""
    height, width = image.shape[:2]
    out = blur(image, random_blur_kernel(rng, FIRST_STAGE))
    factor = _random_factor(rng, FIRST_STAGE)
    out = resize(out, (height * factor, width * factor), _random_mode(rng))
    out = np.clip(_random_noise(out, rng, FIRST_STAGE), 0, 1)
    out = _random_jpeg(out, rng)
    if rng.uniform() < SECOND_STAGE.blur_prob:
        out = blur(out, random_blur_kernel(rng, SECOND_STAGE))
    factor = _random_factor(rng, SECOND_STAGE)
    out = resize(out, (height / scale * factor, width / scale * factor), _random_mode(rng))
    out = np.clip(_random_noise(out, rng, SECOND_STAGE), 0, 1)
    sinc, mode = _final_sinc(rng), _random_mode(rng)

    def resize_and_sinc(x):
        x = resize(x, (height // scale, width // scale), mode)
        return blur(x, sinc) if sinc is not None else x

    if rng.uniform() < 0.5:
        out = _random_jpeg(resize_and_sinc(out), rng)
    else:
        out = resize_and_sinc(_random_jpeg(out, rng))
    return np.clip(np.round(out * 255.0), 0, 255) / 255.0


# ----------------------------------------------------------------------------- models
