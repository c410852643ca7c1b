"""`DegradationBase`: what every learned degradation model shares.

Geometry (`scale`, `lr_size`, `channels`, `kernel_size`), the loss (L2 on the
interior, crop `kernel_size // 2`, in `compute_loss`), a custom TensorFlow
`train_step`/`test_step` that is correct under `tf.distribute` (other
backends train with Keras's default steps through `compute_loss` and
`compute_metrics`), loss and PSNR trackers, and `degrade()` for RGB photos of
any size in tiles.
"""

import math

import keras
import numpy as np
from keras import ops

from dml_keras.metrics.image_quality import psnr_on_batch
from dml_keras.ops.color import rgb_to_y
from dml_keras.ops.tiling import TILE_MARGIN

from dml_keras.models.contract import CHANNELS, LR_SIZES


class DegradationBase(keras.Model):
    """Base class: subclasses implement `generate(images, guide)`.

    `images` `(B, H, W, C)` are filtered; `guide` `(B, H, W, 1)` is their Y, from
    which per-pixel weights or kernels are predicted. The output is
    `(B, h, w, C)` with `h = H` (same-size LR) or `ceil(H / scale)` (native).
    """

    # Pixels on each side a tile needs beyond what it outputs (receptive field
    # of the weight predictor, ~19 px, plus the filter's K // 2): see `degrade`.
    context_margin = TILE_MARGIN
    stochastic = adds_noise = False  # deterministic, noise-free: synthesis adds the sensor noise

    def __init__(self, scale=4, kernel_size=15, channels="y", lr_size="same", **kwargs):
        super().__init__(**kwargs)
        if channels not in CHANNELS:
            raise ValueError(f"channels must be one of {CHANNELS}. Received: channels={channels!r}")
        if lr_size not in LR_SIZES:
            raise ValueError(f"lr_size must be one of {LR_SIZES}. Received: lr_size={lr_size!r}")
        if kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd. Received: kernel_size={kernel_size}")
        if int(scale) != scale or scale < 1:
            raise ValueError(f"scale must be a positive integer. Received: scale={scale}")
        self.scale = int(scale)
        self.kernel_size = kernel_size
        self.channels = channels
        self.lr_size = lr_size
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.psnr_tracker = keras.metrics.Mean(name="psnr")

    @property
    def stride(self):
        return self.scale if self.lr_size == "native" else 1

    @property
    def crop_border(self):
        """Border (in output pixels) excluded from the loss and PSNR: `kernel_size // 2` HR pixels."""
        return math.ceil((self.kernel_size // 2) / self.stride)

    def generate(self, images, guide):
        raise NotImplementedError

    def call(self, images):
        guide = images if images.shape[-1] == 1 else rgb_to_y(images)
        return self.generate(images, guide)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Mean squared error between generated and real LR on the interior (crop `crop_border`)."""
        c = self.crop_border
        diff = y_pred[:, c:-c, c:-c, :] - ops.cast(y, y_pred.dtype)[:, c:-c, c:-c, :]
        return ops.mean(ops.square(ops.cast(diff, "float32")))

    @property
    def metrics(self):
        return [self.loss_tracker, self.psnr_tracker]

    def _track(self, loss, lr, generated):
        self.loss_tracker.update_state(loss)
        self.psnr_tracker.update_state(
            psnr_on_batch(ops.cast(lr, "float32"), ops.cast(generated, "float32"), self.crop_border)
        )
        return {metric.name: metric.result() for metric in self.metrics}

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Loss and PSNR trackers; what the default (JAX, torch) `train_step`/`test_step` call."""
        return self._track(self.compute_loss(x=x, y=y, y_pred=y_pred), y, y_pred)

    # TensorFlow: our own steps, so the update under `tf.distribute` is the
    # mean over replicas. Other backends use Keras's default steps, which call
    # `compute_loss` and `compute_metrics` above.
    if keras.backend.backend() == "tensorflow":

        def train_step(self, data):
            import tensorflow as tf

            hr, lr = data[0], data[1]
            with tf.GradientTape() as tape:
                generated = self(hr, training=True)
                loss = self.compute_loss(x=hr, y=lr, y_pred=generated)
                # Gradients are summed over replicas: scale so the update is the mean's.
                replicas = tf.distribute.get_strategy().num_replicas_in_sync
                scaled = self.optimizer.scale_loss(loss / replicas)
            gradients = tape.gradient(scaled, self.trainable_variables)
            self.optimizer.apply(gradients, self.trainable_variables)
            return self._track(loss, lr, generated)

        def test_step(self, data):
            hr, lr = data[0], data[1]
            generated = self(hr, training=False)
            return self._track(self.compute_loss(x=hr, y=lr, y_pred=generated), lr, generated)

    def degrade(self, images, tile_size=512):
        """Generate LR for RGB (or 1-channel) photos of any size, in tiles of bounded memory.

        Args:
            images: `(H, W, C)` or `(N, H, W, C)` float in `[0, 1]`. A Y model
                given RGB predicts its weights from Y and filters each RGB channel.
            tile_size: output region computed per step, in HR pixels; each tile
                is run with `context_margin` extra pixels of real context so the
                result equals the untiled one.

        Returns:
            float32 NumPy array, `(..., h, w, C)`, not clipped or rounded.
        """
        array = np.asarray(images, dtype=np.float32)
        single = array.ndim == 3
        array = array[None] if single else array
        out = np.concatenate([self._degrade_one(image[None], tile_size) for image in array])
        return out[0] if single else out

    def _degrade_one(self, image, tile_size):
        from dml_keras.ops.tiling import apply_tiled

        def run(piece):
            return ops.convert_to_numpy(self(piece, training=False))

        # tile origins keep the 2×2 pooling and the stride in phase
        return apply_tiled(run, image[0], tile_size, self.context_margin, stride=self.stride, align=2 * self.stride)[None]

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale, kernel_size=self.kernel_size, channels=self.channels, lr_size=self.lr_size)
        return config
