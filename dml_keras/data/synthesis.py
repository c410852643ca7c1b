"""Realistic pairs from clean photos: degrade with a learned model, add sensor noise, quantize.

Offline (`synthesize_folder`, `dml synthesize`): whole photos of any size, in
tiles, to `OUT/hr` and `OUT/lr` as PNG pairs with the same names.
Deterministic for a seed: each image's noise seed is derived from the seed
and its file name, so `--shard I/N` runs on several machines give exactly the
files of one run. Finished files are skipped when a run is repeated, and
every file is written atomically, so an interrupted run resumes cleanly.
"""

import hashlib
import os
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from dml_keras.errors import DataError
from dml_keras.data.io import image_files, read_image, write_image

# The smallest LR side synthesis makes (px), as HR / scale: below it the learned models' tiling has no room.
MIN_SIDE = 4


def image_seed(seed, name):
    """A 63-bit seed for one image from the run's `seed` and the file `name` (stable across machines)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def sensor_noise(shape, noise_sigma, key, visit=0, capture_scale=1):
    """Seeded Gaussian sensor noise of `shape` `(H, W, C)`, on the `[0, 1]` scale (a `tf.Tensor`).

    The one noise source of both synthesis paths: `dml synthesize` draws it
    with `key = image_seed(seed, file name)` and `visit = 0`, the on-the-fly
    pipeline with the same key and `visit` = the epoch, so a photo's first
    on-the-fly pair carries exactly the offline pair's noise.

    Args:
        noise_sigma: sigma on the 0–255 scale, or `(low, high)` drawn per call.
        key, visit: the stateless seed `[key, 2·visit]` draws sigma, `[key, 2·visit + 1]` the noise.
        capture_scale: > 1 draws the noise at `1/capture_scale` of the size
            and enlarges it bicubically (noise as a same-size LR file carries it).
    """
    import tensorflow as tf

    low, high = (noise_sigma, noise_sigma) if np.ndim(noise_sigma) == 0 else noise_sigma
    key, visit = tf.cast(key, tf.int64), tf.cast(visit, tf.int64)
    fraction = tf.random.stateless_uniform([], tf.stack([key, 2 * visit]))
    sigma = (low + (high - low) * fraction) / 255.0
    shape = tf.cast(shape, tf.int32)
    noise_seed = tf.stack([key, 2 * visit + 1])
    if capture_scale > 1:
        small = tf.concat([-(-shape[:2] // capture_scale), shape[2:]], 0)
        noise = tf.random.stateless_normal(small, noise_seed)
        noise = tf.image.resize(noise, small[:2] * capture_scale, method="bicubic")[: shape[0], : shape[1]]
    else:
        noise = tf.random.stateless_normal(shape, noise_seed)
    return noise * sigma


def sensor_noise_array(shape, noise_sigma, key, visit=0, capture_scale=1):
    """`sensor_noise` in NumPy, for backends without TensorFlow: the same draws (`dml_keras.data.stateless`),
    equal to float32 rounding; with `capture_scale` > 1 the enlargement is the backend's bicubic resize
    (`keras.ops.image.resize`: TensorFlow's own under TensorFlow, JAX's elsewhere, which differs at the edges)."""
    from dml_keras.data.stateless import stateless_normal, stateless_uniform

    low, high = (noise_sigma, noise_sigma) if np.ndim(noise_sigma) == 0 else noise_sigma
    key, visit = int(key), int(visit)
    fraction = stateless_uniform((key, 2 * visit), 1)[0]
    sigma = (np.float32(low) + np.float32(high - low) * fraction) / np.float32(255.0)
    shape = tuple(int(x) for x in shape)
    draw = shape
    if capture_scale > 1:
        draw = (-(-shape[0] // capture_scale), -(-shape[1] // capture_scale)) + shape[2:]
    noise = stateless_normal((key, 2 * visit + 1), int(np.prod(draw))).reshape(draw)
    if capture_scale > 1:
        import keras

        enlarged = keras.ops.image.resize(noise, (draw[0] * capture_scale, draw[1] * capture_scale),
                                          interpolation="bicubic")
        noise = keras.ops.convert_to_numpy(enlarged)[: shape[0], : shape[1]]
    return (noise * sigma).astype(np.float32)


def add_noise(image, noise_sigma, seed, capture_scale=1):
    """`image` plus `sensor_noise` keyed by `seed` (see there), clipped to `[0, 1]`; NumPy float32.

    Under a backend other than TensorFlow the noise is drawn in NumPy (`sensor_noise_array`), so
    `dml synthesize` needs no TensorFlow there; its values equal TensorFlow's to float32 rounding.

    Example:
    >>> noisy = add_noise(np.full((64, 64, 3), 0.5, np.float32), 5.0, seed=0)
    >>> round(float(np.std(noisy) * 255))
    5
    """
    import keras

    if keras.backend.backend() == "tensorflow":
        noise = sensor_noise(np.shape(image), noise_sigma, seed, 0, capture_scale).numpy()
    else:
        noise = sensor_noise_array(np.shape(image), noise_sigma, seed, 0, capture_scale)
    return np.clip(np.asarray(image, np.float32) + noise, 0.0, 1.0)


def default_noise_sigma(model):
    """The sensor noise added after `model` unless asked otherwise: 5 (the paper), 0 if the model brings its own."""
    return 0.0 if model.adds_noise else 5.0


def batch_stages(model):
    """How degradation `model` degrades a batch of HR crops, in the two stages every pair source runs:
    `(in_graph, in_numpy)`. `in_graph(hr)`: its Keras part, run on the backend (`None` when it has none);
    `in_numpy(x, seeds)`: the rest, in NumPy, with each crop's `(key, visit)` seed for random degradations
    (`None` when nothing is left). A learned model is all Keras; a learned blur with hand-crafted noise
    (`LearnedBlurWithNoise`) runs its blur in Keras and its noise and JPEG in NumPy; the built-ins are NumPy.
    """
    import keras

    if isinstance(model, keras.Model):
        return (lambda hr: model(hr, training=False)), None
    blur = getattr(model, "blur", None)
    if isinstance(blur, keras.Model):
        return (lambda hr: blur(hr, training=False)), model.finish
    if model.stochastic:
        return None, lambda x, seeds: model.degrade(x, seeds=seeds)
    return None, lambda x, seeds: model.degrade(x)


def parse_shard(text):
    """`"I/N"` → `(I, N)` with `0 <= I < N`."""
    from dml_keras.errors import SetupError

    try:
        index, count = (int(v) for v in str(text).split("/"))
    except ValueError:
        raise SetupError(f"--shard must look like I/N, e.g. 0/4, not {text!r}") from None
    if not 0 <= index < count:
        raise SetupError(f"--shard I/N needs 0 <= I < N, not {text!r}")
    return index, count


def list_images(folder):
    """Image files directly in `folder`, sorted by name."""
    return image_files([folder], folders_only=True)


def synthesize_folder(model, hr_dir, out_dir, noise_sigma=None, seed=0, shard=(0, 1), quantize=True,
                      tile_size=512, progress=True, noise_resolution="output"):
    """Degrade every photo in `hr_dir` into `out_dir/hr` + `out_dir/lr` (PNG, same names).

    Args:
        model: a degradation model (`degrade(images)`), learned or built-in.
        noise_sigma: AWGN on the 0–255 scale after degradation, or `(low, high)`;
            default `default_noise_sigma(model)` (5 as the paper, 0 for models with their own noise).
        seed: run seed; per-image seeds derive from it and the file name.
        shard: `(index, count)`: process files whose position `% count == index`.
        quantize: store 8-bit LR (as the authors did); otherwise 16-bit PNG.
        noise_resolution: `"output"` (default, the paper): white at the LR's size;
            `"native"`: for same-size LR, drawn at the capture resolution and
            enlarged (see `add_noise`).

    Returns:
        list of the names written or found already done.
    """
    index, count = shard
    noise_sigma = default_noise_sigma(model) if noise_sigma is None else noise_sigma
    files = [f for i, f in enumerate(list_images(hr_dir)) if i % count == index]
    names = []
    for path in tqdm(files, desc="synthesize", unit="image", disable=not progress):
        name = path.stem + ".png"
        hr_out, lr_out = os.path.join(out_dir, "hr", name), os.path.join(out_dir, "lr", name)
        names.append(name)
        if os.path.exists(hr_out) and os.path.exists(lr_out):
            continue  # finished in an earlier run
        hr, lr, _ = synthesize_photo(model, path, noise_sigma, seed, tile_size, noise_resolution)
        write_image(hr_out, hr)  # HR first: a pair counts as done only once its LR exists
        write_image(lr_out, lr, bit_depth=8 if quantize else 16)
    return names


def synthesize_photo(model, path, noise_sigma, seed=0, tile_size=512, noise_resolution="output"):
    """One photo's pair, as both output formats store it: `(hr, lr, key)`, float32 in `[0, 1]`.

    The HR is cropped to a multiple of the scale; the LR is degraded, noised with the stateless
    `key = image_seed(seed, file name)` and clipped (rounded to 8 or 16 bits when written).
    """
    scale = model.scale
    capture_scale = scale if model.lr_size == "same" and noise_resolution == "native" else 1
    hr = read_image(path)
    if min(hr.shape[:2]) < MIN_SIDE * scale:
        raise DataError(f"'{path}' is {hr.shape[0]}×{hr.shape[1]}: too small to degrade ×{scale}. Clean photos need "
                        f"at least {MIN_SIDE * scale} px a side; remove it from the folder.")
    hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
    key = image_seed(seed, Path(path).name)
    if model.stochastic:  # random degradations: the file's seed, first visit (as on the fly)
        lr = model.degrade(hr, seeds=[(key, 0)], tile_size=tile_size)
    else:
        lr = model.degrade(hr, tile_size=tile_size)
    return hr, add_noise(np.clip(lr, 0.0, 1.0), noise_sigma, key, capture_scale), key
