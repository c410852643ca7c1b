"""The closed-form global kernel: the least-squares solution, in the orientation the model applies."""

import numpy as np
import pytest
from scipy.ndimage import correlate

from dml_keras.models import GlobalKernel
from dml_keras.models.global_kernel import least_squares_kernel
from dml_keras.ops import rgb_to_y


def _known_kernel(size=7):
    """An asymmetric kernel (a diagonal streak plus an offset bump): a flip or transpose would not recover it."""
    r = size // 2
    yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
    kernel = np.exp(-((xx - yy) ** 2) / 1.5 - (xx + yy) ** 2 / 12.0) + 0.6 * np.exp(-((xx - 2) ** 2 + (yy + 1) ** 2))
    return kernel / kernel.sum()


@pytest.mark.parametrize("stride", [1, 2])
def test_recovers_a_known_kernel_from_noisy_pairs(stride):
    kernel = _known_kernel()
    rng = np.random.default_rng(0)
    images, targets = [], []
    for _ in range(3):
        hr = rng.random((160, 200))  # texture at every frequency, so every kernel entry is observed
        lr = correlate(hr, kernel, mode="mirror")[::stride, ::stride]
        images.append(hr)
        targets.append(lr + rng.normal(0, 0.01, lr.shape))  # the camera's noise: LS, not interpolation
    found = least_squares_kernel(images, targets, kernel_size=7, stride=stride)
    np.testing.assert_allclose(found, kernel, atol=1e-3)
    # and it is the least-squares optimum: the normal equations' residual is orthogonal to every window
    hr, lr = images[0], targets[0]
    for delta in (1e-3, -1e-3):
        worse = found.copy()
        worse[3, 4] += delta
        err = [np.mean((correlate(hr, k, mode="mirror")[::stride, ::stride] - lr)[4:-4, 4:-4] ** 2) for k in (found, worse)]
        assert err[0] < err[1]


@pytest.mark.parametrize("lr_size", ["same", "native"])
def test_the_model_applies_the_fitted_kernel_as_fitted(photos, lr_size):
    # a kernel fitted to scipy's correlation, loaded into GlobalKernel, gives scipy's output back
    kernel = _known_kernel()
    hr = rgb_to_y(photos["astronaut"][:96, :120])[..., 0]
    stride = 2 if lr_size == "native" else 1
    model = GlobalKernel(scale=2, kernel_size=7, lr_size=lr_size)
    model.set_kernel(least_squares_kernel([hr], [correlate(hr.astype(np.float64), kernel, mode="mirror")[::stride, ::stride]],
                                          kernel_size=7, stride=stride))
    out = np.asarray(model(hr[None, ..., None]))[0, ..., 0]
    expected = correlate(hr.astype(np.float64), kernel, mode="mirror")[::stride, ::stride]
    np.testing.assert_allclose(out, expected, atol=1e-5)  # the whole image: reflect padding is scipy's "mirror"


def test_wrong_kernel_shape_is_refused():
    with pytest.raises(ValueError, match="7×7"):
        GlobalKernel(kernel_size=7).set_kernel(np.ones((5, 5)))
