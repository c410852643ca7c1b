"""The two degradations that need no training: `identity` (LR = HR) and `bicubic`.

Both follow the interface every degradation model offers: `degrade(images)`
takes RGB HR images `(N, H, W, 3)` (or one `(H, W, 3)`) in `[0, 1]` and returns
the generated LR, same size as HR (`lr_size="same"`) or `1/scale` (`"native"`).
"""

import numpy as np

from dml_keras.ops.resize import imresize


class IdentityDegradation:
    """LR = HR: the floor every learned degradation must beat (same-size LR only).

    Example:
    >>> import numpy as np
    >>> IdentityDegradation().degrade(np.ones((8, 8, 3))).shape
    (8, 8, 3)
    """

    def __init__(self, scale=4, lr_size="same"):
        if lr_size != "same":
            raise ValueError("The identity degradation only makes same-size LR. Use lr_size='same' or the bicubic baseline.")
        self.scale = scale
        self.lr_size = lr_size

    def degrade(self, images):
        return np.asarray(images, dtype=np.float32)


class BicubicDegradation:
    """MATLAB-bicubic shrink by `scale` (then enlarge back for same-size LR).

    Example:
    >>> import numpy as np
    >>> BicubicDegradation(scale=4, lr_size="native").degrade(np.ones((2, 16, 16, 3))).shape
    (2, 4, 4, 3)
    """

    def __init__(self, scale=4, lr_size="same"):
        self.scale = scale
        self.lr_size = lr_size

    def _one(self, image):
        height, width = image.shape[:2]
        small = imresize(image, output_size=(height // self.scale, width // self.scale))
        if self.lr_size == "native":
            return np.clip(small, 0.0, 1.0)
        return np.clip(imresize(small, output_size=(height, width)), 0.0, 1.0)

    def degrade(self, images):
        images = np.asarray(images, dtype=np.float32)
        if images.ndim == 3:
            return self._one(images)
        return np.stack([self._one(image) for image in images])


BUILTIN_BASELINES = {"identity": IdentityDegradation, "bicubic": BicubicDegradation}
