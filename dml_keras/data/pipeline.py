"""`tf.data` pipelines over real HR/LR pairs, in stages: decode → crop/augment → batch.

Training: `paired_dataset` yields `(hr, lr)` batches of aligned random crops
(HR crop of `patch_size` ↔ LR crop of `patch_size` or `patch_size / scale` at
the same place), with the same random flip/90° rotation applied to both. All
randomness — the order of pairs in each pass included — is stateless and
derived from `(seed, element index)`, so a seed gives the same stream every
time (under `tf.distribute` too), and every epoch draws fresh crops. Without
TensorFlow, `crops.paired_batches` yields the same batches for the same seed.

Evaluation: `paired_eval_dataset` yields whole images `(hr, lr, name)`.
"""

import numpy as np
import tensorflow as tf

from dml_keras.data.crops import (LEFT_STREAM, ORIENTATION_STREAM, check_args, check_augment, check_crop_fits,
                                   load_training_pair, resolve_pairs)
from dml_keras.data.pairs import pair_geometry


def index_stream(count, seed, shuffle=True, repeat=True, with_pass=False):
    """Indices `0 … count-1` pass after pass, each pass in a fresh order drawn statelessly from `(seed, pass)`.

    With `with_pass`, elements are `(pass, index)`.

    Unlike `Dataset.shuffle`, the order survives `tf.distribute`'s rewriting of
    the pipeline (a mirrored run sees exactly the single-device stream).
    """
    passes = tf.data.Dataset.range(2**62 if repeat else 1)

    def one_pass(number):
        order = tf.range(count, dtype=tf.int64)
        if shuffle:
            keys = tf.random.stateless_uniform([count], tf.stack([tf.cast(seed, tf.int64), number]))
            order = tf.gather(order, tf.argsort(keys))
        indices = tf.data.Dataset.from_tensor_slices(order)
        return indices.map(lambda index: (number, index)) if with_pass else indices

    return passes.flat_map(one_pass)


def _decoder(pairs, scale, lr_size, channels, geometry, cache=False):
    """Index → `(hr, lr, name)` tensors; with `cache`, each pair is read once and kept in memory."""
    memory = {}

    def load(index):
        index = int(index)
        if index not in memory:
            hr, lr = load_training_pair(pairs[index], scale, lr_size, channels, geometry[index])
            if not cache:
                return hr, lr
            memory[index] = (hr, lr)
        return memory[index]

    names = tf.constant([p.name for p in pairs])
    depth = 1 if channels == "y" else 3

    def decode(index):
        hr, lr = tf.numpy_function(load, [index], [tf.float32, tf.float32], stateful=False)
        hr.set_shape([None, None, depth])
        lr.set_shape([None, None, depth])
        return hr, lr, tf.gather(names, index)

    return decode


def _crop_and_augment(seed, patch_size, lr_patch, factor, augment):
    def apply(index, example):
        hr, lr, _ = example
        element_seed = tf.stack([tf.cast(seed, tf.int64), index])
        lr_shape = tf.shape(lr)
        top = tf.random.stateless_uniform([], element_seed, 0, lr_shape[0] - lr_patch + 1, dtype=tf.int32)
        left = tf.random.stateless_uniform([], element_seed + [0, LEFT_STREAM], 0, lr_shape[1] - lr_patch + 1, dtype=tf.int32)
        lr = lr[top : top + lr_patch, left : left + lr_patch]
        hr = hr[top * factor : top * factor + patch_size, left * factor : left * factor + patch_size]
        if augment != "none":
            draws = tf.random.stateless_uniform([2], element_seed + [0, ORIENTATION_STREAM], 0, 4, dtype=tf.int32)
            # "dihedral": a left-right flip and 0-3 quarter turns; "flips": left-right and up-down flips,
            # which keep a camera's horizontal and vertical axes where they are
            hr, lr = [tf.cond(draws[0] >= 2, lambda x=x: tf.reverse(x, [1]), lambda x=x: x) for x in (hr, lr)]
            if augment == "dihedral":
                hr, lr = [tf.image.rot90(x, draws[1]) for x in (hr, lr)]
            else:
                hr, lr = [tf.cond(draws[1] >= 2, lambda x=x: tf.reverse(x, [0]), lambda x=x: x) for x in (hr, lr)]
        return hr, lr

    return apply


def paired_dataset(
    pairs,
    scale=4,
    patch_size=192,
    batch_size=16,
    lr_size="same",
    channels="y",
    seed=None,
    augment=True,
    repeat=True,
    shuffle=True,
    cache=False,
):
    """Training batches of aligned random crops from real pairs.

    Args:
        pairs: a folder / CSV accepted by `discover_pairs`, or a list of `ImagePair`.
        scale: SR factor of the pairs.
        patch_size: HR crop size `P`; the LR crop is `P` (`"same"`) or `P // scale` (`"native"`).
        batch_size: crops per batch.
        lr_size: `"same"` (LR resized to HR size, the paper) or `"native"`.
        channels: `"y"` (MATLAB Y, the paper) or `"rgb"`.
        seed: integer; the same seed gives the same batches. `None` draws one.
        augment: the same random orientation for HR and LR: `"dihedral"` (a
            left-right flip and quarter turns, all 8 orientations), `"flips"`
            (left-right and up-down flips only, the paper's: a camera's
            horizontal and vertical blur stay so) or `"none"`. `True` is
            `"dihedral"`, `False` is `"none"`.
        repeat: loop forever (training) or stop after one pass.
        shuffle: reshuffle the pair order every pass.
        cache: keep decoded images in memory (small sets, many epochs).

    Returns:
        `tf.data.Dataset` of `(hr, lr)`: `(B, P, P, C)` and `(B, p, p, C)`.

    Raises:
        DataError: a pair is inconsistent, or an image is smaller than the crop.

    Example:
    >>> ds = paired_dataset("../shared/data/realsr_x4", scale=4, patch_size=64, batch_size=2, seed=0)  # doctest: +SKIP
    >>> hr, lr = next(iter(ds))  # doctest: +SKIP
    """
    check_args(scale, lr_size, channels, patch_size)
    augment = check_augment(augment)
    pairs = resolve_pairs(pairs, scale)
    factor = scale if lr_size == "native" else 1
    lr_patch = patch_size // factor
    geometry = [pair_geometry(pair, scale, lr_size) for pair in pairs]
    check_crop_fits(pairs, geometry, patch_size)
    if seed is None:
        seed = int(np.random.default_rng().integers(0, 2**31 - 1))
    decode = _decoder(pairs, scale, lr_size, channels, geometry, cache)
    dataset = index_stream(len(pairs), seed, shuffle, repeat)
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.enumerate().map(
        _crop_and_augment(seed, patch_size, lr_patch, factor, augment),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    dataset = dataset.batch(batch_size, drop_remainder=repeat).prefetch(tf.data.AUTOTUNE)
    options = tf.data.Options()
    options.deterministic = True
    return dataset.with_options(options)


def paired_eval_dataset(pairs, scale=4, lr_size="same", channels="y"):
    """Whole images for evaluation, in name order: `(hr, lr, name)`, unbatched.

    Example:
    >>> for hr, lr, name in paired_eval_dataset("../shared/data/realsr_x4", scale=4):  # doctest: +SKIP
    ...     print(name.numpy().decode(), hr.shape)
    """
    check_args(scale, lr_size, channels)
    pairs = resolve_pairs(pairs, scale)
    geometry = [pair_geometry(pair, scale, lr_size) for pair in pairs]
    decode = _decoder(pairs, scale, lr_size, channels, geometry)
    dataset = tf.data.Dataset.range(len(pairs)).map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return dataset.prefetch(tf.data.AUTOTUNE)


def validation_batches(pairs, scale=4, lr_size="same", channels="y", inputs="hr"):
    """Whole images as `model.fit` validation data, one per batch: `(hr, lr)` for degradation models
    (`inputs="hr"`: HR in, LR predicted) or `(lr, hr)` for SR networks (`inputs="lr"`)."""
    if inputs not in ("hr", "lr"):
        raise ValueError(f"inputs must be 'hr' or 'lr'. Received: inputs={inputs!r}")
    order = _hr_first if inputs == "hr" else _lr_first
    return paired_eval_dataset(pairs, scale, lr_size, channels).map(order).batch(1)


def _hr_first(hr, lr, name):
    return hr, lr


def _lr_first(hr, lr, name):
    return lr, hr
