"""Sub-pixel rearrangement for SR upsamplers (`depth_to_space`), in `keras.ops`."""

from keras import ops


def depth_to_space(x, block_size):
    """`(B, H, W, C·r²)` → `(B, H·r, W·r, C)`, the same ordering as `tf.nn.depth_to_space`.

    Example:
    >>> import numpy as np
    >>> tuple(depth_to_space(np.zeros((1, 3, 4, 8), "float32"), 2).shape)
    (1, 6, 8, 2)
    """
    shape = ops.shape(x)
    batch, height, width = shape[0], shape[1], shape[2]
    channels = x.shape[-1] // (block_size * block_size)
    x = ops.reshape(x, (batch, height, width, block_size, block_size, channels))
    x = ops.transpose(x, (0, 1, 3, 2, 4, 5))
    return ops.reshape(x, (batch, height * block_size, width * block_size, channels))


def upsample_nearest(x, factor):
    """Nearest-neighbour enlargement by an integer `factor` (dynamic sizes, every backend)."""
    return ops.repeat(ops.repeat(x, factor, axis=1), factor, axis=2)


def _double_axis(x, axis):
    """Bilinear ×2 along `axis` (1 or 2) with half-pixel centres and clamped edges."""
    padding = [(0, 0)] * 4
    padding[axis] = (1, 1)
    padded = ops.pad(x, padding, mode="symmetric")  # by one pixel: the edge repeated
    index = [slice(None)] * 4
    index[axis] = slice(0, -2)
    previous = padded[tuple(index)]
    index[axis] = slice(2, None)
    following = padded[tuple(index)]
    pair = ops.stack([0.75 * x + 0.25 * previous, 0.75 * x + 0.25 * following], axis=axis + 1)
    shape = ops.shape(x)
    new_shape = [shape[0], shape[1], shape[2], shape[3]]
    new_shape[axis] = shape[axis] * 2
    return ops.reshape(pair, new_shape)


def upsample_bilinear2x(x):
    """Bilinear ×2 enlargement of `(B, H, W, C)` (PyTorch's `align_corners=False`, TensorFlow's half-pixel
    centres), for dynamic sizes on every backend: each output pixel is ¾ of its nearest input pixel and
    ¼ of the next one on that side, the edge repeated."""
    return _double_axis(_double_axis(x, 1), 2)
