"""`tf.data` pipelines that feed SR training: real pairs, on-the-fly synthetic pairs, or a mix.

Every dataset yields `(lr, hr)` — input first, as `model.fit` expects.

On-the-fly synthesis (`synthetic_sr_dataset`): clean HR photos are decoded in
parallel, cropped afresh every epoch (a crop of `patch_size + 2 · margin`
pixels, so the degradation sees real context), degraded in batches by the
degradation model, given seeded sensor noise (AWGN, `noise_sigma` on the
0–255 scale or a per-image range), optionally quantized to 8 bits, then
cropped back to `patch_size`. The noise is `sensor_noise` keyed by the file
name and the epoch, as in `dml synthesize`: a photo the size of one crop
gives, in the first epoch, exactly the pair `dml synthesize` writes for it.
"""

import os

import numpy as np
import tensorflow as tf

from dml_keras.data.io import read_image
from dml_keras.data.pipeline import index_stream, paired_dataset
from dml_keras.data.synthesis import batch_stages, image_seed, list_images, sensor_noise
from dml_keras.ops.color import rgb_to_y


def real_sr_dataset(pairs, scale=4, patch_size=48, batch_size=16, lr_size="same", channels="y", seed=0, batch=True):
    """Aligned crops of real pairs as `(lr, hr)`; unbatched with `batch=False` (for mixing)."""
    dataset = paired_dataset(pairs, scale, patch_size, batch_size if batch else 1, lr_size, channels, seed=seed, cache=True)
    if not batch:
        dataset = dataset.unbatch()
    return dataset.map(lambda hr, lr: (lr, hr), num_parallel_calls=tf.data.AUTOTUNE)


def _degrade_fn(model):
    """A TF-callable degradation `(hr, keys, visits) -> lr` for a batch `(B, H, W, C)`: the model's Keras stage in
    the graph, its NumPy stage through `tf.numpy_function` with each crop's `(key, visit)` seed, as `dml
    synthesize` gives each file, so both draw the same degradation (`synthesis.batch_stages`)."""
    in_graph, in_numpy = batch_stages(model)

    def degrade(hr, keys, visits):
        x = hr if in_graph is None else in_graph(hr)
        if in_numpy is None:
            return x
        out = tf.numpy_function(lambda x, k, v: np.asarray(in_numpy(x, np.stack([k, v], -1)), np.float32),
                                [x, keys, visits], tf.float32, stateful=False)
        out.set_shape([None, None, None, 3])
        return out

    return degrade


def synthetic_sr_dataset(model, hr_dir, patch_size=48, batch_size=16, channels="y", noise_sigma=5.0, quantize=True,
                         seed=0, margin=16, batch=True, noise_resolution="output", crops_per_image=4):
    """Pairs made on the fly from clean photos in `hr_dir` by a degradation `model`: `(lr, hr)`.

    Args:
        model: a learned degradation model (runs inside the pipeline) or a built-in baseline.
        noise_sigma: AWGN sigma on the 0–255 scale, or `(low, high)` drawn per crop.
        quantize: round LR to 8 bits (the authors stored 8-bit LR).
        margin: extra context around each crop for the degradation, cropped away after.
        batch: batch the output (`False` yields single pairs, for mixing).
        noise_resolution: `"output"` (default, the paper) adds white noise at the
            LR's own size; `"native"` draws it at the capture resolution
            (`1/scale`) and enlarges it with same-size LR. On RealSR x4, VDSR
            trained with white sigma=5 scored better on real pairs (LPIPS 0.388
            vs 0.437 for native 0–3): the stronger, whiter noise teaches the
            network not to amplify what real LR carries.
        crops_per_image: crops cut from each decoded photo (at independent random
            places, with independent noise) before it is let go. Decoding a
            large photo for one small crop dominates the pipeline's cost with
            full-HD photos (measured: 28 pairs/s with 1 crop per decode, 73
            with 4, on 2 CPU cores). A batch still mixes `batch_size` photos:
            their crops are interleaved, so 4 successive batches share photos.

    Example:
    >>> from dml_keras.models import BicubicDegradation
    >>> ds = synthetic_sr_dataset(BicubicDegradation(4), "photos/", patch_size=48)  # doctest: +SKIP
    """
    files = [str(p) for p in list_images(hr_dir)]
    scale = model.scale
    stride = scale if model.lr_size == "native" else 1
    margin = int(np.ceil(margin / (2 * scale))) * 2 * scale
    if patch_size % scale:
        raise ValueError(f"patch_size must be a multiple of scale={scale}. Received: patch_size={patch_size}")
    if crops_per_image < 1:
        raise ValueError(f"crops_per_image must be at least 1. Received: crops_per_image={crops_per_image}")
    big = patch_size + 2 * margin
    degrade = _degrade_fn(model)
    capture_scale = scale if noise_resolution == "native" and stride == 1 else 1

    paths = tf.constant(files)
    keys = tf.constant([image_seed(seed, os.path.basename(f)) for f in files], tf.int64)

    def decode(number, index):
        image = tf.numpy_function(lambda p: read_image(p.decode()), [tf.gather(paths, index)], tf.float32, stateful=False)
        image.set_shape([None, None, 3])
        return image, tf.gather(keys, index), number

    def crops_of(image, key, number):  # visit = which crop of this photo, over all passes
        visits = tf.data.Dataset.range(crops_per_image).map(lambda j: number * crops_per_image + j)
        return visits.map(lambda visit: (image, key, visit))

    def crop(index, example):
        image, key, visit = example
        element_seed = tf.stack([tf.constant(seed, tf.int64), index])
        shape = tf.shape(image)
        tf.debugging.assert_greater_equal(tf.reduce_min(shape[:2]), big, message=f"an HR photo is smaller than {big} px")
        top = tf.random.stateless_uniform([], element_seed, 0, (shape[0] - big) // scale + 1, tf.int32) * scale
        left = tf.random.stateless_uniform([], element_seed + [0, 1], 0, (shape[1] - big) // scale + 1, tf.int32) * scale
        return visit, key, image[top : top + big, left : left + big]

    def synthesize(visit, key, hr):
        lr = degrade(hr, key, visit)
        shape = tf.shape(lr)[1:]
        noise = tf.map_fn(
            lambda element: sensor_noise(shape, noise_sigma, element[0], element[1], capture_scale),
            (key, visit), fn_output_signature=tf.float32,
        )
        lr = tf.clip_by_value(lr + noise, 0.0, 1.0)
        if quantize:
            lr = tf.round(lr * 255.0) / 255.0
        hr = hr[:, margin : margin + patch_size, margin : margin + patch_size]
        lr_margin, lr_patch = margin // stride, patch_size // stride
        lr = lr[:, lr_margin : lr_margin + lr_patch, lr_margin : lr_margin + lr_patch]
        if channels == "y":
            hr, lr = rgb_to_y(hr), rgb_to_y(lr)
        return lr, hr

    dataset = index_stream(len(files), seed, with_pass=True)
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.interleave(crops_of, cycle_length=batch_size, block_length=1).enumerate()
    dataset = dataset.map(crop, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    dataset = dataset.batch(batch_size, drop_remainder=True).map(synthesize, num_parallel_calls=2, deterministic=True)
    if not batch:
        dataset = dataset.unbatch()
    options = tf.data.Options()
    options.deterministic = True
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def mixed_sr_dataset(real, synthetic, synthetic_fraction=0.5, batch_size=16, seed=0):
    """Mix unbatched real and synthetic `(lr, hr)` streams at `synthetic_fraction` (the paper's "RealSR + Syn-DML")."""
    # stateless choices: the same mix under tf.distribute's rewriting as on one device
    choices = tf.data.Dataset.range(2**62).map(
        lambda i: tf.cast(tf.random.stateless_uniform([], tf.stack([tf.constant(seed, tf.int64), i])) < synthetic_fraction, tf.int64)
    )
    mixed = tf.data.Dataset.choose_from_datasets([real, synthetic], choices)
    return mixed.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)
