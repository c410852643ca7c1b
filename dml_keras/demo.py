"""`dml demo`: the main job out of the box, on photos that ship with scikit-image.

1. The shipped real-camera degradation model (learned from real RealSR x4 pairs)
   degrades the bundled photos (+ sensor noise, 8-bit), side by side with bicubic.
2. Its figures: basis kernels, weight maps, per-pixel kernels.
3. The best shipped SR model (a VDSR trained on real + DML-synthesized pairs,
   the preset `vdsr_realsr_x4`) upscales the realistic LR, next to the same
   network trained on bicubic pairs of the same clean photos (`vdsr_bicubic_x4`).
4. Everything goes to `--out` as PNGs plus `summary.md` / `summary.json`.
"""

import json
import os
from pathlib import Path

import numpy as np

from dml_keras.data.io import read_image, write_image
from dml_keras.data.synthesis import add_noise
from dml_keras.metrics import lpips, psnr
from dml_keras.models import BicubicDegradation
from dml_keras.ops.resize import imresize

DEMO_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket")
DEGRADATION = "dml_realsr_x4"  # presets (dml_keras.presets); with --models, these files of a saved_models/ folder
SR_MODELS = {"vdsr_real_syndml": "vdsr_realsr_x4", "vdsr_bicubic": "vdsr_bicubic_x4"}
DEGRADATION_FILE = "dml_realsr_x4.keras"
SR_FILES = {"vdsr_real_syndml": "table2/real_syndml_5000.keras", "vdsr_bicubic": "table2/bicubic_5000.keras"}


def demo_photos(names=DEMO_PHOTOS, multiple_of=4):
    """Real photographs bundled with scikit-image, float32 RGB in `[0, 1]`, cropped to a multiple of `multiple_of`."""
    import skimage.data

    photos = {}
    for name in names:
        image = getattr(skimage.data, name)().astype(np.float32) / 255.0
        height, width = image.shape[0] - image.shape[0] % multiple_of, image.shape[1] - image.shape[1] % multiple_of
        photos[name] = image[:height, :width]
    return photos


def _side_by_side(*images):
    height = max(i.shape[0] for i in images)
    padded = [np.pad(i, ((0, height - i.shape[0]), (0, 8), (0, 0)), constant_values=1.0) for i in images]
    return np.concatenate(padded, axis=1)[:, :-8]


def run_demo(out_dir="dml_demo", noise_sigma=5.0, seed=0, models_dir=None, image=None):
    """Run the demo and return the summary written to `summary.json`.

    Example:
    >>> summary = run_demo("/tmp/dml_demo")  # doctest: +SKIP
    """
    from dml_keras.loading import load_model
    from dml_keras.models.sr_base import super_resolve
    from dml_keras.visualization import visualize

    bicubic = BicubicDegradation(4)
    if models_dir is None:  # the presets that install with the package
        learned = load_model(DEGRADATION, kind="degradation")
        sr_models = {key: load_model(name, kind="sr") for key, name in SR_MODELS.items()}
    else:  # a saved_models/ folder of a checkout or of your own
        folder = Path(models_dir)
        learned = load_model(folder / DEGRADATION_FILE, kind="degradation")
        sr_models = {k: load_model(folder / f, kind="sr") for k, f in SR_FILES.items() if (folder / f).exists()}
    # LR at the capture size, as `dml synthesize --lr-size native` makes the pairs the shipped SR models learned from
    degradation = load_model(learned, kind="degradation", lr_size="native")
    name_of_degradation = "learned DML (RealSR x4)"
    rows = []
    for index, (name, hr) in enumerate(demo_photos().items()):
        small = add_noise(np.clip(degradation.degrade(hr), 0, 1), noise_sigma, seed + index)
        small = np.round(small * 255) / 255
        lr = np.clip(imresize(small, output_size=hr.shape[:2]), 0, 1)  # enlarged: shown and scored beside the photo
        write_image(os.path.join(out_dir, "degraded", f"{name}_hr_dml_bicubic.png"), _side_by_side(hr, lr, bicubic.degrade(hr)))
        row = {"name": name, "lr_psnr": psnr(lr, hr, 4), "lr_lpips": lpips(lr, hr)}
        for key, model in sr_models.items():
            restored = super_resolve(model, small)
            write_image(os.path.join(out_dir, "upscaled", f"{name}_{key}.png"), restored)
            row[f"{key}_psnr"], row[f"{key}_lpips"] = psnr(restored, hr, 4), lpips(restored, hr)
        rows.append(row)
    figures = {}
    if hasattr(learned, "basis_kernels"):
        figures = visualize(learned, demo_photos(["astronaut"])["astronaut"][:256, :256], os.path.join(out_dir, "figures"))
    upscaled_own = None
    if image and sr_models:
        upscaled_own = os.path.join(out_dir, "upscaled", Path(image).stem + "_x4.png")
        write_image(upscaled_own, super_resolve(sr_models.get("vdsr_real_syndml", next(iter(sr_models.values()))), read_image(image)))
    summary = {
        "degradation": name_of_degradation,
        "noise_sigma": noise_sigma,
        "sr_models": sorted(sr_models),
        "per_image": rows,
        "count": len(rows),
        "figures": {k: os.path.relpath(v, out_dir) for k, v in figures.items()},
        "upscaled_image": upscaled_own,
    }
    for key in rows[0]:
        if key != "name":
            summary[key] = float(np.mean([r[key] for r in rows]))
    _write_summary(out_dir, summary)
    return summary


def _write_summary(out_dir, summary):
    keys = [k for k in summary["per_image"][0] if k != "name"]
    lines = [
        "# dml demo",
        "",
        f"Degradation: {summary['degradation']} to the capture size (1/4), then white Gaussian noise "
        f"sigma={summary['noise_sigma']} and 8-bit quantization; the LR is shown and scored enlarged (bicubic).",
        "`degraded/NAME_hr_dml_bicubic.png`: clean photo | realistic LR from the learned model | plain bicubic LR.",
        "`upscaled/`: the realistic LR restored by the shipped SR models. `figures/`: what the degradation model learned.",
        "",
        "Scores against the clean photo (PSNR on Y with crop 4, LPIPS AlexNet; higher PSNR / lower LPIPS is better):",
        "",
        "| photo | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    lines += [f"| {r['name']} | " + " | ".join(f"{r[k]:.4f}" for k in keys) + " |" for r in summary["per_image"]]
    lines.append("| **mean** | " + " | ".join(f"{summary[k]:.4f}" for k in keys) + " |")
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "summary.md"), "w") as handle:
        handle.write("\n".join(lines) + "\n")
    with open(os.path.join(out_dir, "summary.json"), "w") as handle:
        json.dump(summary, handle, indent=2)
