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
