"""DML recovers a known spatially variant blur that no single kernel can express."""

import keras
import numpy as np
import pytest

from dml_keras.metrics import psnr
from dml_keras.models import DegradationModel
from dml_keras.ops import imresize, rgb_to_y
from dml_keras.ops.filtering import per_pixel_filter

KERNEL_SIZE = 11


def _varying_gaussian_blur(image):
    """Gaussian blur whose width follows the local brightness: ~0.3 px in bright regions,
    ~3.5 px in dark ones (a content-dependent blur that a CNN can read off the image)."""
    from scipy.ndimage import gaussian_filter

    r = KERNEL_SIZE // 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    brightness = gaussian_filter(image[..., 0].astype(np.float64), 3.0, mode="reflect")
    brightness = (brightness - 16 / 255) / (219 / 255)
    sigma = 0.3 + 3.2 / (1.0 + np.exp(-(0.5 - brightness) * 10.0))
    g = np.exp(-(xx**2 + yy**2)[None, None] / (2 * sigma[..., None, None] ** 2))
    kernels = (g / g.sum(axis=(2, 3), keepdims=True)).reshape(1, *image.shape[:2], -1).astype(np.float32)
    return np.asarray(per_pixel_filter(image[None], kernels, KERNEL_SIZE))[0]


def _best_global_kernel_psnr(train_hr, train_lr, test_hr, test_lr, border):
    """Least-squares optimum of one K×K kernel: the best any global kernel can do."""
    r = KERNEL_SIZE // 2
    rows, targets = [], []
    rng = np.random.default_rng(0)
    for hr, lr in zip(train_hr, train_lr):
        padded = np.pad(hr[..., 0], r, mode="reflect")
        ys, xs = rng.integers(border, hr.shape[0] - border, 3000), rng.integers(border, hr.shape[1] - border, 3000)
        rows += [padded[y : y + KERNEL_SIZE, x : x + KERNEL_SIZE].ravel() for y, x in zip(ys, xs)]
        targets += list(lr[ys, xs, 0])
    kernel = np.linalg.lstsq(np.asarray(rows), np.asarray(targets), rcond=None)[0]
    padded = np.pad(test_hr[..., 0], r, mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, (KERNEL_SIZE, KERNEL_SIZE))
    generated = np.einsum("hwuv,uv->hw", windows, kernel.reshape(KERNEL_SIZE, KERNEL_SIZE))[..., None]
    return psnr(generated, test_lr, crop_border=border)


@pytest.mark.slow
def test_dml_beats_the_best_global_kernel_on_varying_blur(photos):
    # Photos shrunk by 2 (denser texture), Y; train on three, test on the astronaut.
    names = ("coffee", "chelsea", "rocket", "astronaut")
    images = [rgb_to_y(np.clip(imresize(photos[n], scale=1 / 2), 0, 1)[:140, :140]) for n in names]
    blurred = [_varying_gaussian_blur(image) for image in images]
    train_hr, train_lr, test_hr, test_lr = images[:3], blurred[:3], images[3], blurred[3]

    keras.utils.set_random_seed(0)
    model = DegradationModel(num_basis=4, kernel_size=KERNEL_SIZE, basis_initializer="gaussian", seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    # 400 batches of 8 random 48² crops, drawn up front (a Python generator feeding `fit` made each step slower)
    rng = np.random.default_rng(0)
    hr_crops, lr_crops = [], []
    for _ in range(400):
        index = rng.integers(0, 3, 8)
        top, left = rng.integers(0, 140 - 48, (2, 8))
        hr_crops += [train_hr[i][t : t + 48, l : l + 48] for i, t, l in zip(index, top, left)]
        lr_crops += [train_lr[i][t : t + 48, l : l + 48] for i, t, l in zip(index, top, left)]
    model.fit(np.stack(hr_crops), np.stack(lr_crops), batch_size=8, shuffle=False, epochs=1, verbose=0)
    border = KERNEL_SIZE // 2
    dml_psnr = psnr(model.degrade(test_hr), test_lr, crop_border=border)
    global_psnr = _best_global_kernel_psnr(train_hr, train_lr, test_hr, test_lr, border)
    print(f"DML {dml_psnr:.2f} dB, best global kernel {global_psnr:.2f} dB")
    # measured on these crops and steps (fed 50 batches per fit call, one thread): DML 38.19 dB against 33.47;
    # seeds 1 and 2 of model and crops: 36.93, 38.40. At
    # Adam 2e-3 the first few hundred steps swung by 2 dB and four runs of 300 steps ended at 32.6 to 34.9 dB
    assert dml_psnr > global_psnr + 2.0, (dml_psnr, global_psnr)
