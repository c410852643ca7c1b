"""Score the perceptual Table 2 (saved_models/README.md, "Perceptual SR"): run from the repository root.

    python saved_models/perceptual_study.py table RUN_OR_FILE ... [--peers] [--pairs CSV]   # held-out pairs
    python saved_models/perceptual_study.py wild MODEL ...                    # JPEG 30-60 + noise 10-20 test

`table` scores each model (and, with --peers, the published outputs in
../shared/data/peer_outputs) on the 10 held-out RealSR pairs with
`dml_keras.workflows.sr.evaluate_sr` (PSNR/SSIM on Y, crop 4, LPIPS AlexNet).
`wild` degrades clean photos none of the models saw (Set5 and scikit-image's)
by bicubic x4, Gaussian noise of sigma 10-20 and JPEG quality 30-60 (drawn per
photo, seeded) and scores the outputs against the clean photo.
"""

import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
VAL = os.path.join(HERE, "realsr_x4_val.csv")
PEERS = os.path.join(HERE, "..", "..", "shared", "data", "peer_outputs")


def _row(name, scores):
    per = scores["per_image"]
    cells = [name]
    for camera in ("", "Canon", "Nikon"):
        rows = [r for r in per if r["name"].startswith(camera)]
        cells.append(" / ".join(f"{np.mean([r[k] for r in rows]):{f}}" for k, f in
                                (("psnr", ".2f"), ("ssim", ".4f"), ("lpips", ".3f"), ("color", ".2f"))))
    return "| " + " | ".join(cells) + " |"


def table(models, peers, json_path=None, pairs=VAL):
    from dml_keras.loading import load_model
    from dml_keras.workflows.sr import evaluate_sr

    results = {}
    sources = [(m, m) for m in models]
    if peers:
        sources += [(f"peer:{p}", os.path.join(PEERS, p)) for p in ("realesrgan_x4plus", "osediff")]
    print("| model | all (PSNR / SSIM / LPIPS / colour error) | Canon | Nikon |\n|---|---|---|---|")
    for name, source in sources:
        model = source if name.startswith("peer:") else load_model(source, kind="sr")
        scores = evaluate_sr(model, pairs, scale=4, progress=False)
        results[name] = scores
        print(_row(name, scores), flush=True)
    if json_path:
        with open(json_path, "w") as handle:
            json.dump(results, handle, indent=2)


def wild_photos():
    """Clean photos none of the shipped models trained on: Set5 HR and four of scikit-image's."""
    import skimage.data

    from dml_keras.data.io import read_image

    photos = {}
    folder = os.path.join(HERE, "..", "..", "shared", "data", "set5", "HR")
    if os.path.isdir(folder):
        for name in sorted(os.listdir(folder)):
            photos["set5_" + os.path.splitext(name)[0]] = read_image(os.path.join(folder, name))
    for name in ("astronaut", "coffee", "chelsea", "rocket"):
        photos[name] = getattr(skimage.data, name)().astype(np.float32) / 255.0
    return photos


def degrade_wild(hr, seed):
    """Bicubic x4, then Gaussian noise sigma 10-20 (0-255 scale) and JPEG quality 30-60, drawn from `seed`."""
    import cv2

    from dml_keras.ops.resize import imresize

    rng = np.random.default_rng(seed)
    h, w = hr.shape[0] // 4 * 4, hr.shape[1] // 4 * 4
    hr = hr[:h, :w]
    lr = np.clip(imresize(hr, output_size=(h // 4, w // 4)), 0, 1)
    sigma, quality = rng.uniform(10, 20), int(rng.integers(30, 61))
    lr = np.clip(lr + rng.normal(0, sigma / 255.0, lr.shape), 0, 1)
    ok, data = cv2.imencode(".jpg", np.round(lr[..., ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
    lr = cv2.imdecode(data, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0
    return hr, lr, sigma, quality


def wild(models, out_dir=None):
    from dml_keras.data.io import write_image
    from dml_keras.loading import load_model
    from dml_keras.metrics import lpips, psnr

    photos = wild_photos()
    cases = {name: degrade_wild(hr, seed) for seed, (name, hr) in enumerate(photos.items())}
    if out_dir:
        for name, (_, lr, _, _) in cases.items():
            write_image(os.path.join(out_dir, name + ".png"), lr)
    print("| model | PSNR (Y) | LPIPS |\n|---|---|---|")
    for source in models:
        model = load_model(source, kind="sr")
        values = []
        for hr, lr, _, _ in cases.values():
            restored = model.super_resolve(lr)[: hr.shape[0], : hr.shape[1]]
            values.append((psnr(restored, hr, 4), lpips(restored, hr)))
        print(f"| {source} | {np.mean([v[0] for v in values]):.2f} | {np.mean([v[1] for v in values]):.3f} |", flush=True)
    print("noise sigma / JPEG quality per photo:", {n: (round(c[2], 1), c[3]) for n, c in cases.items()})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("table")
    p.add_argument("models", nargs="*")
    p.add_argument("--peers", action="store_true")
    p.add_argument("--json")
    p.add_argument("--pairs", default=VAL, help="the pairs to score on (default: the 10 held-out RealSR pairs)")
    p = sub.add_parser("wild")
    p.add_argument("models", nargs="+")
    p.add_argument("--lr-out", help="also write the degraded inputs here")
    args = parser.parse_args()
    if args.command == "table":
        table(args.models, args.peers, args.json, args.pairs)
    else:
        wild(args.models, args.lr_out)
    sys.exit(0)
