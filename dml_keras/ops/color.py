"""MATLAB/BasicSR ``rgb2ycbcr`` and ``ycbcr2rgb`` (ITU-R BT.601, studio swing).

Every function here is plain arithmetic on the last axis, so the same code
works on NumPy arrays, TensorFlow tensors (inside ``tf.data`` too) and Keras
tensors of any backend. Images are RGB in ``[0, 1]``, channels last; Y lies in
``[16/255, 235/255]`` and is not rounded.
"""

import numpy as np
from keras import ops

# Rows: Y, Cb, Cr; columns: R, G, B (inputs in [0, 1], outputs in [0, 255]).
_RGB_TO_YCBCR = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
_YCBCR_OFFSET = (16.0, 128.0, 128.0)
# The exact inverse (MATLAB's ycbcr2rgb rounds it to 8 digits).
_YCBCR_TO_RGB = tuple(tuple(float(v) for v in row) for row in np.linalg.inv(_RGB_TO_YCBCR))


def _combine(image, row, offset=0.0):
    r, g, b = image[..., 0:1], image[..., 1:2], image[..., 2:3]
    return (r * row[0] + g * row[1] + b * row[2] + offset) / 255.0


def rgb_to_y(image):
    """Luma Y of RGB images, as MATLAB ``rgb2ycbcr`` then ``/255``.

    Args:
        image: `(..., H, W, 3)` RGB in `[0, 1]` (NumPy, TF or Keras tensor).

    Returns:
        `(..., H, W, 1)` Y in `[16/255, 235/255]`, same type as the input.

    Example:
    >>> import numpy as np
    >>> float(rgb_to_y(np.ones((1, 1, 3)))[0, 0, 0]) * 255
    235.0
    """
    return _combine(image, _RGB_TO_YCBCR[0], _YCBCR_OFFSET[0])


def rgb_to_ycbcr(image):
    """RGB in `[0, 1]` → YCbCr in `[0, 1]` (`(..., H, W, 3)` → same shape).

    Example:
    >>> import numpy as np
    >>> ycc = rgb_to_ycbcr(np.zeros((2, 2, 3), "float32"))
    >>> [round(float(v) * 255) for v in ycc[0, 0]]
    [16, 128, 128]
    """
    channels = [_combine(image, row, off) for row, off in zip(_RGB_TO_YCBCR, _YCBCR_OFFSET)]
    return ops.concatenate(channels, axis=-1)


def ycbcr_to_rgb(image):
    """YCbCr in `[0, 1]` → RGB in `[0, 1]`, the inverse of `rgb_to_ycbcr` (not clipped).

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((4, 4, 3))
    >>> bool(np.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x, atol=1e-5))
    True
    """
    y = image[..., 0:1] * 255.0 - _YCBCR_OFFSET[0]
    cb = image[..., 1:2] * 255.0 - _YCBCR_OFFSET[1]
    cr = image[..., 2:3] * 255.0 - _YCBCR_OFFSET[2]
    channels = [y * row[0] + cb * row[1] + cr * row[2] for row in _YCBCR_TO_RGB]  # in [0, 1]
    return ops.concatenate(channels, axis=-1)
