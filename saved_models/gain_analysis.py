"""Where a degradation model's error is: per-image exposure, and (DML) the local gain of its kernels.

    python saved_models/gain_analysis.py MODEL PAIRS

Prints, averaged over the pairs (PSNR on Y, crop 7, as `dml evaluate-degradation`):

- `as trained`: the generated LR as it is;
- `gain+offset`: after a least-squares gain and offset fitted to each image
  (what per-image exposure costs: no model of the camera can predict it);
- `+shift`: that, after the best sub-pixel shift of the whole image (a
  ±1 px grid in quarter pixels: the pair's registration);
- `tiles`: a gain and offset fitted to each 64² tile instead (local tone),
  and `+shift` a shift per tile too (local registration); with how much of
  the tiles' mean residual (after the per-image fit) the tile's brightness,
  contrast and position explain (R², linear in those), and position alone;
- for DML, `sums flattened`: each pixel's kernel rescaled so that the sums of
  all kernels equal the image's mean sum (the kernels' shapes without their
  local gain), and `unit sums` (every kernel rescaled to sum to 1);
- for DML, how much of the sum map's variance a cubic in the local HR
  brightness explains, and with the local gradient added (R², pooled).
"""

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.ndimage import shift as subpixel_shift

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("pairs")
    args = parser.parse_args(argv)

    import cv2
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
    scores, sums, brightness, gradient, tile_bias, tile_features = [], [], [], [], [], []
    for pair in discover_pairs(args.pairs, 4):
        hr, lr = (np.asarray(rgb_to_y(x), np.float32) for x in load_pair(pair, 4))
        generated = np.asarray(model.degrade(hr[None]))[0]
        gain, offset = np.polyfit(generated[inner].ravel(), lr[inner].ravel(), 1)
        row = [psnr(generated, lr, crop_border=7), psnr(np.clip(gain * generated + offset, 0, 1), lr, crop_border=7)]
        row += _registration_and_local_tone(generated[..., 0], lr[..., 0])
        bias, features = _tile_residuals(generated[..., 0], lr[..., 0], hr[..., 0], gain, offset)
        tile_bias.append(bias)
        tile_features.append(features)
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
    print(f"as trained {mean[0]:.2f} dB; per image gain+offset {mean[1]:.2f}, +shift {mean[2]:.2f}; "
          f"per 64² tile gain+offset {mean[3]:.2f}, +shift {mean[4]:.2f}")
    bias, features = np.concatenate(tile_bias), np.concatenate(tile_features)
    print(f"tiles' mean residual after the per-image fit: std {255 * bias.std():.2f} grey levels, R² against the "
          f"tile's brightness, contrast and position {_explained(bias, features.T):.2f}, position alone "
          f"{_explained(bias, features.T[-3:]):.2f}")
    if not is_dml:
        return 0
    print(f"sums flattened {mean[5]:.2f}, unit sums {mean[6]:.2f}")
    s, b, g = (np.concatenate(x) for x in (sums, brightness, gradient))

    print(f"kernel sums {s.min():.2f}–{s.max():.2f} (std {s.std():.3f}); R² against local brightness "
          f"{_explained(s, [b, b**2, b**3]):.2f}, with the local gradient "
          f"{_explained(s, [b, b**2, b**3, g, g**2, b * g]):.2f}")
    return 0


def _explained(target, columns):
    """R² of the least-squares fit of `target` by a constant and `columns`."""
    design = np.stack([np.ones_like(target)] + [np.asarray(c, target.dtype) for c in columns], axis=1)
    coef, *_ = np.linalg.lstsq(design, target, rcond=None)
    return 1.0 - np.var(target - design @ coef) / np.var(target)


def _tiles(shape, border=7, size=64):
    height, width = shape
    return [(slice(y, min(y + size, height - border)), slice(x, min(x + size, width - border)))
            for y in range(border, height - border, size) for x in range(border, width - border, size)]


def _fitted(generated, real):
    gain, offset = np.polyfit(generated.ravel(), real.ravel(), 1)
    return gain * generated + offset


def _registration_and_local_tone(generated, real, border=7):
    """PSNR after a gain/offset and the best shift per image, then a gain/offset per tile without and with a
    shift per tile (as `psnr`: crop `border`)."""
    from dml_keras.metrics import psnr

    inner = (slice(border, -border), slice(border, -border))
    tiles = _tiles(generated.shape, border)
    image_best = (np.inf, None)
    tile_plain, tile_best = [None] * len(tiles), [(np.inf, None)] * len(tiles)
    grid = np.arange(-1.0, 1.01, 0.25)
    for dy in grid:
        for dx in grid:
            moved = subpixel_shift(generated, (dy, dx), order=3, mode="nearest")
            fitted = np.copy(moved)
            fitted[inner] = _fitted(moved[inner], real[inner])
            error = np.mean((fitted[inner] - real[inner]) ** 2)
            image_best = min(image_best, (error, fitted), key=lambda x: x[0])
            for index, tile in enumerate(tiles):
                local = _fitted(moved[tile], real[tile])
                if dy == dx == 0:
                    tile_plain[index] = local
                error = np.sum((local - real[tile]) ** 2)
                tile_best[index] = min(tile_best[index], (error, local), key=lambda x: x[0])
    plain, best = np.copy(generated), np.copy(generated)
    for index, tile in enumerate(tiles):
        plain[tile], best[tile] = tile_plain[index], tile_best[index][1]
    return [psnr(np.clip(x, 0, 1)[..., None], real[..., None], crop_border=border)
            for x in (image_best[1], plain, best)]


def _tile_residuals(generated, real, hr, gain, offset, border=7):
    """Each tile's mean residual after the per-image gain/offset, and the tile's HR brightness (cubic), its
    brightness relative to the image's, contrast (std, mean |gradient|) and position (y, x, r²)."""
    residual = real - (gain * generated + offset)
    height, width = generated.shape
    bias, features = [], []
    for rows, cols in _tiles(generated.shape, border):
        tile = hr[rows, cols]
        y = (rows.start + rows.stop) / 2 / height - 0.5
        x = (cols.start + cols.stop) / 2 / width - 0.5
        mean = tile.mean()
        bias.append(residual[rows, cols].mean())
        features.append([mean, mean**2, mean**3, mean - hr.mean(), tile.std(), np.abs(np.diff(tile, axis=1)).mean(),
                         y, x, y * y + x * x])
    return np.array(bias), np.array(features)


if __name__ == "__main__":
    raise SystemExit(main())
