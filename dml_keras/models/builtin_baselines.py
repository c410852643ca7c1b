"""The degradations that need no training (`identity`, `bicubic`), and `AtNativeSize` for same-size models.

Both follow the interface every degradation model offers: `degrade(images, tile_size)`
takes RGB HR images `(N, H, W, 3)` (or one `(H, W, 3)`) in `[0, 1]` and returns
the generated LR, same size as HR (`lr_size="same"`) or `1/scale` (`"native"`).
"""

import numpy as np

from dml_keras.models.handcrafted import HandcraftedDegradation
from dml_keras.names import BUILTIN_DEGRADATIONS
from dml_keras.ops.resize import imresize, shrink_enlarged


class IdentityDegradation:
    """LR = HR: the floor every learned degradation must beat (same-size LR only).

    Example:
    >>> import numpy as np
    >>> IdentityDegradation().degrade(np.ones((8, 8, 3))).shape
    (8, 8, 3)
    """

    channels = "rgb"
    kernel_size = 15  # scored with the paper's crop of 7, as the learned models
    stochastic = adds_noise = False

    def __init__(self, scale=4, lr_size="same"):
        if lr_size != "same":
            raise ValueError("The identity degradation only makes same-size LR. Use lr_size='same' or the bicubic baseline.")
        self.scale = scale
        self.lr_size = lr_size

    def degrade(self, images, tile_size=None):
        return np.asarray(images, dtype=np.float32)


class BicubicDegradation:
    """MATLAB-bicubic shrink by `scale` (then enlarge back for same-size LR).

    Example:
    >>> import numpy as np
    >>> BicubicDegradation(scale=4, lr_size="native").degrade(np.ones((2, 16, 16, 3))).shape
    (2, 4, 4, 3)
    """

    channels = "rgb"
    kernel_size = 15  # scored with the paper's crop of 7, as the learned models
    stochastic = adds_noise = False

    def __init__(self, scale=4, lr_size="same"):
        self.scale = scale
        self.lr_size = lr_size

    def _one(self, image):
        height, width = image.shape[:2]
        small = imresize(image, output_size=(height // self.scale, width // self.scale))
        if self.lr_size == "native":
            return np.clip(small, 0.0, 1.0)
        return np.clip(imresize(small, output_size=(height, width)), 0.0, 1.0)

    def degrade(self, images, tile_size=None):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            return self._one(images)
        return np.stack([self._one(image) for image in images])


class AtNativeSize:
    """A same-size degradation model's LR at the capture size: the exact inverse of the bicubic enlargement.

    A same-size model imitates real LR enlarged with MATLAB bicubic; the
    least-squares inverse of that enlargement (`shrink_enlarged`) gives the
    small LR it stands for (on the RealSR x4 held-out pairs the shipped DML's
    LR made this way scores 36.0 dB against the real small LR, 35.8 dB with a
    bicubic shrink). Native-size SR networks train on it.

    Example:
    >>> import numpy as np
    >>> AtNativeSize(BicubicDegradation(scale=4)).degrade(np.ones((16, 16, 3))).shape
    (4, 4, 3)
    """

    lr_size = "native"

    def __init__(self, model):
        if model.lr_size != "same":
            raise ValueError("AtNativeSize wraps a same-size degradation model; this one is already native.")
        self.model = model
        self.scale, self.channels, self.kernel_size = model.scale, model.channels, model.kernel_size
        self.stochastic, self.adds_noise = model.stochastic, model.adds_noise

    def degrade(self, images, tile_size=512):
        images = np.asarray(images, np.float32)
        usable = images[..., : images.shape[-3] // self.scale * self.scale, : images.shape[-2] // self.scale * self.scale, :]
        same = np.asarray(self.model.degrade(usable, tile_size=tile_size), np.float32)
        if same.ndim == 3:
            return shrink_enlarged(same, self.scale)
        return np.stack([shrink_enlarged(image, self.scale) for image in same])


# The degradations usable by name wherever a degradation model is taken.
BUILTIN_BASELINES = {"identity": IdentityDegradation, "bicubic": BicubicDegradation, "handcrafted": HandcraftedDegradation}
assert tuple(BUILTIN_BASELINES) == BUILTIN_DEGRADATIONS, "dml_keras.names lists the built-ins by name"
