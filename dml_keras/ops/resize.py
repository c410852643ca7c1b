"""MATLAB-compatible bicubic ``imresize`` (antialiased when shrinking).

MATLAB's ``imresize(img, scale, 'bicubic')`` is separable: along each axis,
every output pixel is a weighted sum of input pixels under the Keys cubic
kernel (a = -0.5), widened by ``1/scale`` when shrinking (antialiasing), with
symmetric padding at the borders. Here each axis becomes one dense
``(out, in)`` weight matrix, so the whole resize is two matrix products and
exactly the same linear map as MATLAB's (up to float rounding).
"""

import functools

import numpy as np


def _cubic(x):
    absx = np.abs(x)
    absx2, absx3 = absx**2, absx**3
    inner = (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1)
    outer = (-0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0) * ((absx > 1) & (absx <= 2))
    return inner + outer


@functools.lru_cache(maxsize=64)
def resize_matrix(in_length, out_length, scale, antialiasing=True):
    """The `(out_length, in_length)` float64 matrix that resizes one axis like MATLAB.

    Example:
    >>> m = resize_matrix(8, 4, 0.5)
    >>> m.shape, bool(np.allclose(m.sum(axis=1), 1.0))
    ((4, 8), True)
    """
    kernel_width = 4.0
    shrink_aa = scale < 1 and antialiasing
    if shrink_aa:
        kernel_width /= scale
    x = np.arange(1, out_length + 1, dtype=np.float64)
    center = x / scale + 0.5 * (1.0 - 1.0 / scale)  # 1-based input coordinate
    left = np.floor(center - kernel_width / 2.0)
    taps = int(np.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps)[None, :]  # 1-based, may leave [1, in]
    distance = center[:, None] - indices
    weights = scale * _cubic(distance * scale) if shrink_aa else _cubic(distance)
    weights /= weights.sum(axis=1, keepdims=True)
    # Symmetric padding, as MATLAB: ... 2 1 | 1 2 ... n | n n-1 ...
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    columns = mirror[np.mod(indices.astype(np.int64) - 1, 2 * in_length)]
    matrix = np.zeros((out_length, in_length), dtype=np.float64)
    rows = np.repeat(np.arange(out_length), taps)
    np.add.at(matrix, (rows, columns.ravel()), weights.ravel())
    matrix.setflags(write=False)
    return matrix


def imresize(image, scale=None, output_size=None, antialiasing=True):
    """Resize like MATLAB ``imresize(image, scale, 'bicubic')``.

    Args:
        image: `(H, W)` or `(H, W, C)` array; uint8/uint16 or float.
        scale: resize factor (e.g. `1/4` to shrink by 4); or give `output_size`.
        output_size: `(height, width)` of the result; its scale per axis is
            `out / in` (MATLAB's behaviour when both are given).
        antialiasing: widen the kernel when shrinking (MATLAB's default).

    Returns:
        `(h, w[, C])`. Float input gives float32, neither clipped nor rounded.
        Integer input (uint8, uint16) gives the same integer type, rounded and
        clipped after each axis pass exactly as MATLAB does for such images.

    Example:
    >>> import numpy as np
    >>> imresize(np.ones((16, 12, 3)), scale=0.25).shape
    (4, 3, 3)
    """
    image = np.asarray(image)
    if image.ndim not in (2, 3):
        raise ValueError(f"imresize expects an (H, W) or (H, W, C) image. Received shape {image.shape}")
    height, width = image.shape[:2]
    if output_size is None:
        if scale is None or scale <= 0:
            raise ValueError(f"Give a positive `scale` or an `output_size`. Received scale={scale}")
        output_size = (int(np.ceil(height * scale)), int(np.ceil(width * scale)))
        scales = (scale, scale)
    else:
        scales = (output_size[0] / height, output_size[1] / width)
    rows = resize_matrix(height, int(output_size[0]), float(scales[0]), antialiasing)
    cols = resize_matrix(width, int(output_size[1]), float(scales[1]), antialiasing)
    integer = np.issubdtype(image.dtype, np.integer)

    def finish(values):
        # MATLAB returns integer images as integers after each axis pass.
        if not integer:
            return values
        info = np.iinfo(image.dtype)
        return np.clip(np.round(values), info.min, info.max)

    data = image.astype(np.float64)
    # MATLAB resizes the axis with the smaller scale first (rows on a tie).
    if scales[0] <= scales[1]:
        out = finish(np.tensordot(rows, data, axes=(1, 0)))
        out = finish(np.moveaxis(np.tensordot(cols, out, axes=(1, 1)), 0, 1))
    else:
        out = finish(np.moveaxis(np.tensordot(cols, data, axes=(1, 1)), 0, 1))
        out = finish(np.tensordot(rows, out, axes=(1, 0)))
    return out.astype(image.dtype if integer else np.float32)


@functools.lru_cache(maxsize=64)
def _shrink_matrix(length, scale):
    """The least-squares inverse `(length // scale, length)` of the axis matrix that enlarges by `scale`."""
    return np.linalg.pinv(resize_matrix(length // scale, length, float(scale)))


def shrink_enlarged(image, scale):
    """Undo a MATLAB-bicubic enlargement by the integer `scale`: the small image whose `imresize` is closest to `image`.

    Exact on an image that `imresize` enlarged (the enlargement has full column
    rank; condition number 1.4 at ×4), and the least-squares small image for
    anything else — e.g. what a same-size degradation model generates, which
    imitates an enlarged real LR. Height and width must be multiples of `scale`.

    Example:
    >>> import numpy as np
    >>> small = np.random.default_rng(0).random((6, 5, 3))
    >>> bool(np.allclose(shrink_enlarged(imresize(small, output_size=(24, 20)), 4), small, atol=1e-5))
    True
    """
    image = np.asarray(image, np.float64)
    height, width = image.shape[:2]
    if height % scale or width % scale:
        raise ValueError(f"shrink_enlarged needs a size that is a multiple of scale={scale}. Received {height}×{width}.")
    out = np.tensordot(_shrink_matrix(height, scale), image, axes=(1, 0))
    out = np.moveaxis(np.tensordot(_shrink_matrix(width, scale), out, axes=(1, 1)), 0, 1)
    return out.astype(np.float32)
