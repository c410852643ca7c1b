"""The hand-crafted (Real-ESRGAN second-order) degradation: kernels, stages, seeding, and its JPEG codec."""

from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, special

from dml_keras.models import AtNativeSize, BicubicDegradation, HandcraftedDegradation, LearnedBlurWithNoise
from dml_keras.ops import handcrafted as hc
from dml_keras.ops.resize import imresize, shrink_enlarged
from tests.conftest import needs_tensorflow


@pytest.mark.parametrize("stage", [hc.FIRST_STAGE, hc.SECOND_STAGE], ids=["first", "second"])
def test_every_random_kernel_sums_to_one_and_has_the_published_size(stage):
    rng = np.random.default_rng(0)
    sinc_like = 0
    for _ in range(300):
        kernel = hc.random_blur_kernel(rng, stage)
        assert kernel.shape == (21, 21)
        assert kernel.sum() == pytest.approx(1.0, abs=1e-9)
        sinc_like += kernel.min() < -1e-4  # only the sinc kernel has negative lobes
    assert 10 <= sinc_like <= 55  # sinc drawn with probability 0.1 (30 expected of 300)


def test_isotropic_kernel_equals_the_analytic_gaussian():
    sigma = 1.7
    y, x = np.mgrid[-7:8, -7:8]
    expected = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    np.testing.assert_allclose(hc.shaped_kernel(15, sigma), expected / expected.sum(), atol=1e-12)


def test_anisotropic_kernel_rotates_with_theta():
    # a quarter turn swaps the two axes: the same kernel transposed
    wide = hc.shaped_kernel(15, 3.0, 0.8, theta=0.0)
    turned = hc.shaped_kernel(15, 3.0, 0.8, theta=np.pi / 2)
    np.testing.assert_allclose(turned, wide.T, atol=1e-12)
    assert wide[7, 7 + 4] > 20 * wide[7 + 4, 7]  # wide along x


def test_generalized_and_plateau_kernels_reduce_to_their_formulas():
    y, x = np.mgrid[-5:6, -5:6]
    q = (x**2 + y**2) / 2.0**2
    generalized = np.exp(-0.5 * q**1.5)
    plateau = 1 / (1 + q**2)
    np.testing.assert_allclose(hc.shaped_kernel(11, 2.0, shape="generalized", beta=1.5), generalized / generalized.sum(), atol=1e-12)
    np.testing.assert_allclose(hc.shaped_kernel(11, 2.0, shape="plateau", beta=2.0), plateau / plateau.sum(), atol=1e-12)
    # β = 1 is the plain Gaussian
    np.testing.assert_allclose(hc.shaped_kernel(11, 2.0, shape="generalized", beta=1.0), hc.shaped_kernel(11, 2.0), atol=1e-12)


@pytest.mark.parametrize("cutoff", [np.pi / 5, np.pi / 2, 0.9 * np.pi])
def test_sinc_kernel_is_the_ideal_circular_low_pass(cutoff):
    # independent closed form: the inverse Fourier transform of the disc |ω| < cutoff,
    # h(r) = 1/(2π) ∫_0^cutoff J0(ρ r) ρ dρ, integrated numerically (no J1 identity used)
    size = 13
    half = size // 2
    y, x = np.mgrid[-half : half + 1, -half : half + 1]
    radii = np.hypot(x, y)
    values = np.array([integrate.quad(lambda rho, r=r: special.j0(rho * r) * rho, 0, cutoff)[0] for r in radii.ravel()])
    expected = values.reshape(size, size) / (2 * np.pi)
    np.testing.assert_allclose(hc.sinc_kernel(cutoff, size), expected / expected.sum(), atol=1e-9)


@needs_tensorflow  # the JPEG stage uses TensorFlow's codec
def test_stages_are_seeded(photos):
    image = photos["astronaut"][100:196, 150:246]
    model = HandcraftedDegradation(scale=4, lr_size="native")
    first, again, other = model.degrade(image, seeds=11), model.degrade(image, seeds=11), model.degrade(image, seeds=12)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 1 / 255
    for draw in (lambda rng: hc.random_blur_kernel(rng, hc.SECOND_STAGE),
                 lambda rng: hc.gaussian_noise(image, rng, 10.0, gray=False),
                 lambda rng: hc.poisson_noise(image, rng, 2.0, gray=True),
                 lambda rng: hc.second_order(image, rng, 4)):
        np.testing.assert_array_equal(draw(hc._rng(3, 1)), draw(hc._rng(3, 1)))
        assert not np.array_equal(draw(hc._rng(3, 1)), draw(hc._rng(3, 2)))


@needs_tensorflow  # the JPEG stage uses TensorFlow's codec
def test_batch_seeds_are_per_image_key_and_visit(photos):
    images = np.stack([photos["coffee"][:64, :64], photos["chelsea"][:64, :64]])
    model = HandcraftedDegradation(scale=4, lr_size="native")
    batch = model.degrade(images, seeds=[(5, 0), (6, 3)])
    np.testing.assert_array_equal(batch[1], model.degrade(images[1], seeds=[(6, 3)]))
    np.testing.assert_array_equal(batch[0], model.degrade(images[0], seeds=[(5, 0)]))


@needs_tensorflow  # the JPEG stage uses TensorFlow's codec
def test_output_is_8_bit_lr_of_the_right_size(photos):
    image = photos["rocket"][:203, :150]  # not a multiple of 4: the HR is cut to 200 × 148
    native = HandcraftedDegradation(scale=4, lr_size="native").degrade(image, seeds=1)
    assert native.shape == (50, 37, 3)
    np.testing.assert_allclose(native * 255, np.round(native * 255), atol=1e-4)
    same = HandcraftedDegradation(scale=4, lr_size="same").degrade(image, seeds=1)
    assert same.shape == (200, 148, 3)
    np.testing.assert_allclose(same, np.clip(imresize(native, output_size=(200, 148)), 0, 1), atol=1e-6)


def test_noise_levels_match_their_parameters():
    flat = np.full((256, 256, 3), 0.5, np.float32)
    noisy = hc.gaussian_noise(flat, np.random.default_rng(0), 10.0, gray=False)
    assert np.std(noisy * 255) == pytest.approx(10.0, rel=0.03)
    assert np.corrcoef(noisy[..., 0].ravel(), noisy[..., 1].ravel())[0, 1] < 0.05
    grey = hc.gaussian_noise(flat, np.random.default_rng(0), 10.0, gray=True)
    np.testing.assert_array_equal(grey[..., 0], grey[..., 2])
    # Poisson counts at 256 levels (a flat image has 1 level → 2): variance = value / levels, times scale²
    shot = hc.poisson_noise(flat, np.random.default_rng(0), 1.0, gray=False)
    assert np.var(shot) == pytest.approx(0.5 / 2, rel=0.05)


@needs_tensorflow
@pytest.mark.parametrize("quality", [30, 60, 95])
def test_jpeg_stage_matches_tensorflow_adjust_jpeg_quality(photos, quality):
    import tensorflow as tf

    image = np.round(photos["astronaut"][:200, :240] * 255) / 255
    expected = tf.image.adjust_jpeg_quality(image, quality).numpy()
    np.testing.assert_allclose(hc.jpeg(image, quality), expected, atol=1e-4)
    assert np.abs(hc.jpeg(image, quality) - image).mean() > 0.5 / 255  # and it is lossy


def test_shrink_enlarged_inverts_the_bicubic_enlargement_and_is_least_squares(photos):
    small = photos["chelsea"][:75, :100]
    np.testing.assert_allclose(shrink_enlarged(imresize(small, output_size=(300, 400)), 4), small, atol=2e-5)
    big = photos["chelsea"][:300, :400]
    exact, naive = shrink_enlarged(big, 4), imresize(big, output_size=(75, 100))

    def misfit(candidate):
        return np.mean((imresize(candidate, output_size=(300, 400)) - big) ** 2)

    assert misfit(exact) < misfit(naive)


@needs_tensorflow  # the JPEG stage uses TensorFlow's codec
def test_learned_blur_with_noise_keeps_the_blur_and_adds_noise(photos):
    image = photos["coffee"][:128, :128]
    blur = AtNativeSize(BicubicDegradation(scale=4))
    model = LearnedBlurWithNoise(blur)
    assert (model.scale, model.lr_size, model.adds_noise) == (4, "native", True)
    clean, noisy = blur.degrade(image), model.degrade(image, seeds=2)
    difference = (noisy - np.clip(clean, 0, 1)) * 255
    assert abs(difference.mean()) < 1.0  # noise and JPEG, no change of tone
    assert 0.5 < difference.std() < 40
    np.testing.assert_array_equal(noisy, model.degrade(image, seeds=2))
    # any degradation that keeps the `degrade(images, tile_size)` contract can be the blur, built-ins included
    native = LearnedBlurWithNoise(BicubicDegradation(scale=4, lr_size="native")).degrade(image, seeds=2)
    # AtNativeSize undoes the bicubic enlargement exactly, so both blurs give the same LR (to a JPEG rounding)
    assert native.shape == (32, 32, 3) and np.abs(native - noisy).max() <= 1 / 255 + 1e-6


@pytest.mark.slow
@needs_tensorflow
def test_shipped_dml_at_native_size_matches_real_small_lr():
    """The same-size DML taken back to the capture size imitates the real small LR of held-out pairs."""
    import keras

    from dml_keras.workflows.degradation import evaluate_degradation
    from tests.conftest import shared_data

    shared_data("realsr_x4")
    root = Path(__file__).resolve().parents[2] / "saved_models"
    dml = keras.models.load_model(root / "dml_realsr_x4.keras")

    class BicubicShrink:  # the naive alternative: shrink the same-size output with MATLAB bicubic
        channels, scale = "y", 4

        def degrade(self, images):
            return np.stack([imresize(dml.degrade(image), scale=0.25) for image in images])

    pairs = root / "realsr_x4_val.csv"
    exact = evaluate_degradation(AtNativeSize(dml), pairs, lr_size="native", crop_border=8, progress=False)["psnr"]
    naive = evaluate_degradation(BicubicShrink(), pairs, lr_size="native", crop_border=8, progress=False)["psnr"]
    print(f"shrink_enlarged {exact:.2f} dB, bicubic shrink {naive:.2f} dB")
    assert exact > 35.5 and exact > naive + 0.1  # measured: 36.03 vs 35.77 dB (crop 2 LR pixels)
