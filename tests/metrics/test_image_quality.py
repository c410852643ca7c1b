import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from dml_keras.metrics import PSNR, SSIM, psnr, ssim
from dml_keras.ops import imresize, rgb_to_y


def _degraded(photo, seed, sigma=0.02):
    """A realistic degradation: MATLAB bicubic x4 down/up plus Gaussian noise."""
    small = imresize(photo, scale=0.25)
    blurry = imresize(small, output_size=photo.shape[:2])
    noise = np.random.default_rng(seed).normal(0, sigma, photo.shape)
    return np.clip(blurry + noise, 0, 1).astype(np.float32)


def _reference(a, b, crop):
    ya = rgb_to_y(a.astype(np.float64))[crop:-crop, crop:-crop, 0] * 255
    yb = rgb_to_y(b.astype(np.float64))[crop:-crop, crop:-crop, 0] * 255
    return (
        peak_signal_noise_ratio(ya, yb, data_range=255),
        structural_similarity(ya, yb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255),
    )


@pytest.mark.parametrize("name", ["astronaut", "chelsea", "coffee", "rocket"])
def test_match_scikit_image_on_real_photos(photos, name):
    hr = photos[name][:200, :248]
    lr = _degraded(hr, seed=len(name))
    ref_psnr, ref_ssim = _reference(hr, lr, crop=4)
    assert abs(psnr(hr, lr, crop_border=4) - ref_psnr) < 1e-4
    assert abs(ssim(hr, lr, crop_border=4) - ref_ssim) < 1e-4


def test_uint8_inputs_equal_float_inputs(photos):
    hr = np.round(photos["coffee"][:96, :96] * 255).astype(np.uint8)
    lr = np.round(_degraded(photos["coffee"][:96, :96], 1) * 255).astype(np.uint8)
    assert psnr(hr, lr, 4) == pytest.approx(psnr(hr / 255.0, lr / 255.0, 4), abs=1e-9)
    assert ssim(hr, lr, 4) == pytest.approx(ssim(hr / 255.0, lr / 255.0, 4), abs=1e-9)


def test_batches_give_per_image_values(photos):
    a = np.stack([photos["astronaut"][:64, :64], photos["coffee"][:64, :64]])
    b = np.stack([_degraded(a[0], 0), _degraded(a[1], 1)])
    values = psnr(a, b, crop_border=2)
    assert values.shape == (2,)
    assert values[1] == pytest.approx(psnr(a[1], b[1], crop_border=2), abs=1e-9)
    np.testing.assert_allclose(ssim(a, b), [ssim(a[0], b[0]), ssim(a[1], b[1])], atol=1e-9)


def test_crop_border_changes_result_and_rgb_mode_differs_from_y(photos):
    hr = photos["rocket"][:80, :80]
    lr = _degraded(hr, 2)
    assert psnr(hr, lr, 0) != pytest.approx(psnr(hr, lr, 8), abs=1e-3)
    assert psnr(hr, lr, 4, y_channel=False) != pytest.approx(psnr(hr, lr, 4), abs=1e-3)


def test_keras_metrics_equal_functions_and_work_in_compile(photos):
    import keras

    hr = np.stack([photos["astronaut"][:48, :48], photos["chelsea"][:48, :48]])
    lr = np.stack([_degraded(x, i) for i, x in enumerate(hr)])
    metric = PSNR(crop_border=4)
    metric.update_state(hr, lr)
    assert float(metric.result()) == pytest.approx(np.mean(psnr(hr, lr, 4)), abs=1e-3)
    metric = SSIM(crop_border=4)
    metric.update_state(hr, lr)
    assert float(metric.result()) == pytest.approx(np.mean(ssim(hr, lr, 4)), abs=1e-4)

    model = keras.Sequential([keras.Input((48, 48, 3)), keras.layers.Identity()])
    model.compile(loss="mse", metrics=[PSNR(crop_border=4), SSIM(crop_border=4)])
    scores = model.evaluate(lr, hr, verbose=0, return_dict=True)
    assert scores["psnr"] == pytest.approx(np.mean(psnr(hr, lr, 4)), abs=1e-3)
    restored = PSNR.from_config(PSNR(crop_border=3, y_channel=False).get_config())
    assert (restored.crop_border, restored.y_channel) == (3, False)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="same shape"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 9, 3)))
    with pytest.raises(ValueError, match="crop_border"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 8, 3)), crop_border=4)
