"""SR networks (VDSR, RCAN): build them by name, train them on real, synthetic or mixed pairs, score them."""

import os

import keras
import numpy as np
from tqdm.auto import tqdm

from dml_keras.data.pairs import pair_geometry, resolve_pairs
from dml_keras.distribute import check_jit_compile, resolve_strategy, training_scope
from dml_keras.metrics import PSNR, SSIM, lpips, psnr, ssim
from dml_keras.workflows.fit import fit_and_save


def build_sr_model(arch="vdsr", scale=4, channels="y", lr_size="same", **kwargs):
    """VDSR or RCAN by name; `kwargs` set the architecture's own sizes (VDSR: `depth`, `filters`;
    RCAN: `num_groups`, `num_blocks`, `filters`, ...). `None` values are left at their defaults; an
    argument the architecture does not take is a `SetupError` that names it."""
    from dml_keras.models import build_strictly

    return build_strictly(_sr_class(arch), arch, scale=scale, channels=channels, lr_size=lr_size,
                          **{k: v for k, v in kwargs.items() if v is not None})


def _sr_class(arch):
    from dml_keras.models import SR_MODELS

    if arch not in SR_MODELS:
        raise ValueError(f"arch must be one of {tuple(SR_MODELS)}. Received: arch={arch!r}")
    return SR_MODELS[arch]


def train_sr(out_dir, pairs=None, degradation=None, hr_dir=None, synthetic_pairs=None, synthetic_fraction=0.5, arch="vdsr", scale=4,
             channels="y", lr_size="same", patch_size=48, batch_size=None, steps=10_000, steps_per_epoch=500,
             learning_rate=1e-4, noise_sigma=None, noise_model="white", noise_resolution="output", val_pairs=None, seed=0, verbose="auto",
             callbacks=(), strategy=None, mixed_precision=False, crops_per_image=4, jit_compile="auto", **arch_kwargs):
    """Train VDSR/RCAN on real pairs, synthetic pairs, or a mix at `synthetic_fraction`.

    Synthetic pairs are made on the fly (`degradation` + `hr_dir`) or read from
    `synthetic_pairs` (the output of `dml synthesize`, for degradations too
    costly to run in the input pipeline).

    Resumable (`out_dir/backup`), logged (TensorBoard, `history.csv`), saved as `out_dir/model.keras`.
    Defaults follow the paper: Adam 1e-4, batch 16 (VDSR) or 2 (RCAN), L2 loss for VDSR and L1 for RCAN.
    `degradation`: a model, a saved model's path, or a built-in name (`"bicubic"`, `"handcrafted"`);
    `noise_model="handcrafted"` adds Real-ESRGAN's noise and JPEG to a learned blur; `noise_sigma`
    (AWGN, 0–255 scale) defaults to 5 (the paper), or 0 for degradations that add their own noise.
    `strategy`, `mixed_precision` and `jit_compile` as in `train_degradation` (`dml_keras.distribute`).
    """
    from dml_keras.data.sr_pipeline import mixed_sr_dataset, real_sr_dataset, synthetic_sr_dataset
    from dml_keras.data.synthesis import default_noise_sigma
    from dml_keras.loading import load_model
    from dml_keras.models import check_arguments

    # first: what cannot run is refused before any work is done
    check_arguments(_sr_class(arch), arch, {k: v for k, v in arch_kwargs.items() if v is not None})
    if pairs is None and degradation is None and synthetic_pairs is None:
        raise ValueError("Give real `pairs`, or a `degradation` model and an `hr_dir` of clean photos, or both.")
    if degradation is not None and synthetic_pairs is not None:
        raise ValueError("Give synthetic pairs one way: a `degradation` (on the fly) or `synthetic_pairs` (from disk).")
    if degradation is not None and hr_dir is None:
        raise ValueError("On-the-fly synthesis needs `hr_dir`, a folder of clean HR photos.")
    # first: a strategy that cannot run is refused before any work is done
    strategy = resolve_strategy(strategy)
    check_jit_compile(strategy, jit_compile)
    batch_size = batch_size or (16 if arch == "vdsr" else 2)
    keras.utils.set_random_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    mixing = pairs is not None and (degradation is not None or synthetic_pairs is not None)
    streams = []
    for source in (pairs, synthetic_pairs):
        if source is not None:
            streams.append(real_sr_dataset(resolve_pairs(source, scale), scale, patch_size, batch_size, lr_size, channels, seed,
                                           batch=not mixing))
    if degradation is not None:
        model = load_model(degradation, kind="degradation", scale=scale, lr_size=lr_size, noise=noise_model)
        noise_sigma = default_noise_sigma(model) if noise_sigma is None else noise_sigma
        streams.append(synthetic_sr_dataset(model, hr_dir, patch_size, batch_size, channels, noise_sigma, seed=seed,
                                            batch=not mixing, noise_resolution=noise_resolution,
                                            crops_per_image=crops_per_image))
    train = mixed_sr_dataset(*streams, synthetic_fraction, batch_size, seed) if mixing else streams[0]
    validation = None
    if val_pairs is not None:
        from dml_keras.data.pipeline import validation_batches

        validation = validation_batches(resolve_pairs(val_pairs, scale), scale, lr_size, channels, inputs="lr")
    sample_lr, sample_hr = next(iter((validation or train).take(1)))
    sample_lr, sample_hr = _center_crop_pair(sample_lr.numpy()[:1], sample_hr.numpy()[:1], 256)
    with training_scope(strategy, mixed_precision) as (strategy, policy):
        network = build_sr_model(arch, scale, channels, lr_size, **arch_kwargs)
        network.compile(
            optimizer=keras.optimizers.Adam(learning_rate),
            loss="mse" if arch == "vdsr" else "mae",
            metrics=[PSNR(crop_border=scale), SSIM(crop_border=scale)],
            jit_compile=jit_compile,
        )
        network(sample_lr)  # build before BackupAndRestore restores weights into it
    settings = dict(arch=arch, scale=scale, channels=channels, lr_size=lr_size, patch_size=patch_size,
                    batch_size=batch_size, steps=steps, steps_per_epoch=steps_per_epoch, learning_rate=learning_rate,
                    noise_sigma=noise_sigma, noise_model=noise_model if degradation is not None else None,
                    noise_resolution=noise_resolution,
                    crops_per_image=crops_per_image if degradation is not None else None,
                    synthetic_fraction=synthetic_fraction if mixing else None, seed=seed,
                    pairs=str(pairs) if pairs is not None and not isinstance(pairs, list) else None,
                    synthetic_pairs=str(synthetic_pairs) if synthetic_pairs is not None and not isinstance(synthetic_pairs, list) else None,
                    degradation=str(degradation) if isinstance(degradation, (str, os.PathLike)) else None,
                    hr_dir=str(hr_dir) if hr_dir else None, **arch_kwargs)
    network = fit_and_save(network, strategy, policy, out_dir, settings, train, validation, steps, steps_per_epoch,
                           (sample_lr, sample_hr, "lr_sr_hr"), callbacks, verbose)
    return network


def _center_crop_pair(lr, hr, size):
    """The central `size`² of HR (at most) and the LR under it, for example images."""
    factor = hr.shape[1] // lr.shape[1]

    def on_lr_grid(pixels):
        return pixels // factor * factor

    size = on_lr_grid(min(size, hr.shape[1], hr.shape[2]))
    top, left = on_lr_grid((hr.shape[1] - size) // 2), on_lr_grid((hr.shape[2] - size) // 2)
    return (lr[:, top // factor : (top + size) // factor, left // factor : (left + size) // factor],
            hr[:, top : top + size, left : left + size])


def evaluate_sr(model, pairs, scale=None, crop_border=None, lpips_net="alex", tile_size=512, progress=True):
    """PSNR/SSIM (Y, crop = `scale`) and LPIPS of an SR model on real test pairs (score files: docs/data.md).

    The input is each pair's LR file as stored (small, or already enlarged);
    large images run in tiles, so memory stays bounded.
    """
    from dml_keras.data.io import image_size, read_image

    scale = scale or model.scale
    crop_border = scale if crop_border is None else crop_border
    pairs = resolve_pairs(pairs, scale)
    geometry = [pair_geometry(pair, scale, "same") for pair in pairs]  # fail before any work on a bad pair
    rows = []
    for pair, ((hr_h, hr_w), _) in tqdm(list(zip(pairs, geometry)), desc="evaluate-sr", unit="pair", disable=not progress):
        hr = read_image(pair.hr)[:hr_h, :hr_w]
        enlarged = image_size(pair.lr) == image_size(pair.hr)
        restored = model.super_resolve(read_image(pair.lr), tile_size, enlarged=enlarged)[:hr_h, :hr_w]
        row = {"name": pair.name, "psnr": psnr(restored, hr, crop_border), "ssim": ssim(restored, hr, crop_border)}
        if lpips_net and lpips_net != "none":
            row["lpips"] = lpips(restored, hr, net=lpips_net)
        rows.append(row)
    summary = {key: float(np.mean([r[key] for r in rows])) for key in rows[0] if key != "name"}
    return {**summary, "count": len(rows), "per_image": rows}


def upscale_files(model, inputs, out_dir, tile_size=512, progress=True):
    """Super-resolve image files and folders of them into `out_dir` as PNG, keeping each file's kind.

    Greyscale inputs give greyscale outputs and 16-bit inputs 16-bit outputs
    (8-bit otherwise); every output is `NAME.png`, written atomically.

    Args:
        model: an SR model (`load_model(..., kind="sr")`).
        inputs: image files and folders (their image files, in name order).

    Returns:
        the written paths.
    """
    from pathlib import Path

    from dml_keras.data.io import is_image_file, read_image, write_image

    files = []
    for item in inputs:
        path = Path(item)
        files += sorted(p for p in path.iterdir() if is_image_file(p.name)) if path.is_dir() else [path]
    written = []
    for path in tqdm(files, desc="upscale", unit="image", disable=not progress):
        image, (greyscale, bit_depth) = read_image(path, with_format=True)  # one decode
        restored = model.super_resolve(image, tile_size=tile_size)
        target = os.path.join(out_dir, path.stem + ".png")
        # a grey photo stays grey through a Y model (its chroma is neutral); an RGB model's channels are averaged
        write_image(target, restored.mean(axis=-1) if greyscale else restored, bit_depth=bit_depth)
        written.append(target)
    return written
