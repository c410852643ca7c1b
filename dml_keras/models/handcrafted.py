"""Hand-crafted random degradations: Real-ESRGAN's second-order pipeline, and the learned blur with its noise and JPEG.

The image operations they are made of are in `dml_keras.ops.handcrafted`.

`HandcraftedDegradation` is today's practitioners' baseline (Wang et al.,
"Real-ESRGAN", ICCVW 2021, with its published defaults): two stages of
blur → resize → noise → JPEG, then a resize to the LR size with a sinc
filter and a JPEG pass in random order. `LearnedBlurWithNoise` keeps the blur
(and resampling) a degradation model learned from real pairs and adds only
the hand-crafted noise and JPEG at the capture resolution.

Both draw every random choice from a generator keyed by `(key, visit)` per
image — the file's `image_seed` and which crop of it this is — so a seed
gives the same pairs offline (`dml synthesize`) and on the fly. NumPy,
SciPy and OpenCV, with TensorFlow's JPEG codec: they run inside a `tf.data`
pipeline as a `numpy_function`.
"""

import numpy as np

from dml_keras.ops.handcrafted import JPEG_QUALITY, SECOND_STAGE, _random_jpeg, _random_noise, _rng, second_order
from dml_keras.ops.resize import imresize, shrink_enlarged


def _as_batch(images):
    array = np.asarray(images, np.float32)
    return (array[None], True) if array.ndim == 3 else (array, False)


def _seed_rows(seeds, count):
    """`seeds` → `count` rows of `(key, visit)`: None (image index), an int, a list of ints, or `(N, 2)`."""
    if seeds is None:
        return [(0, i) for i in range(count)]
    seeds = np.asarray(seeds, np.int64)
    if seeds.ndim == 0:
        return [(int(seeds), i) for i in range(count)]
    if seeds.ndim == 1:
        return [(int(s), 0) for s in seeds]
    return [(int(k), int(v)) for k, v in seeds]


class RandomDegradation:
    """What the random degradations share: `degrade(images, seeds=None)`; each image's randomness from its seed.

    Attributes read by the synthesis code: `stochastic = True` (pass seeds),
    `adds_noise = True` (no extra sensor noise by default).
    """

    stochastic = True
    adds_noise = True
    channels = "rgb"
    kernel_size = 15  # scored with the paper's crop of 7 (the pipeline's kernels reach 21)

    def __init__(self, scale=4, lr_size="same"):
        if lr_size not in ("same", "native"):
            raise ValueError(f"lr_size must be 'same' or 'native'. Received: lr_size={lr_size!r}")
        self.scale = int(scale)
        self.lr_size = lr_size

    def _native(self, image, rng):  # (H, W, 3) HR → (H // scale, W // scale, 3) LR
        raise NotImplementedError

    def _finish(self, native, hr_shape):
        if self.lr_size == "native":
            return native
        return np.clip(imresize(native, output_size=hr_shape[:2]), 0, 1).astype(np.float32)

    def degrade(self, images, seeds=None, tile_size=None):
        """Degrade RGB HR `(H, W, 3)` or `(N, H, W, 3)` in `[0, 1]`; `seeds`: one int, one per image, or `(N, 2)` `(key, visit)`.

        `tile_size` is accepted for a uniform interface and unused (whole images).
        """
        batch, single = _as_batch(images)
        if batch.shape[-1] != 3:
            raise ValueError(f"{type(self).__name__} degrades RGB images (…, H, W, 3). Received shape {batch.shape}.")
        out = []
        for image, (key, visit) in zip(batch, _seed_rows(seeds, len(batch))):
            usable = image[: image.shape[0] - image.shape[0] % self.scale, : image.shape[1] - image.shape[1] % self.scale]
            out.append(self._finish(self._native(usable, _rng(key, visit)), usable.shape))
        out = np.stack(out).astype(np.float32)
        return out[0] if single else out


class HandcraftedDegradation(RandomDegradation):
    """Real-ESRGAN's second-order random degradation with its published defaults.

    Example:
    >>> import numpy as np
    >>> model = HandcraftedDegradation(scale=4, lr_size="native")
    >>> model.degrade(np.full((64, 64, 3), 0.5, np.float32), seeds=7).shape
    (16, 16, 3)
    """

    def _native(self, image, rng):
        return second_order(image, rng, self.scale)


class LearnedBlurWithNoise(RandomDegradation):
    """A learned degradation's blur and resampling, then hand-crafted noise and JPEG at the capture resolution.

    For users whose photos are compressed or noisier than the pairs the model
    was learned from. A same-size model's output is taken back to the capture
    size (`shrink_enlarged`, the inverse of the bicubic enlargement it imitates)
    for the noise and JPEG, and enlarged back after; sizes must be multiples of
    `scale`.

    Args:
        blur: a learned degradation model (RGB or Y; its `degrade` is used).
        noise: the `StageSettings` whose noise is drawn (default: Real-ESRGAN's second stage).
        jpeg_quality: `(low, high)` quality range.
    """

    def __init__(self, blur, noise=SECOND_STAGE, jpeg_quality=JPEG_QUALITY):
        super().__init__(blur.scale, blur.lr_size)
        self.blur = blur
        self.kernel_size = blur.kernel_size
        self.noise = noise
        self.jpeg_quality = tuple(jpeg_quality)

    def finish(self, lr, seeds=None):
        """Noise and JPEG on the learned model's output `lr` (`(N, h, w, 3)`), seeded per image."""
        batch, single = _as_batch(lr)
        out = []
        for image, (key, visit) in zip(batch, _seed_rows(seeds, len(batch))):
            rng = _rng(key, visit)
            # the capture-size LR a same-size output stands for, as the camera stored it before noise and JPEG
            native = np.clip(shrink_enlarged(image, self.scale) if self.lr_size == "same" else image, 0, 1)
            native = np.clip(_random_noise(native, rng, self.noise), 0, 1)
            out.append(self._finish(_random_jpeg(native, rng, self.jpeg_quality), image.shape))
        out = np.stack(out).astype(np.float32)
        return out[0] if single else out

    def degrade(self, images, seeds=None, tile_size=512):
        batch, single = _as_batch(images)
        lr = np.asarray(self.blur.degrade(batch, tile_size=tile_size), np.float32)
        out = self.finish(lr, _seed_rows(seeds, len(batch)))
        return out[0] if single else out


