import numpy as np
import pytest

from dml_keras.ops import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from tests.conftest import needs_tensorflow


def test_y_matches_matlab_formula(photos):
    rgb = photos["astronaut"].astype(np.float64)
    expected = (16.0 + 65.481 * rgb[..., 0] + 128.553 * rgb[..., 1] + 24.966 * rgb[..., 2]) / 255.0
    np.testing.assert_allclose(rgb_to_y(rgb)[..., 0], expected, atol=1e-12)


def test_y_range_is_studio_swing():
    assert float(rgb_to_y(np.zeros((1, 1, 3)))[0, 0, 0]) * 255 == pytest.approx(16.0)
    assert float(rgb_to_y(np.ones((1, 1, 3)))[0, 0, 0]) * 255 == pytest.approx(235.0)


def test_round_trip_on_real_photo(photos):
    rgb = photos["coffee"].astype(np.float64)
    back = np.asarray(ycbcr_to_rgb(rgb_to_ycbcr(rgb)))
    assert np.abs(back - rgb).max() < 1e-10


def test_ycbcr_y_equals_rgb_to_y(photos):
    rgb = photos["chelsea"].astype(np.float64)
    np.testing.assert_allclose(np.asarray(rgb_to_ycbcr(rgb))[..., :1], rgb_to_y(rgb), atol=1e-12)


@needs_tensorflow
def test_works_on_tf_tensors_inside_graph(photos):
    import tensorflow as tf

    y = tf.function(rgb_to_y)(tf.constant(photos["rocket"]))
    np.testing.assert_allclose(y.numpy(), rgb_to_y(photos["rocket"]), atol=1e-6)
