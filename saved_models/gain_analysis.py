"""Where a degradation model's error is: per-image exposure, and (DML) the local gain of its kernels.

    python saved_models/gain_analysis.py MODEL PAIRS

Prints, averaged over the pairs (PSNR on Y, crop 7, as `dml evaluate-degradation`):

- `as trained`: the generated LR as it is;
- `gain+offset`: after a least-squares gain and offset fitted to each image
  (what per-image exposure costs: no model of the camera can predict it);
- for DML, `sums flattened`: each pixel's kernel rescaled so that the sums of
  all kernels equal the image's mean sum (the kernels' shapes without their
  local gain), and `unit sums` (every kernel rescaled to sum to 1);
- for DML, how much of the sum map's variance a cubic in the local HR
  brightness explains, and with the local gradient added (R², pooled).
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("pairs")
    args = parser.parse_args(argv)

    import cv2
    import numpy as np
    from keras import ops

    from dml_keras import load_model
    from dml_keras.data.pairs import discover_pairs, load_pair
    from dml_keras.metrics import psnr
    from dml_keras.models import DegradationModel
    from dml_keras.ops.color import rgb_to_y

    model = load_model(args.model)
    is_dml = isinstance(model, DegradationModel)
    basis_sums = np.asarray(ops.sum(model.basis_kernels, axis=(0, 1))) if is_dml else None
    inner = (slice(7, -7), slice(7, -7))
    scores, sums, brightness, gradient = [], [], [], []
    for pair in discover_pairs(args.pairs, 4):
        hr, lr = (np.asarray(rgb_to_y(x), np.float32) for x in load_pair(pair, 4))
        generated = np.asarray(model.degrade(hr[None]))[0]
        gain, offset = np.polyfit(generated[inner].ravel(), lr[inner].ravel(), 1)
        row = [psnr(generated, lr, crop_border=7), psnr(np.clip(gain * generated + offset, 0, 1), lr, crop_border=7)]
        if is_dml:
            total = (np.asarray(model.predict_weights(hr[None]))[0] * basis_sums).sum(-1, keepdims=True)
            row += [psnr(generated / total * total[inner].mean(), lr, crop_border=7),
                    psnr(generated / total, lr, crop_border=7)]
            y = hr[..., 0]
            dx, dy = cv2.Sobel(y, cv2.CV_32F, 1, 0), cv2.Sobel(y, cv2.CV_32F, 0, 1)
            sums.append(total[inner][..., 0].ravel())
            brightness.append(cv2.GaussianBlur(y, (0, 0), 2.0)[inner].ravel())
            gradient.append(cv2.GaussianBlur(np.hypot(dx, dy), (0, 0), 2.0)[inner].ravel())
        scores.append(row)
        print(pair.name, " ".join(f"{x:.2f}" for x in row), flush=True)
    mean = np.mean(scores, axis=0)
    print(f"as trained {mean[0]:.2f} dB, gain+offset {mean[1]:.2f}", end="")
    if not is_dml:
        print()
        return 0
    print(f", sums flattened {mean[2]:.2f}, unit sums {mean[3]:.2f}")
    s, b, g = (np.concatenate(x) for x in (sums, brightness, gradient))

    def explained(*columns):
        design = np.stack([np.ones_like(s)] + list(columns), axis=1)
        coef, *_ = np.linalg.lstsq(design, s, rcond=None)
        return 1.0 - np.var(s - design @ coef) / np.var(s)

    print(f"kernel sums {s.min():.2f}–{s.max():.2f} (std {s.std():.3f}); R² against local brightness "
          f"{explained(b, b**2, b**3):.2f}, with the local gradient {explained(b, b**2, b**3, g, g**2, b * g):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
