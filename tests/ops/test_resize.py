import numpy as np
import pytest

from dml_keras.data.io import read_image
from dml_keras.ops import imresize
from dml_keras.ops.resize import resize_matrix
from tests.conftest import shared_data


def test_rows_sum_to_one_and_constant_is_preserved():
    for size_in, size_out, scale in [(17, 5, 1 / 3.4), (9, 36, 4.0), (30, 10, 1 / 3)]:
        np.testing.assert_allclose(resize_matrix(size_in, size_out, scale).sum(axis=1), 1.0, atol=1e-12)
    assert np.allclose(imresize(np.full((21, 13, 3), 0.3), scale=0.5), 0.3, atol=1e-6)


def test_upscale_by_integer_keeps_known_matlab_weights():
    # MATLAB's bicubic x2 weights are (-0.0234, 0.2266, 0.8672, -0.0703) for every interior pixel.
    # Output pixel 9 (1-based) sits at input 4.75: taps on inputs 3..6 (1-based).
    row = resize_matrix(10, 20, 2.0)[8]
    np.testing.assert_allclose(row[2:6], [-0.0234375, 0.2265625, 0.8671875, -0.0703125], atol=1e-12)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_reproduces_matlab_set5_lr(scale):
    """Set5 LR_bicubic files were made by MATLAB imresize on uint8 HR."""
    names = ["baby", "bird", "butterfly", "head", "woman"]
    psnrs, equal = [], []
    for name in names:
        hr = np.round(read_image(shared_data("set5", "HR", f"{name}.png")) * 255).astype(np.uint8)
        lr = np.round(read_image(shared_data("set5", "LR_bicubic", f"X{scale}", f"{name}x{scale}.png")) * 255)
        hr = hr[: hr.shape[0] - hr.shape[0] % scale, : hr.shape[1] - hr.shape[1] % scale]
        out = imresize(hr, scale=1 / scale).astype(np.float64)
        assert out.shape == lr.shape
        mse = np.mean((out - lr) ** 2)
        psnrs.append(10 * np.log10(255**2 / mse) if mse else np.inf)
        equal.append(np.mean(out == lr))
    # Measured: x3 bit-exact; x2 99.4% of pixels identical (69–72 dB); x4 99.94% (77–84 dB).
    assert min(psnrs) > 60.0, psnrs
    assert np.mean(equal) > 0.99, equal


def test_float_input_is_unrounded_and_matches_integer_path_closely(photos):
    rgb = 0.25 + 0.5 * photos["astronaut"]  # away from 0 and 1, where the integer path clips
    as_float = imresize(rgb, scale=0.25)
    as_uint8 = imresize(np.round(rgb * 255).astype(np.uint8), scale=0.25)
    assert as_float.dtype == np.float32 and as_uint8.dtype == np.uint8
    assert np.abs(as_float * 255 - as_uint8).max() <= 1.0


def test_output_size_and_bad_arguments():
    assert imresize(np.zeros((10, 7)), output_size=(20, 5)).shape == (20, 5)
    with pytest.raises(ValueError, match="scale"):
        imresize(np.zeros((4, 4)))
    with pytest.raises(ValueError, match="shape"):
        imresize(np.zeros((2, 2, 2, 2)), scale=2)
