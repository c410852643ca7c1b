"""Training crops from real pairs without TensorFlow: a `keras.utils.PyDataset` for any backend.

`paired_batches` yields exactly the batches `pipeline.paired_dataset` yields
for the same arguments and seed (aligned HR/LR crops, one random
orientation for both): the draws are TensorFlow's stateless ones, made in
NumPy (`dml_keras.data.stateless`). Element `i` of the stream belongs to pass
`i // count`, whose pair order is drawn from `(seed, pass)`; its crop window
and orientation are drawn from `(seed, i)`. So batch `b` is the same whichever
path, worker, backend or resume point asks for it, and every pass draws new
crops.
"""

import functools

import keras
import numpy as np

from dml_keras.data.pairs import load_pair, pair_geometry, resolve_pairs
from dml_keras.data.stateless import stateless_uniform, stateless_uniform_int
from dml_keras.errors import DataError
from dml_keras.names import AUGMENTATIONS, CHANNELS

# Offsets added to the element index for the second and third draws of one element (`pipeline._crop_and_augment`).
LEFT_STREAM, ORIENTATION_STREAM = 1 << 40, 2 << 40


def check_args(scale, lr_size, channels, patch_size=None):
    if channels not in CHANNELS:
        raise ValueError(f"channels must be one of {CHANNELS}. Received: channels={channels!r}")
    if lr_size == "native" and not scale:
        raise ValueError("lr_size='native' needs the integer `scale` of the pairs.")
    if patch_size is not None and lr_size == "native" and patch_size % scale:
        raise ValueError(f"patch_size must be a multiple of scale for native LR. Received: patch_size={patch_size}, scale={scale}")


def check_augment(augment):
    """`True`/`False` → "dihedral"/"none"; anything else must be one of `AUGMENTATIONS`."""
    augment = {True: "dihedral", False: "none"}.get(augment, augment)
    if augment not in AUGMENTATIONS:
        raise ValueError(f"augment must be one of {AUGMENTATIONS}. Received: augment={augment!r}")
    return augment


def check_crop_fits(pairs, geometry, patch_size):
    for pair, ((hr_h, hr_w), _) in zip(pairs, geometry):
        if min(hr_h, hr_w) < patch_size:
            raise DataError(
                f"hr image '{pair.hr}' is {hr_h}×{hr_w}, smaller than patch_size={patch_size}. "
                "Use a smaller --patch-size or remove the image."
            )


def load_training_pair(pair, scale, lr_size, channels, geometry):
    """One pair as float32 arrays `(hr, lr)` on the training grid, in `channels` (both pipelines read through here)."""
    hr, lr = load_pair(pair, scale, lr_size, geometry)
    if channels == "y":
        from dml_keras.ops.color import rgb_to_y

        hr, lr = (np.asarray(rgb_to_y(x), np.float32) for x in (hr, lr))
    return hr, lr


@functools.lru_cache(maxsize=8)
def pass_order(count, seed, number):
    """The pair order of pass `number`: the argsort of `count` stateless uniform keys drawn from `(seed, number)`."""
    return np.argsort(stateless_uniform((seed, number), count), kind="stable")


def pair_of_element(index, count, seed, shuffle=True):
    """Which pair element `index` of the stream crops: position `index % count` of pass `index // count`."""
    number, position = divmod(int(index), count)
    return int(pass_order(count, int(seed), number)[position]) if shuffle else position


def crop_element(hr, lr, index, seed, patch_size, lr_patch, factor, augment):
    """The crop of element `index`: a window of the LR (`lr_patch`) and the HR window above it, one orientation for both."""
    index, seed = int(index), int(seed)
    top = int(stateless_uniform_int((seed, index), 1, 0, lr.shape[0] - lr_patch + 1)[0])
    left = int(stateless_uniform_int((seed, index + LEFT_STREAM), 1, 0, lr.shape[1] - lr_patch + 1)[0])
    lr = lr[top : top + lr_patch, left : left + lr_patch]
    hr = hr[top * factor : top * factor + patch_size, left * factor : left * factor + patch_size]
    if augment != "none":
        flip, other = stateless_uniform_int((seed, index + ORIENTATION_STREAM), 2, 0, 4)
        if flip >= 2:
            hr, lr = hr[:, ::-1], lr[:, ::-1]
        if augment == "dihedral":
            hr, lr = np.rot90(hr, other), np.rot90(lr, other)
        elif other >= 2:  # "flips": keeps the camera's horizontal and vertical axes where they are
            hr, lr = hr[::-1], lr[::-1]
    return np.ascontiguousarray(hr, np.float32), np.ascontiguousarray(lr, np.float32)


class PairBatches(keras.utils.PyDataset):
    """Batches of aligned crops as a Keras `PyDataset` (infinite when `repeat`); see `paired_batches`."""

    def __init__(self, pairs, scale, patch_size, batch_size, lr_size, channels, seed, augment, repeat, shuffle,
                 cache, order="hr", workers=1, start=0):
        super().__init__(workers=workers, use_multiprocessing=False)
        self.start = start
        self.pairs, self.scale, self.lr_size, self.channels = pairs, scale, lr_size, channels
        self.patch_size, self.batch_size, self.seed, self.augment = patch_size, batch_size, seed, augment
        self.repeat, self.shuffle, self.cache, self.order = repeat, shuffle, cache, order
        self.factor = scale if lr_size == "native" else 1
        self.lr_patch = patch_size // self.factor
        self.geometry = [pair_geometry(pair, scale, lr_size) for pair in pairs]
        self._memory = {}

    @property
    def num_batches(self):
        return None if self.repeat else len(self.pairs) // self.batch_size + bool(len(self.pairs) % self.batch_size)

    def _load(self, number):
        if number in self._memory:
            return self._memory[number]
        hr, lr = load_training_pair(self.pairs[number], self.scale, self.lr_size, self.channels, self.geometry[number])
        if self.cache:
            self._memory[number] = (hr, lr)
        return hr, lr

    def __getitem__(self, batch):
        batch += self.start
        count = len(self.pairs)
        stop = (batch + 1) * self.batch_size if self.repeat else min((batch + 1) * self.batch_size, count)
        hrs, lrs = [], []
        for index in range(batch * self.batch_size, stop):
            hr, lr = self._load(pair_of_element(index, count, self.seed, self.shuffle))
            hr, lr = crop_element(hr, lr, index, self.seed, self.patch_size, self.lr_patch, self.factor, self.augment)
            hrs.append(hr)
            lrs.append(lr)
        hr, lr = np.stack(hrs), np.stack(lrs)
        return (hr, lr) if self.order == "hr" else (lr, hr)


def paired_batches(pairs, scale=4, patch_size=192, batch_size=16, lr_size="same", channels="y", seed=None,
                   augment=True, repeat=True, shuffle=True, cache=False, order="hr", workers=1, start=0):
    """Training batches of aligned random crops from real pairs, on any Keras backend (no TensorFlow needed).

    The arguments are those of `pipeline.paired_dataset`, plus `order`: `"hr"`
    yields `(hr, lr)` (degradation models learn HR → LR), `"lr"` yields `(lr, hr)`
    (SR networks); `start`: batch 0 is the stream's batch `start` (`skip(start)`
    of the `tf.data` stream: a resumed run goes on where it stopped); `workers`
    is the PyDataset's thread count (with more than one, Keras prefetches ahead
    and a stopped epoch may drop the batches it had queued, so the trainers use one).

    Returns:
        `PairBatches`, a `keras.utils.PyDataset` for `model.fit`; `data[b]` is batch `b`.

    Example:
    >>> data = paired_batches("../shared/data/realsr_x4", scale=4, patch_size=64, batch_size=2, seed=0)  # doctest: +SKIP
    >>> hr, lr = data[0]  # doctest: +SKIP
    """
    check_args(scale, lr_size, channels, patch_size)
    augment = check_augment(augment)
    if order not in ("hr", "lr"):
        raise ValueError(f"order must be 'hr' or 'lr'. Received: order={order!r}")
    pairs = resolve_pairs(pairs, scale)
    data = PairBatches(pairs, scale, patch_size, batch_size, lr_size, channels,
                       int(np.random.default_rng().integers(0, 2**31 - 1)) if seed is None else int(seed),
                       augment, repeat, shuffle, cache, order, workers, start)
    check_crop_fits(pairs, data.geometry, patch_size)
    return data


class WholePairs(keras.utils.PyDataset):
    """Whole pairs in name order, one per batch: `(hr, lr)` or, with `order="lr"`, `(lr, hr)` (validation data)."""

    def __init__(self, pairs, scale=4, lr_size="same", channels="y", order="hr"):
        super().__init__()
        check_args(scale, lr_size, channels)
        if order not in ("hr", "lr"):
            raise ValueError(f"order must be 'hr' or 'lr'. Received: order={order!r}")
        self.pairs = resolve_pairs(pairs, scale)
        self.scale, self.lr_size, self.channels, self.order = scale, lr_size, channels, order
        self.geometry = [pair_geometry(pair, scale, lr_size) for pair in self.pairs]  # fail before any work

    @property
    def num_batches(self):
        return len(self.pairs)

    def __getitem__(self, index):
        hr, lr = load_training_pair(self.pairs[index], self.scale, self.lr_size, self.channels, self.geometry[index])
        return (hr[None], lr[None]) if self.order == "hr" else (lr[None], hr[None])
