"""Pictures of what a degradation model learned (the paper's Figs. 2–4)."""

import math

import numpy as np


def kernel_grid(kernels, columns=None, gap=1, upscale=8):
    """Tile `(K, K, M)` kernels into one grey image in `[0, 1]`, each kernel min-max scaled.

    Example:
    >>> kernel_grid(np.random.default_rng(0).random((15, 15, 8))).shape
    (241, 483)
    """
    kernels = np.asarray(kernels, np.float64)
    size, count = kernels.shape[0], kernels.shape[-1]
    columns = columns or min(count, math.ceil(math.sqrt(count * 2)))
    rows = math.ceil(count / columns)
    cell = size * upscale
    grid = np.ones((rows * (cell + gap) - gap, columns * (cell + gap) - gap))
    for index in range(count):
        kernel = kernels[..., index]
        span = kernel.max() - kernel.min()
        kernel = (kernel - kernel.min()) / span if span > 0 else np.zeros_like(kernel)
        kernel = np.kron(kernel, np.ones((upscale, upscale)))
        r, c = divmod(index, columns)
        grid[r * (cell + gap) : r * (cell + gap) + cell, c * (cell + gap) : c * (cell + gap) + cell] = kernel
    return grid.astype(np.float32)


def map_grid(maps, columns=4, gap=4):
    """Tile `(H, W, M)` non-negative maps into one image, all divided by their common maximum
    (so maps stay comparable with each other and zero stays black)."""
    maps = np.clip(np.asarray(maps, np.float32), 0.0, None)
    maps = maps / max(float(maps.max()), 1e-8)
    height, width, count = maps.shape
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    grid = np.ones((rows * (height + gap) - gap, columns * (width + gap) - gap), np.float32)
    for index in range(count):
        r, c = divmod(index, columns)
        grid[r * (height + gap) : r * (height + gap) + height, c * (width + gap) : c * (width + gap) + width] = maps[..., index]
    return grid


def pixel_kernel_grid(kernels, positions=6):
    """Kernels sampled on a `positions × positions` grid across the image: `(H, W, K, K)` → grey image."""
    kernels = np.asarray(kernels)
    height, width = kernels.shape[:2]
    rows = np.linspace(0, height - 1, positions + 2)[1:-1].round().astype(int)
    cols = np.linspace(0, width - 1, positions + 2)[1:-1].round().astype(int)
    picked = np.stack([kernels[r, c] for r in rows for c in cols], axis=-1)
    return kernel_grid(picked, columns=positions)


def visualize(model, image, out_dir):
    """Write the figures a degradation model supports and return their paths.

    - `basis_kernels.png`: the basis (DML) or the single kernel (GlobalKernel) — the paper's Fig. 2;
    - `weight_maps.png`: each basis kernel's per-pixel weight over `image` (DML) — Fig. 3;
    - `pixel_kernels.png`: per-pixel kernels on a 6×6 grid across `image` (DML, DirectKPN) — Fig. 4;
    - `input.png` and `degraded.png`: the image and the model's LR.

    Args:
        model: a learned degradation model (`DegradationBase`).
        image: RGB photo `(H, W, 3)` in `[0, 1]`; `None` for scikit-image's astronaut.

    Raises:
        DataError: `model` is a built-in or exported degradation (nothing learned to show).

    Example:
    >>> from dml_keras.models import DegradationModel
    >>> paths = visualize(DegradationModel(num_basis=4, kernel_size=7), np.full((32, 32, 3), 0.5), "/tmp/vis")  # doctest: +SKIP
    """
    import os

    from keras import ops

    from dml_keras.data.io import write_image
    from dml_keras.errors import DataError
    from dml_keras.models import DegradationBase, DegradationModel, DirectKPN, GlobalKernel
    from dml_keras.ops.color import rgb_to_y

    if not isinstance(model, DegradationBase):
        raise DataError(f"visualize needs a learned degradation model (.keras); got a {type(model).__name__}, "
                        "which has no kernels to show.")
    if image is None:
        import skimage.data

        image = skimage.data.astronaut() / 255.0
    image = np.asarray(image, np.float32)
    paths = {}

    def save(name, array):
        paths[name] = os.path.join(out_dir, f"{name}.png")
        write_image(paths[name], array)

    save("input", image)
    save("degraded", np.clip(model.degrade(image), 0, 1))
    guide = rgb_to_y(image[None])
    if isinstance(model, DegradationModel):
        save("basis_kernels", kernel_grid(ops.convert_to_numpy(model.basis_kernels)))
        weights = ops.convert_to_numpy(model.predict_weights(guide))[0]
        save("weight_maps", map_grid(weights))
        save("pixel_kernels", pixel_kernel_grid(ops.convert_to_numpy(model.filter.pixel_kernels(weights[None]))[0]))
    elif isinstance(model, GlobalKernel):
        save("basis_kernels", kernel_grid(ops.convert_to_numpy(model.kernel.kernels)))
    elif isinstance(model, DirectKPN):
        kernels = ops.convert_to_numpy(model.network(guide))[0]
        kernels = kernels.reshape(kernels.shape[:2] + (model.kernel_size, model.kernel_size))
        save("pixel_kernels", pixel_kernel_grid(kernels))
    return paths


def _label(panel, text):
    """`panel` (RGB in [0, 1]) with `text` written on a dark band across its top."""
    import cv2

    out = np.ascontiguousarray(np.round(np.clip(panel, 0, 1) * 255), np.uint8)  # OpenCV draws on 8-bit C-order
    scale = max(0.35, panel.shape[1] / 400)
    (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    band = height + 8
    out[:band, : min(panel.shape[1], width + 8)] //= 3
    cv2.putText(out, text, (4, band - 5), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out.astype(np.float32) / 255.0


def detailed_window(image, size):
    """`(top, left)` of the `size`² window of `image` with the most detail (mean gradient magnitude),
    on a grid of half-window steps: where SR outputs differ most."""
    grey = image.mean(axis=-1)
    detail = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1]
    best, where = -1.0, (0, 0)
    step = max(1, size // 2)
    for top in range(0, max(1, detail.shape[0] - size + 1), step):
        for left in range(0, max(1, detail.shape[1] - size + 1), step):
            score = float(detail[top : top + size, left : left + size].mean())
            if score > best:
                best, where = score, (top, left)
    return where


def compare_crops(lr, outputs, hr=None, crop=192, at=None, labels=None, gap=4):
    """One side-by-side figure: LR (pixels repeated) | each output | HR, the same crop of each, labelled.

    Args:
        lr: the low-resolution input `(h, w, 3)`.
        outputs: SR outputs `(h·s, w·s, 3)`, one per model.
        hr: the ground truth, or `None` for photos without one.
        crop: side of the crop in output pixels (clipped to the image).
        at: `(top, left)` of the crop in output pixels; default the most detailed window of HR
            (or of the first output).
        labels: one name per panel (LR, outputs..., HR).
    """
    reference = hr if hr is not None else outputs[0]
    factor = reference.shape[0] // lr.shape[0]
    crop = min(crop, reference.shape[0], reference.shape[1]) // factor * factor
    top, left = detailed_window(reference, crop) if at is None else at
    top, left = top // factor * factor, left // factor * factor
    top, left = min(top, reference.shape[0] - crop), min(left, reference.shape[1] - crop)
    small = lr[top // factor : (top + crop) // factor, left // factor : (left + crop) // factor]
    panels = [np.repeat(np.repeat(small, factor, 0), factor, 1)]
    panels += [image[top : top + crop, left : left + crop] for image in outputs]
    if hr is not None:
        panels.append(hr[top : top + crop, left : left + crop])
    labels = labels or [""] * len(panels)
    panels = [_label(np.clip(p, 0, 1).astype(np.float32), text) if text else p for p, text in zip(panels, labels)]
    figure = np.ones((crop, len(panels) * (crop + gap) - gap, 3), np.float32)
    for index, panel in enumerate(panels):
        figure[:, index * (crop + gap) : index * (crop + gap) + crop] = panel
    return figure


def alignment_figure(hr, lr, report):
    """One figure to judge an aligned pair (`dml align`) by eye: HR on the LR grid | aligned LR | 4× their
    difference with the tiles' residual shifts (`report["residual"]`) drawn ×20 | a checkerboard of the two."""
    import cv2

    from dml_keras.ops.resize import imresize

    at = lr.shape[0] / (hr.shape[0] / report["scale"])  # figure px per LR px
    reference = hr if lr.shape == hr.shape else imresize(hr, output_size=lr.shape[:2])
    reference = np.clip(reference, 0, 1).astype(np.float32)
    difference = np.clip(0.5 + 4 * (lr - reference), 0, 1)
    checker = reference.copy()
    step = max(8, min(lr.shape[:2]) // 8)
    ys, xs = np.mgrid[0 : lr.shape[0], 0 : lr.shape[1]]
    squares = ((ys // step + xs // step) % 2).astype(bool)
    checker[squares] = lr[squares]
    arrows = np.ascontiguousarray(difference * 255, np.uint8)
    thickness = max(1, round(lr.shape[1] / 300))
    for y, x, dy, dx in report["residual"]["shifts"]:
        start = (int(round(x * at)), int(round(y * at)))
        end = (int(round((x + 20 * dx) * at)), int(round((y + 20 * dy) * at)))
        cv2.arrowedLine(arrows, start, end, (255, 0, 0), thickness, cv2.LINE_AA, tipLength=0.3)
    panels = [_label(reference, "HR on the LR grid"), _label(lr, "aligned LR"),
              _label(arrows.astype(np.float32) / 255, "4x difference, shifts x20"), _label(checker, "checkerboard")]
    gap = 4
    figure = np.ones((lr.shape[0], 4 * (lr.shape[1] + gap) - gap, 3), np.float32)
    for index, panel in enumerate(panels):
        figure[:, index * (lr.shape[1] + gap): index * (lr.shape[1] + gap) + lr.shape[1]] = panel
    if figure.shape[1] > 2560:  # a photo-sized pair: a figure that still opens at once
        figure = cv2.resize(figure, (2560, round(figure.shape[0] * 2560 / figure.shape[1])), interpolation=cv2.INTER_AREA)
    return figure
