"""`dml demo`: the main job on photos that ship with scikit-image, no download needed."""

import json
import os

import numpy as np

from dml_keras.data.io import write_image
from dml_keras.metrics import lpips, psnr, ssim
from dml_keras.models import BicubicDegradation

DEMO_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")


def demo_photos(names=DEMO_PHOTOS, multiple_of=4):
    """Real photographs bundled with scikit-image, as float32 RGB in `[0, 1]`, cropped to a multiple of `multiple_of`."""
    import skimage.data

    photos = {}
    for name in names:
        image = getattr(skimage.data, name)().astype(np.float32) / 255.0
        height, width = image.shape[0] - image.shape[0] % multiple_of, image.shape[1] - image.shape[1] % multiple_of
        photos[name] = image[:height, :width]
    return photos


def add_noise(image, noise_sigma, seed):
    """Additive white Gaussian noise, `noise_sigma` on the 0–255 scale, seeded; clipped to `[0, 1]`."""
    noise = np.random.default_rng(seed).normal(0.0, noise_sigma / 255.0, image.shape)
    return np.clip(image + noise, 0.0, 1.0).astype(np.float32)


def run_demo(out_dir="dml_demo", scale=4, noise_sigma=5.0, seed=0):
    """Degrade the bundled photos, score the result and write PNGs plus `summary.md` and `summary.json`.

    Returns:
        the summary dict written to `summary.json`.

    Example:
    >>> summary = run_demo("/tmp/dml_demo")  # doctest: +SKIP
    """
    degradation = BicubicDegradation(scale=scale, lr_size="same")
    rows = []
    for index, (name, hr) in enumerate(demo_photos(multiple_of=scale).items()):
        lr = add_noise(degradation.degrade(hr), noise_sigma, seed + index)
        write_image(os.path.join(out_dir, "hr", f"{name}.png"), hr)
        write_image(os.path.join(out_dir, "lr", f"{name}.png"), lr)
        rows.append(
            {
                "name": name,
                "psnr": psnr(lr, hr, crop_border=scale),
                "ssim": ssim(lr, hr, crop_border=scale),
                "lpips": lpips(lr, hr),
            }
        )
    summary = {
        "degradation": f"bicubic x{scale} + AWGN sigma={noise_sigma}",
        "per_image": rows,
        "psnr": float(np.mean([r["psnr"] for r in rows])),
        "ssim": float(np.mean([r["ssim"] for r in rows])),
        "lpips": float(np.mean([r["lpips"] for r in rows])),
        "count": len(rows),
    }
    _write_summary(out_dir, summary)
    return summary


def _write_summary(out_dir, summary):
    lines = [
        "# dml demo",
        "",
        f"Degradation: {summary['degradation']}. LR images in `lr/`, the clean photos in `hr/`.",
        "Scores of the degraded photo against the clean one (Y channel, crop = scale):",
        "",
        "| photo | PSNR (dB) | SSIM | LPIPS (alex) |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['name']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['lpips']:.4f} |" for r in summary["per_image"]]
    lines.append(f"| **mean** | {summary['psnr']:.2f} | {summary['ssim']:.4f} | {summary['lpips']:.4f} |")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "summary.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
