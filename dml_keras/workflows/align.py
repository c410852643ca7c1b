"""Aligned HR/LR pairs from two captures of a scene (`dml align`), and sub-pixel refinement of existing pairs.

The steps (docs/align.md):

1. **Coarse geometry**: SIFT features and RANSAC give a homography from the HR
   capture (on its 1/`scale` lattice) to the LR capture. The focal lengths in
   EXIF, when both files carry them, say the ratio to expect before any
   feature is matched. Too few agreeing matches: the photos are refused.
2. **Fine registration** on luminance: ECC (`cv2.findTransformECC`) over an
   image pyramid. Its criterion, the correlation of the zero-mean normalized
   images, is unchanged by a global gain and offset, so the luminance
   correction that RealSR alternates with its registration is built in.
3. **Crop and resample**: the LR capture is resampled onto the HR's
   1/`scale` lattice (bicubic, OpenCV's a = -0.75), and both are cropped to
   the largest axis-aligned rectangle valid in both. Only a global gain and
   offset of the luminance is ever fitted, and applied only on request.
4. **Report**: the transform, the ECC correlation, the luminance fit, the
   valid area and the residual misalignment per tile (an ECC translation per
   tile, in LR pixels), so that badly aligned pairs are listed and left out.

Coordinates: the HR lattice pixel `u` is the `scale`² block of HR pixels whose
centre is at HR `scale·u + (scale-1)/2`, as MATLAB's and OpenCV's area
shrinking place it; transforms map lattice pixels to LR capture pixels
(OpenCV's pixel centres at integers).
"""

import dataclasses
import json
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dml_keras.data.files import write_json
from dml_keras.data.io import read_image, write_image
from dml_keras.errors import DataError
from dml_keras.ops.resize import imresize, shrink_enlarged

MOTIONS = {"translation": cv2.MOTION_TRANSLATION, "euclidean": cv2.MOTION_EUCLIDEAN,
           "affine": cv2.MOTION_AFFINE, "homography": cv2.MOTION_HOMOGRAPHY}
MIN_INLIERS = 25  # RANSAC inliers below which two photos are taken not to show the same scene
MAX_RESIDUAL = 0.5  # LR px: a pair whose tiles' 95th-percentile misalignment is above this is left out
TILE = 64  # LR px: side of the tiles whose misalignment the report measures
SCALE_TOLERANCE = 1.25  # the captures' measured ratio may differ from --scale by this factor either way
MIN_DETAIL = 0.01  # RMS gradient (per px, [0, 1] scale) below which a tile is too flat to measure
SMOOTHING = 1.5  # px: Gaussian σ before a tile's texture is measured, so that noise does not pass for detail
MIN_ISOTROPY = 0.1  # smaller / larger eigenvalue of a tile's structure tensor below which it holds one edge only
MIN_TILE_CORRELATION = 0.8  # ECC correlation below which a tile's shift is not trusted
_BORDER = 1  # LR capture px kept clear on each side: bicubic taps at x in [1, w-2] stay inside the capture


@dataclasses.dataclass
class AlignedPair:
    """What `align_pair` returns: `hr` and `lr` float32 RGB in [0, 1] and the `report` (JSON-ready dict)."""

    hr: np.ndarray
    lr: np.ndarray
    report: dict

    @property
    def accepted(self):
        return self.report["accepted"]


def _grey(image):
    """Luminance (BT.601 Y without its offset) of an RGB float image, float32 in [0, 1]."""
    return np.asarray(image[..., 0] * 0.299 + image[..., 1] * 0.587 + image[..., 2] * 0.114, np.float32)


def focal_ratio(hr_path, lr_path):
    """How many times finer the HR capture samples the scene than the LR capture, from EXIF; `None` without EXIF.

    Pixels per unit of angle are proportional to focal length times image
    width (same sensor), so the ratio is `f_hr·W_hr / (f_lr·W_lr)`; the
    35 mm-equivalent focal lengths are used when both files have them (two
    different cameras), the plain ones otherwise.
    """
    tags = []
    for path in (hr_path, lr_path):
        try:
            with Image.open(path) as image:
                exif = image.getexif().get_ifd(0x8769)
                width = max(image.size)
        except Exception:  # not an image PIL reads, or no EXIF: no ratio from metadata
            return None
        tags.append((exif.get(0x920A), exif.get(0xA405), width))  # FocalLength, FocalLengthIn35mmFilm
    (f_hr, f35_hr, w_hr), (f_lr, f35_lr, w_lr) = tags
    if f35_hr and f35_lr:
        f_hr, f_lr = f35_hr, f35_lr
    if not f_hr or not f_lr:
        return None
    return float(f_hr) * w_hr / (float(f_lr) * w_lr)


def _as_8bit(grey):
    low, high = np.percentile(grey, (0.5, 99.5))
    return np.clip((grey - low) / max(high - low, 1e-6) * 255, 0, 255).astype(np.uint8)


def _features(template, capture, motion, names):
    """Homography (3×3) from lattice to capture pixels by SIFT + RANSAC, and what the matching found."""
    sift = cv2.SIFT_create(nfeatures=8000)
    kp_t, des_t = sift.detectAndCompute(_as_8bit(template), None)
    kp_c, des_c = sift.detectAndCompute(_as_8bit(capture), None)
    found = {"method": "sift+ransac", "keypoints": [len(kp_t), len(kp_c)], "matches": 0, "inliers": 0}
    if des_t is None or des_c is None or len(kp_t) < MIN_INLIERS or len(kp_c) < MIN_INLIERS:
        raise DataError(f"'{names[0]}' and '{names[1]}': too little detail to match ({len(kp_t)} and {len(kp_c)} "
                        f"features; need {MIN_INLIERS}). Photograph a textured, static scene.")
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(des_t, des_c, k=2)
    good = [m[0] for m in knn if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    found["matches"] = len(good)
    if len(good) >= MIN_INLIERS:
        src = np.float32([kp_t[m.queryIdx].pt for m in good])
        dst = np.float32([kp_c[m.trainIdx].pt for m in good])
        if motion == "homography":
            matrix, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 3.0, maxIters=5000, confidence=0.999)
        else:
            affine, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0,
                                                          maxIters=5000, confidence=0.999)
            matrix = None if affine is None else np.vstack([affine, [0, 0, 1]])
        found["inliers"] = 0 if inliers is None else int(inliers.sum())
    if found["inliers"] < MIN_INLIERS:
        raise DataError(
            f"'{names[0]}' and '{names[1]}' do not look like the same scene: {found['inliers']} of "
            f"{found['matches']} feature matches agree on one transform (need {MIN_INLIERS}). "
            "Check that the files are two captures of the same scene, or drop the pair.")
    return matrix.astype(np.float64), found


def _level(matrix, factor):
    """The lattice→capture transform for both images shrunk by `factor` (pixel centres kept)."""
    down = np.array([[1 / factor, 0, 0.5 / factor - 0.5], [0, 1 / factor, 0.5 / factor - 0.5], [0, 0, 1]])
    return down @ matrix @ np.linalg.inv(down)


def _ecc(template, capture, matrix, motion, levels, mask=None):
    """Refine `matrix` (3×3, lattice→capture) by ECC over `levels` pyramid levels; returns it and the correlation."""
    criteria = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 200, 1e-7)
    correlation = float("nan")
    for level in reversed(range(levels)):
        factor = 2 ** level
        t = template if factor == 1 else cv2.resize(template, None, fx=1 / factor, fy=1 / factor,
                                                   interpolation=cv2.INTER_AREA)
        c = capture if factor == 1 else cv2.resize(capture, None, fx=1 / factor, fy=1 / factor,
                                                  interpolation=cv2.INTER_AREA)
        if min(t.shape) < 24:
            continue
        warp = _level(matrix, factor)
        warp = (warp / warp[2, 2]).astype(np.float32)
        if motion != "homography":
            warp = warp[:2]
        m = None if mask is None else cv2.resize(mask, (c.shape[1], c.shape[0]), interpolation=cv2.INTER_NEAREST)
        try:
            correlation, warp = cv2.findTransformECC(t, c, warp, MOTIONS[motion], criteria, m, 5)
        except cv2.error:  # did not converge at this level: keep the estimate from the level above
            continue
        warp = warp.astype(np.float64)
        if warp.shape[0] == 2:
            warp = np.vstack([warp, [0, 0, 1]])
        matrix = _level(warp, 1 / factor)
    return matrix, float(correlation)


def _resample(capture, matrix, size, interpolation=cv2.INTER_CUBIC):
    """`capture` sampled at `matrix`·u for every lattice pixel u of `size` = (h, w)."""
    return cv2.warpPerspective(capture, matrix, (size[1], size[0]), flags=interpolation | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)


def _valid_box(matrix, capture_shape, size):
    """Largest axis-aligned (top, left, height, width) of lattice pixels whose resampling stays inside the capture."""
    inside = np.zeros(capture_shape[:2], np.uint8)
    inside[_BORDER:-_BORDER, _BORDER:-_BORDER] = 1
    valid = _resample(inside, matrix, size, cv2.INTER_NEAREST).astype(bool)
    top, left, bottom, right = 0, 0, size[0], size[1]
    while bottom > top and right > left:
        box = valid[top:bottom, left:right]
        bad = {"top": (~box[0]).sum(), "bottom": (~box[-1]).sum(), "left": (~box[:, 0]).sum(),
               "right": (~box[:, -1]).sum()}
        side = max(bad, key=bad.get)
        if bad[side] == 0:
            break
        if side == "top":
            top += 1
        elif side == "bottom":
            bottom -= 1
        elif side == "left":
            left += 1
        else:
            right -= 1
    return top, left, bottom - top, right - left


def _measurable(tile):
    """Whether a tile has detail in two directions: a shift along a lone edge cannot be measured (the
    aperture problem), nor one in a flat tile."""
    gy, gx = np.gradient(cv2.GaussianBlur(tile.astype(np.float64), (0, 0), SMOOTHING))
    jxx, jyy, jxy = (gx * gx).mean(), (gy * gy).mean(), (gx * gy).mean()
    root = np.sqrt(((jxx - jyy) / 2) ** 2 + jxy ** 2)
    low, high = (jxx + jyy) / 2 - root, (jxx + jyy) / 2 + root
    return np.sqrt(high + low) >= MIN_DETAIL and low >= MIN_ISOTROPY * high


def tile_shifts(reference, image, tile=TILE):
    """Misalignment of `image` against `reference` (same size, grey), per tile: rows of `(y, x, dy, dx)`.

    `(y, x)` is the tile's centre and `(dy, dx)` the ECC translation that
    aligns `image` to `reference` there (`image(u + d) ≈ reference(u)`), in
    pixels. Tiles without detail in two directions (`MIN_DETAIL`, `MIN_ISOTROPY`),
    where ECC does not converge or correlates below `MIN_TILE_CORRELATION`
    (noise, a moving object) are left out.
    """
    height, width = reference.shape
    tile = max(16, min(tile, height // 4, width // 4))  # at least a 4 × 4 grid where the image allows
    rows, criteria = [], (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 100, 1e-6)
    for top in range(0, height - tile + 1, tile):
        for left in range(0, width - tile + 1, tile):
            t = reference[top:top + tile, left:left + tile]
            if not _measurable(t):
                continue
            try:
                correlation, warp = cv2.findTransformECC(t, image[top:top + tile, left:left + tile],
                                                         np.eye(2, 3, dtype=np.float32), cv2.MOTION_TRANSLATION,
                                                         criteria, None, 3)
            except cv2.error:
                continue
            dx, dy = float(warp[0, 2]), float(warp[1, 2])
            if correlation >= MIN_TILE_CORRELATION and abs(dx) < tile / 4 and abs(dy) < tile / 4:
                rows.append((top + (tile - 1) / 2, left + (tile - 1) / 2, dy, dx))
    return np.array(rows, np.float64).reshape(-1, 4), tile


def _residual_summary(rows, tile, unit=1):
    """Median, 95th percentile and largest tile shift in LR px (`unit` lattice px to the LR px), and every shift."""
    rows = rows / unit
    lengths = np.hypot(rows[:, 2], rows[:, 3]) if len(rows) else np.zeros(0)
    summary = {"tile": int(round(tile / unit)), "tiles": int(len(rows))}
    if len(rows):
        summary.update(median=float(np.median(lengths)), p95=float(np.percentile(lengths, 95)),
                       max=float(lengths.max()), shifts=[[round(v, 3) for v in row] for row in rows.tolist()])
    else:
        summary.update(median=None, p95=None, max=None, shifts=[])
    return summary


def isolated_tiles(rows, tile, limit):
    """Indices of the tiles whose shift is above `limit` while every neighbouring tile is aligned.

    A local warp (a moving object, parallax, lens distortion) is smooth: it disturbs the tiles around it too
    (what the global fit leaves of it is spread over several tiles). A lone tile off by more than `limit` among
    at least two measured neighbours all within `limit / 4` was mis-measured instead: a nearly flat tile with
    one edge, whose ECC slid along it. Such tiles are left out of the residual and named in the report.

    `rows`: `(y, x, dy, dx)` per tile (`tile_shifts`), in the units of `tile` and `limit`.
    """
    lengths = np.hypot(rows[:, 2], rows[:, 3])
    isolated = []
    for index in np.flatnonzero(lengths > limit):
        distance = np.hypot(rows[:, 0] - rows[index, 0], rows[:, 1] - rows[index, 1])
        neighbours = lengths[(distance > 0) & (distance <= 1.5 * tile)]
        if len(neighbours) >= 2 and np.all(neighbours <= limit / 4):
            isolated.append(int(index))
    return np.array(isolated, int)


def _shift_field(rows, tile, size):
    """A smooth (dy, dx) field over the lattice through the tiles' shifts (outliers set to the median)."""
    grid_h, grid_w = size[0] // tile, size[1] // tile
    field = np.zeros((grid_h, grid_w, 2), np.float32)
    median = np.median(rows[:, 2:], axis=0)
    spread = np.median(np.abs(rows[:, 2:] - median), axis=0) * 1.4826 + 0.05
    field[:] = median
    for y, x, dy, dx in rows:
        if abs(dy - median[0]) <= 4 * spread[0] and abs(dx - median[1]) <= 4 * spread[1]:
            field[int(y // tile), int(x // tile)] = (dy, dx)
    full = cv2.resize(field, (grid_w * tile, grid_h * tile), interpolation=cv2.INTER_CUBIC)
    out = np.empty((size[0], size[1], 2), np.float32)
    out[: full.shape[0], : full.shape[1]] = full
    out[full.shape[0]:, : full.shape[1]] = full[-1:]
    out[:, full.shape[1]:] = out[:, full.shape[1] - 1: full.shape[1]]
    return out


def _undistort(image, camera):
    if camera is None:
        return image
    matrix = np.asarray(camera["camera_matrix"], np.float64)
    return cv2.undistort(image, matrix, np.asarray(camera["dist_coeffs"], np.float64))


def _cameras(camera):
    """`(hr, lr)` OpenCV camera parameters from one dict for both captures or a dict with 'hr' and 'lr'."""
    if camera is None:
        return None, None
    if "hr" in camera or "lr" in camera:
        return camera.get("hr"), camera.get("lr")
    return camera, camera


def _check_overlap(height, width, names):
    if height < 16 or width < 16:
        raise DataError(f"'{names[0]}' and '{names[1]}' overlap in only {height}×{width} LR pixels after "
                        "alignment; the captures must frame the same part of the scene.")


def read_camera(path):
    """OpenCV camera parameters from a JSON file, checked: one dict for both captures or `{"hr": ..., "lr": ...}`."""
    try:
        with open(path) as handle:
            camera = json.load(handle)
    except (OSError, ValueError) as error:
        raise DataError(f"Cannot read camera parameters '{path}': {error}. Give a JSON file "
                        '{"camera_matrix": [[fx,0,cx],[0,fy,cy],[0,0,1]], "dist_coeffs": [k1,k2,p1,p2,k3]}.') from None
    for kind, params in zip(("hr", "lr"), _cameras(camera)):
        if params is None:
            continue
        matrix = np.asarray(params.get("camera_matrix", []), np.float64) if isinstance(params, dict) else None
        coeffs = np.asarray(params.get("dist_coeffs", []), np.float64).ravel() if isinstance(params, dict) else None
        if matrix is None or matrix.shape != (3, 3) or coeffs.size not in (4, 5, 8, 12, 14):
            raise DataError(f"Camera parameters '{path}' ({kind}): expected 'camera_matrix' 3x3 and 'dist_coeffs' "
                            "with 4, 5, 8, 12 or 14 numbers (OpenCV's calibrateCamera output).")
    return camera


def _frame_offset(matrix, size):
    """RMS and largest distance, in LR px, between where `matrix` and the identity put the lattice's pixels."""
    ys, xs = np.mgrid[0 : size[0] : max(1, size[0] // 32), 0 : size[1] : max(1, size[1] // 32)]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)]).astype(np.float64)
    mapped = matrix @ points
    distance = np.hypot(mapped[0] / mapped[2] - points[0], mapped[1] / mapped[2] - points[1])
    return float(np.sqrt(np.mean(distance ** 2))), float(distance.max())


def transform_rms(estimated, true, size):
    """RMS distance in LR px between two lattice→capture transforms over a frame of `size` = (h, w)."""
    ys, xs = np.mgrid[0 : size[0] : max(1, size[0] // 32), 0 : size[1] : max(1, size[1] // 32)]
    points = np.stack([xs.ravel(), ys.ravel(), np.ones(xs.size)]).astype(np.float64)
    a, b = np.asarray(estimated) @ points, np.asarray(true) @ points
    return float(np.sqrt(np.mean((a[0] / a[2] - b[0] / b[2]) ** 2 + (a[1] / a[2] - b[1] / b[2]) ** 2)))


def align_pair(hr, lr, scale, refine=False, motion=None, local=False, match_exposure=False, lr_size=None,
               camera=None, max_residual=MAX_RESIDUAL, tile=TILE, resample="lr", names=None):
    """Register an LR capture to an HR capture and cut the aligned pair.

    Args:
        hr, lr: file paths or float RGB arrays in [0, 1]. The HR capture
            samples the scene about `scale` times finer (longer focal length,
            or a closer shot); with `refine=True`, an existing pair, LR 1/`scale`
            of HR or the same size.
        scale: the SR factor of the pair to make.
        refine: the pair is already aligned: skip feature matching and only
            re-estimate a sub-pixel transform.
        motion: 'translation', 'euclidean', 'affine' or 'homography' (default:
            homography for captures, affine for `refine`).
        local: also correct what the tiles still measure with a smooth shift
            field (after the global transform).
        match_exposure: apply the fitted global gain/offset to the LR (it is
            always measured and reported).
        lr_size: 'native' (LR 1/`scale` of HR) or 'same' (LR enlarged to HR
            size by MATLAB bicubic, undone exactly by `shrink_enlarged`).
            Default: native for captures; with `refine`, the input's layout.
        camera: OpenCV camera parameters to undistort with first:
            `{"camera_matrix": 3×3, "dist_coeffs": [...]}` for both captures,
            or `{"hr": {...}, "lr": {...}}`.
        max_residual: a pair whose tiles' 95th-percentile misalignment (LR
            px) is above this is marked not accepted.
        tile: tile side in LR px for the residual measurement.
        resample: 'lr': the LR capture is resampled onto the HR's 1/`scale`
            grid (HR pixels kept); 'hr': the HR is resampled onto the LR
            capture's grid, finer by `scale`, and the LR pixels are kept as
            the camera wrote them (noise and JPEG blocks not interpolated).
        names: how to call the two inputs in messages (default their paths).

    Returns:
        `AlignedPair(hr, lr, report)`.

    Raises:
        DataError: the photos do not show the same scene, or are not `scale`
            apart.
    """
    if lr_size not in (None, "native", "same"):
        raise ValueError(f"lr_size must be 'native' or 'same'. Received: lr_size={lr_size!r}")
    motion = motion or ("affine" if refine else "homography")
    if resample not in ("lr", "hr"):
        raise ValueError(f"resample must be 'lr' or 'hr'. Received: resample={resample!r}")
    if resample == "hr" and local:
        raise DataError("--local corrects the LR with a shift field; it needs --resample lr.")
    if motion not in MOTIONS:
        raise ValueError(f"motion must be one of {tuple(MOTIONS)}. Received: motion={motion!r}")
    paths = [x if isinstance(x, (str, os.PathLike)) else None for x in (hr, lr)]
    names = names or [str(p) if p is not None else kind for p, kind in zip(paths, ("hr", "lr"))]
    hr_image = read_image(hr) if paths[0] is not None else np.asarray(hr, np.float32)
    lr_image = read_image(lr) if paths[1] is not None else np.asarray(lr, np.float32)
    hr_camera, lr_camera = _cameras(camera)
    hr_image, lr_image = _undistort(hr_image, hr_camera), _undistort(lr_image, lr_camera)
    report = {"hr": names[0], "lr": names[1], "scale": scale, "mode": "refine" if refine else "captures",
              "motion": motion, "undistorted": camera is not None, "warnings": []}

    same_size = refine and hr_image.shape[:2] == lr_image.shape[:2]
    factor = 1 if same_size else scale  # lattice step in HR px
    hr_image = hr_image[: hr_image.shape[0] // scale * scale, : hr_image.shape[1] // scale * scale]
    size = (hr_image.shape[0] // factor, hr_image.shape[1] // factor)
    hr_grey, capture = _grey(hr_image), _grey(lr_image)
    template = hr_grey if factor == 1 else imresize(hr_grey, output_size=size).astype(np.float32)

    if refine:
        expected = (hr_image.shape[0] // factor, hr_image.shape[1] // factor)
        if abs(lr_image.shape[0] - expected[0]) > 1 or abs(lr_image.shape[1] - expected[1]) > 1:
            raise DataError(f"'{names[1]}' is {lr_image.shape[0]}×{lr_image.shape[1]} but '{names[0]}' is "
                            f"{hr_image.shape[0]}×{hr_image.shape[1]}: --refine takes pairs already aligned, LR the "
                            f"same size or 1/{scale}. Leave out --refine to align two captures.")
        matrix, report["coarse"] = np.eye(3), {"method": "identity (already aligned)"}
    else:
        exif = focal_ratio(*paths) if None not in paths else None
        if exif is not None and not 1 / SCALE_TOLERANCE <= exif / scale <= SCALE_TOLERANCE:
            raise DataError(f"EXIF focal lengths of '{names[0]}' and '{names[1]}' put them {exif:.2f}x apart, "
                            f"not --scale {scale}: shoot at focal lengths {scale}x apart, or pass --scale "
                            f"{max(1, round(exif))}.")
        matrix, report["coarse"] = _features(template, capture, motion, names)
        measured = scale / np.sqrt(abs(np.linalg.det(matrix[:2, :2] / matrix[2, 2])))
        report["coarse"].update(measured_ratio=float(measured), exif_ratio=exif)
        if exif is not None and abs(measured / exif - 1) > 0.1:
            report["warnings"].append(f"EXIF says {exif:.2f}x, the features {measured:.2f}x (focus breathing, "
                                      "digital zoom or a resized file?)")
        if not 1 / SCALE_TOLERANCE <= measured / scale <= SCALE_TOLERANCE:
            raise DataError(f"'{names[0]}' samples the scene {measured:.2f}x finer than '{names[1]}', not "
                            f"--scale {scale}: pass --scale {max(1, round(measured))} or shoot at focal lengths "
                            f"{scale}x apart.")
    levels = max(1, min(4, int(np.log2(max(1, min(size) / 48))) + 1))
    matrix, correlation = _ecc(template, capture, matrix, motion, levels)
    report["transform"] = (matrix / matrix[2, 2]).round(8).tolist()
    report["ecc_correlation"] = correlation

    unit = scale // factor  # lattice px per LR px: 1, or `scale` for same-size pairs registered at HR size
    if resample == "lr":
        top, left, height, width = _valid_box(matrix, lr_image.shape, size)
        _check_overlap(height, width, names)
        box = (slice(top, top + height), slice(left, left + width))
        lr_out = np.clip(_resample(lr_image, matrix, size), 0, 1)
        hr_out = hr_image[top * factor:(top + height) * factor, left * factor:(left + width) * factor]
        reference, aligned = template[box], _grey(lr_out)[box]
    else:  # the LR stays as captured; the HR is resampled onto the LR's grid (finer by `factor`)
        inverse = np.linalg.inv(matrix)
        top, left, height, width = _valid_box(inverse, size + (1,), lr_image.shape[:2])
        _check_overlap(height, width, names)
        box = (slice(top, top + height), slice(left, left + width))
        lattice_to_hr = np.array([[factor, 0, (factor - 1) / 2], [0, factor, (factor - 1) / 2], [0, 0, 1]])
        corner = np.array([[1, 0, left * factor], [0, 1, top * factor], [0, 0, 1]])
        hr_map = lattice_to_hr @ inverse @ np.linalg.inv(lattice_to_hr) @ corner
        hr_out = np.clip(_resample(hr_image, hr_map, (height * factor, width * factor)), 0, 1)
        lr_out = np.zeros(size + (3,), np.float32)  # only `box` is used
        lr_out[:height, :width] = lr_image[box]
        box = (slice(0, height), slice(0, width))
        hr_grey = _grey(hr_out)
        reference = hr_grey if factor == 1 else imresize(hr_grey, output_size=(height, width)).astype(np.float32)
        aligned = capture[top:top + height, left:left + width]
    rows, used_tile = tile_shifts(reference, aligned, tile * unit)
    if local and len(rows) >= 4:
        report["residual_before_local"] = _residual_summary(rows, used_tile, unit)
        field = np.zeros(size + (2,), np.float32)
        field[box] = _shift_field(rows, used_tile, (height, width))
        ys, xs = np.mgrid[0 : size[0], 0 : size[1]].astype(np.float32)
        points = np.stack([xs + field[..., 1], ys + field[..., 0], np.ones_like(xs)], axis=-1) @ matrix.T
        map_x, map_y = points[..., 0] / points[..., 2], points[..., 1] / points[..., 2]
        lr_out = np.clip(cv2.remap(lr_image, map_x.astype(np.float32), map_y.astype(np.float32), cv2.INTER_CUBIC,
                                   borderMode=cv2.BORDER_REPLICATE), 0, 1)
        aligned = _grey(lr_out)[box]
        rows, used_tile = tile_shifts(reference, aligned, tile * unit)
        report["local_field_max"] = float(np.hypot(field[box][..., 0], field[box][..., 1]).max()) / unit
    ignored = isolated_tiles(rows / unit, used_tile / unit, max_residual)
    report["residual"] = _residual_summary(np.delete(rows, ignored, axis=0), used_tile, unit)
    report["residual"]["ignored"] = [[round(v, 3) for v in row] for row in (rows[ignored] / unit).tolist()]

    gain, offset = np.polyfit(reference.ravel(), aligned.ravel(), 1)
    report["luminance"] = {"gain": float(gain), "offset": float(offset * 255), "applied": bool(match_exposure),
                           "note": "LR luminance ≈ gain · HR luminance + offset (offset in 8-bit levels)"}
    if match_exposure:
        lr_out = np.clip((lr_out - offset) / gain, 0, 1)
    report["frame_offset_rms"], report["frame_offset_max"] = (
        [value / unit for value in _frame_offset(matrix, size)] if refine else (None, None))
    lr_out = lr_out[box]
    lr_size = lr_size or ("same" if factor == 1 else "native")
    if lr_size == "same" and factor != 1:
        lr_out = np.clip(imresize(lr_out, output_size=hr_out.shape[:2]), 0, 1).astype(np.float32)
    elif lr_size == "native" and factor == 1:
        rows, cols = hr_out.shape[0] // scale * scale, hr_out.shape[1] // scale * scale
        hr_out = hr_out[:rows, :cols]
        lr_out = np.clip(shrink_enlarged(lr_out[:rows, :cols], scale), 0, 1)
    report["lr_size"] = lr_size
    report["resample"] = resample
    if resample == "lr":
        report["valid"] = {"hr_box": [top * factor, left * factor, height * factor, width * factor],
                           "fraction": float(height * width / (size[0] * size[1]))}
    else:
        report["valid"] = {"lr_box": [top, left, height, width],
                           "fraction": float(height * width / (lr_image.shape[0] * lr_image.shape[1]))}
    p95 = report["residual"]["p95"]
    if p95 is None:
        report["accepted"], report["reason"] = False, "no tile with enough texture to measure the alignment"
    elif p95 > max_residual:
        report["accepted"] = False
        report["reason"] = (f"95% of tiles within {p95:.2f} LR px, above --max-residual {max_residual} "
                            "(a local warp: moving scene, lens distortion or parallax)")
    else:
        report["accepted"], report["reason"] = True, None
    return AlignedPair(np.ascontiguousarray(hr_out, np.float32), np.ascontiguousarray(lr_out, np.float32), report)


def align_folder(captures, out, scale, refine=False, progress=True, figures=True, **options):
    """`align_pair` on every pair of `captures`; writes `out/hr`, `out/lr`, `out/reports`, `out/figures` and
    `out/alignment.json`.

    `captures` is anything `discover_pairs` reads (a folder with `hr/` and
    `lr/` of matching names, a CSV with columns hr,lr, RealSR or City100).
    Pairs that are refused or not accepted are listed in `alignment.json`
    under "left_out" with the reason and get no files in `hr/`/`lr/`. A rerun
    skips pairs whose report exists, so a killed run redoes only the pair it
    was on. Returns the summary dict written to `alignment.json`.
    """
    from tqdm.auto import tqdm

    from dml_keras.data.pairs import discover_pairs
    from dml_keras.visualization import alignment_figure

    pairs = discover_pairs(captures, scale=scale)
    out = Path(out)
    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    settings = {"scale": scale, "refine": refine, **{k: v for k, v in options.items() if k != "camera"},
                "undistorted": options.get("camera") is not None}
    for pair in tqdm(pairs, desc="align", unit="pair", disable=not progress):
        report_path = reports / f"{pair.name}.json"
        if report_path.exists():
            continue
        try:
            aligned = align_pair(pair.hr, pair.lr, scale, refine=refine, **options)
        except DataError as error:
            write_json(report_path, {"hr": pair.hr, "lr": pair.lr, "accepted": False, "reason": str(error)})
            continue
        if aligned.accepted:
            write_image(out / "hr" / f"{pair.name}.png", aligned.hr)
            write_image(out / "lr" / f"{pair.name}.png", aligned.lr)
        if figures:
            write_image(out / "figures" / f"{pair.name}.png", alignment_figure(aligned.hr, aligned.lr, aligned.report))
        write_json(report_path, aligned.report)
    summary = {"settings": settings, "pairs": {}, "left_out": {}}
    for pair in pairs:
        with open(reports / f"{pair.name}.json") as handle:
            report = json.load(handle)
        if report["accepted"]:
            summary["pairs"][pair.name] = report
        else:
            summary["left_out"][pair.name] = report
    write_json(out / "alignment.json", summary)
    return summary
