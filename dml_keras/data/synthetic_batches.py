"""On-the-fly synthetic SR pairs without TensorFlow: `sr_pipeline.synthetic_sr_dataset` as a `PyDataset`.

The same batches for the same arguments and seed, to float rounding: photo
order, crop windows and sensor noise are drawn with TensorFlow's stateless
numbers in NumPy (`dml_keras.data.stateless`), and the photos' crops are
taken in the order `tf.data`'s interleave gives them. `batch_size` photos are
open at a time and give `crops_per_image` crops each, round-robin: element
`i` is crop `j` of photo `g · B + p` of the photo stream, with
`g, r = divmod(i, B · crops_per_image)` and `j, p = divmod(r, B)`. The
degradation runs on each batch of crops (a Keras model on the backend in use),
then noise, clipping, 8-bit rounding and the margin's crop, as there.
"""

import os
from collections import OrderedDict

import keras
import numpy as np

from dml_keras.data.crops import pass_order
from dml_keras.data.io import read_image
from dml_keras.data.stateless import stateless_uniform_int
from dml_keras.data.synthesis import batch_stages, image_seed, list_images, sensor_noise_array


class SyntheticBatches(keras.utils.PyDataset):
    """Endless `(lr, hr)` batches of pairs made from clean photos; see `synthetic_batches`."""

    def __init__(self, model, files, patch_size, batch_size, channels, noise_sigma, quantize, seed, margin,
                 noise_resolution, crops_per_image, start, in_step=False):
        super().__init__()
        self.in_step = in_step
        self.model, self.files, self.patch_size, self.batch_size = model, files, patch_size, batch_size
        self.channels, self.noise_sigma, self.quantize, self.seed = channels, noise_sigma, quantize, seed
        self.crops_per_image, self.start = crops_per_image, start
        self.scale = model.scale
        self.stride = self.scale if model.lr_size == "native" else 1
        self.margin = int(np.ceil(margin / (2 * self.scale))) * 2 * self.scale
        self.big = patch_size + 2 * self.margin
        self.capture_scale = self.scale if noise_resolution == "native" and self.stride == 1 else 1
        self.keys = [image_seed(seed, os.path.basename(f)) for f in files]
        self._photos = OrderedDict()  # the photos of the last batches, decoded once

    @property
    def num_batches(self):
        return None

    def _photo(self, index):
        if index not in self._photos:
            self._photos[index] = read_image(self.files[index])
            if len(self._photos) > 2 * self.batch_size:
                self._photos.popitem(last=False)
        return self._photos[index]

    def element(self, i):
        """`(hr crop with its margin, key, visit)` of element `i` of the stream."""
        group, rest = divmod(i, self.batch_size * self.crops_per_image)
        crop, slot = divmod(rest, self.batch_size)
        number, position = divmod(group * self.batch_size + slot, len(self.files))
        index = int(pass_order(len(self.files), self.seed, number)[position])
        image = self._photo(index)
        if min(image.shape[:2]) < self.big:
            from dml_keras.errors import DataError

            raise DataError(f"HR photo '{self.files[index]}' is {image.shape[0]}×{image.shape[1]}, smaller than the "
                            f"{self.big} px a crop needs with its margin. Use a smaller --patch-size or remove it.")
        top = int(stateless_uniform_int((self.seed, i), 1, 0, (image.shape[0] - self.big) // self.scale + 1)[0])
        left = int(stateless_uniform_int((self.seed, i + 1), 1, 0, (image.shape[1] - self.big) // self.scale + 1)[0])
        top, left = top * self.scale, left * self.scale
        return image[top : top + self.big, left : left + self.big], self.keys[index], number * self.crops_per_image + crop

    def __getitem__(self, batch):
        first = (batch + self.start) * self.batch_size
        hr, keys, visits = zip(*(self.element(i) for i in range(first, first + self.batch_size)))
        hr = np.stack(hr)
        lr_side = self.big // self.stride
        noise = np.stack([sensor_noise_array((lr_side, lr_side, 3), self.noise_sigma, k, v, self.capture_scale)
                          for k, v in zip(keys, visits)])
        m, p = self.margin, self.patch_size
        target = hr[:, m : m + p, m : m + p]
        if self.channels == "y":
            from dml_keras.ops.color import rgb_to_y

            target = np.asarray(rgb_to_y(target), np.float32)
        target = np.ascontiguousarray(target, np.float32)
        if self.in_step:  # the degradation runs in the training step (`InStepSynthesis`)
            return (hr, noise), target
        lr = finish_lr(self._degrade(hr, np.stack([keys, visits], -1)), noise, m, p, self.stride, self.quantize,
                       self.channels)
        return np.ascontiguousarray(keras.ops.convert_to_numpy(lr), np.float32), target

    def _degrade(self, hr, seeds):
        """The degradation of a batch, in its two stages (`synthesis.batch_stages`), as `tf.data` runs it."""
        in_graph, in_numpy = batch_stages(self.model)
        x = hr if in_graph is None else keras.ops.convert_to_numpy(in_graph(hr))
        return np.asarray(x if in_numpy is None else in_numpy(x, seeds), np.float32)


def finish_lr(degraded, noise, margin, patch_size, stride, quantize, channels):
    """What follows the degradation, in `keras.ops` (in the loader or in the training step): add the noise,
    clip to `[0, 1]`, round to 8 bits (`quantize`), crop the margin away, take Y for `channels="y"`."""
    from keras import ops

    lr = ops.clip(degraded + noise, 0.0, 1.0)
    if quantize:
        lr = ops.round(lr * 255.0) / 255.0
    start, stop = margin // stride, (margin + patch_size) // stride
    lr = lr[:, start:stop, start:stop]
    if channels == "y":
        from dml_keras.ops.color import rgb_to_y

        lr = rgb_to_y(lr)
    return lr


def synthetic_batches(model, hr_dir, patch_size=48, batch_size=16, channels="y", noise_sigma=5.0, quantize=True,
                      seed=0, margin=16, noise_resolution="output", crops_per_image=4, start=0, in_step=False):
    """`sr_pipeline.synthetic_sr_dataset`'s batches as a `keras.utils.PyDataset` (any backend, no TensorFlow).

    Arguments as there, plus `start`: batch 0 is the stream's batch `start` (a resumed run goes on where it
    stopped). `data[b]` is batch `b`, `(lr, hr)`; with `in_step`, `((hr_with_margin, noise), hr)`: the clean
    crops and their noise, for a training step that degrades them itself (`trainers.in_step`).
    """
    if patch_size % model.scale:
        raise ValueError(f"patch_size must be a multiple of scale={model.scale}. Received: patch_size={patch_size}")
    if crops_per_image < 1:
        raise ValueError(f"crops_per_image must be at least 1. Received: crops_per_image={crops_per_image}")
    files = [str(p) for p in list_images(hr_dir)]
    return SyntheticBatches(model, files, patch_size, batch_size, channels, noise_sigma, quantize, seed, margin,
                            noise_resolution, crops_per_image, start, in_step)


class MixedBatches(keras.utils.PyDataset):
    """`sr_pipeline.mixed_sr_dataset`'s batches: element `i` is synthetic when a stateless uniform draw from
    `(seed, i)` is below `synthetic_fraction`, and then the next element of the synthetic stream, else the next
    real one. `real` and `synthetic` are endless `(lr, hr)` streams in batches of `batch_size` (element `m` of
    a stream is the same whatever its batch size)."""

    def __init__(self, real, synthetic, synthetic_fraction, batch_size, seed, start=0):
        super().__init__()
        self.real, self.synthetic, self.fraction = real, synthetic, synthetic_fraction
        self.batch_size, self.seed, self.start = batch_size, seed, start
        self._counted = (0, 0, 0)  # (element, real ones before it, synthetic ones before it)
        self._last = {}  # stream → (batch number, batch)

    @property
    def num_batches(self):
        return None

    def _is_synthetic(self, i):
        from dml_keras.data.stateless import stateless_uniform

        return bool(stateless_uniform((self.seed, i), 1)[0] < np.float32(self.fraction))

    def _counts(self, i):
        element, _, synthetic = self._counted if self._counted[0] <= i else (0, 0, 0)
        synthetic += sum(self._is_synthetic(j) for j in range(element, i))
        return i - synthetic, synthetic

    def _element(self, stream, m):
        number, row = divmod(m, self.batch_size)
        if self._last.get(id(stream), (None,))[0] != number:
            self._last[id(stream)] = (number, stream[number])
        return tuple(x[row] for x in self._last[id(stream)][1])

    def __getitem__(self, batch):
        first = (batch + self.start) * self.batch_size
        real, synthetic = self._counts(first)
        pairs = []
        for i in range(first, first + self.batch_size):
            if self._is_synthetic(i):
                pairs.append(self._element(self.synthetic, synthetic))
                synthetic += 1
            else:
                pairs.append(self._element(self.real, real))
                real += 1
        self._counted = (first + self.batch_size, real, synthetic)
        return tuple(np.stack(parts) for parts in zip(*pairs))
