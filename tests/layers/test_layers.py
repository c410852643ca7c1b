import keras
import numpy as np
import pytest

from dml_keras.layers import BasisKernels, SpatiallyVariantFilter, WeightPredictor
from dml_keras.layers.weight_predictor import upsample_bilinear_2x
from dml_keras.ops.filtering import basis_filter
from tests.conftest import assert_round_trip, needs_tensorflow


def test_basis_kernels_initializers_sum_to_one():
    for init in ("uniform", "gaussian"):
        layer = BasisKernels(6, 9, initializer=init, seed=1)
        layer.build((None, None, None, 1))
        kernels = keras.ops.convert_to_numpy(layer.kernels)
        assert kernels.shape == (9, 9, 6)
        np.testing.assert_allclose(kernels.sum(axis=(0, 1)), 1.0, atol=1e-5)
        assert kernels.min() >= 0


def test_gaussian_family_is_distinct_and_centred():
    layer = BasisKernels(8, 15, initializer="gaussian")
    layer.build(None)
    k = keras.ops.convert_to_numpy(layer.kernels)
    np.testing.assert_allclose(k[7, 7], k.max(axis=(0, 1)), atol=1e-7)  # peak at the centre
    flat = k.reshape(-1, 8)
    assert np.min([np.abs(flat[:, i] - flat[:, j]).sum() for i in range(8) for j in range(i)]) > 0.05


def test_basis_layer_round_trip_and_matches_op(tmp_path):
    layer = BasisKernels(4, 5, seed=0, stride=2)
    x = np.random.default_rng(0).random((2, 9, 10, 3)).astype("float32")
    out = assert_round_trip(layer, x, tmp_path)[0]
    assert out.shape == (2, 5, 5, 3, 4)
    kernels = keras.ops.convert_to_numpy(layer.kernels)
    for m in range(4):
        onehot = np.zeros((2, 5, 5, 4), "float32")
        onehot[..., m] = 1
        np.testing.assert_allclose(out[..., m], basis_filter(x, kernels, onehot, 2), atol=1e-5)


def test_simplex_constraint_applies_after_update():
    layer = BasisKernels(3, 5, constraint="simplex", seed=0)
    layer.build(None)
    optimizer = keras.optimizers.SGD(10.0)
    # the gradient of -sum(k[2, 2]) + 100 * sum(k[0, 0]^2): pushes the update off the simplex
    gradient = np.zeros((5, 5, 3), "float32")
    gradient[2, 2] = -1.0
    gradient[0, 0] = 200.0 * keras.ops.convert_to_numpy(layer.kernels)[0, 0]
    optimizer.apply([gradient], [layer.kernels])
    kernels = keras.ops.convert_to_numpy(layer.kernels)
    assert kernels.min() >= 0
    np.testing.assert_allclose(kernels.sum(axis=(0, 1)), 1.0, atol=1e-5)


def test_spatially_variant_filter_round_trip_and_pixel_kernels(tmp_path):
    layer = SpatiallyVariantFilter(4, 5, stride=1, seed=0)
    rng = np.random.default_rng(0)
    x = rng.random((2, 12, 12, 1)).astype("float32")
    w = rng.random((2, 12, 12, 4)).astype("float32")
    out = assert_round_trip(layer, [x, w], tmp_path)[0]
    kernels = keras.ops.convert_to_numpy(layer.pixel_kernels(w))
    assert kernels.shape == (2, 12, 12, 5, 5)
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)), mode="reflect")
    assert out[1, 6, 3, 0] == pytest.approx(float(np.sum(padded[1, 6:11, 3:8, 0] * kernels[1, 6, 3])), abs=1e-5)


@pytest.mark.parametrize("size", [(32, 32), (33, 20), (17, 9)])
def test_weight_predictor_any_size(size, tmp_path):
    layer = WeightPredictor(num_outputs=8)
    x = np.random.default_rng(0).random((1,) + size + (1,)).astype("float32")
    out = assert_round_trip(layer, x, tmp_path)[0] if size == (33, 20) else keras.ops.convert_to_numpy(layer(x))
    assert out.shape == (1,) + size + (8,)
    assert 0 < out.min() and out.max() < 1  # sigmoid


@needs_tensorflow
def test_upsample_matches_tf_bilinear():
    import tensorflow as tf

    x = np.random.default_rng(0).random((2, 5, 7, 3)).astype("float32")
    expected = tf.image.resize(x, (10, 14), "bilinear").numpy()
    np.testing.assert_allclose(keras.ops.convert_to_numpy(upsample_bilinear_2x(x)), expected, atol=1e-6)


def test_argument_validation():
    with pytest.raises(ValueError, match="kernel_size must be a positive odd number. Received: kernel_size=4"):
        BasisKernels(8, 4)
    with pytest.raises(ValueError, match="initializer"):
        BasisKernels(8, 5, initializer="zeros")
    with pytest.raises(ValueError, match="constraint"):
        BasisKernels(8, 5, constraint="positive")
