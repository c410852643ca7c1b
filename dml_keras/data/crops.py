"""Training crops from real pairs without TensorFlow: a `keras.utils.PyDataset` for any backend.

`paired_batches` yields the same kind of batches as `pipeline.paired_dataset`
(aligned HR/LR crops, one random orientation for both), drawn by NumPy from
`(seed, element index)` only: element `i` belongs to pass `i // count`, whose
pair order is a permutation drawn from `(seed, pass)`, and its crop window and
orientation are drawn from `(seed, i)`. So batch `b` is the same whichever
worker, backend or resume point asks for it, and every pass draws new crops.
"""

import keras
import numpy as np

from dml_keras.errors import DataError
from dml_keras.data.pairs import discover_pairs, load_pair, pair_geometry
from dml_keras.names import AUGMENTATIONS

CHANNELS = ("y", "rgb")
_MASK = 2**64 - 1


def resolve_pairs(pairs, scale):
    """A folder / CSV (through `discover_pairs`) or a non-empty list of `ImagePair`."""
    if isinstance(pairs, (str, bytes)) or hasattr(pairs, "__fspath__"):
        return discover_pairs(pairs, scale=scale)
    pairs = list(pairs)
    if not pairs:
        raise DataError("The list of pairs is empty; give a folder or CSV of HR/LR pairs.")
    return pairs


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


def pair_of_element(index, count, seed, shuffle=True):
    """Which pair element `index` of the stream crops: position `index % count` of pass `index // count`."""
    number, position = divmod(int(index), count)
    if not shuffle:
        return position
    return int(np.random.default_rng([seed & _MASK, 0, number]).permutation(count)[position])


def crop_element(hr, lr, index, seed, patch_size, lr_patch, factor, augment):
    """The crop of element `index`: a window of the LR (`lr_patch`) and the HR window above it, one orientation for both."""
    rng = np.random.default_rng([seed & _MASK, 1, int(index)])
    top = int(rng.integers(0, lr.shape[0] - lr_patch + 1))
    left = int(rng.integers(0, lr.shape[1] - lr_patch + 1))
    lr = lr[top : top + lr_patch, left : left + lr_patch]
    hr = hr[top * factor : top * factor + patch_size, left * factor : left * factor + patch_size]
    if augment != "none":
        flip, other = rng.integers(0, 4, size=2)
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
                 cache, order="hr", workers=1):
        super().__init__(workers=workers, use_multiprocessing=False)
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
        hr, lr = load_pair(self.pairs[number], self.scale, self.lr_size, self.geometry[number])
        if self.channels == "y":
            from dml_keras.ops.color import rgb_to_y

            hr, lr = (np.asarray(rgb_to_y(x), np.float32) for x in (hr, lr))
        if self.cache:
            self._memory[number] = (hr, lr)
        return hr, lr

    def __getitem__(self, batch):
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
                   augment=True, repeat=True, shuffle=True, cache=False, order="hr", workers=1):
    """Training batches of aligned random crops from real pairs, on any Keras backend (no TensorFlow needed).

    The arguments are those of `pipeline.paired_dataset`, plus `order`: `"hr"`
    yields `(hr, lr)` (degradation models learn HR → LR), `"lr"` yields `(lr, hr)`
    (SR networks); `workers` is the PyDataset's thread count.

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
                       augment, repeat, shuffle, cache, order, workers)
    check_crop_fits(pairs, data.geometry, patch_size)
    return data
