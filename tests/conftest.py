"""Shared fixtures: real photos (scikit-image's bundled ones) and the shared real-pair data."""

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

# `DML_TEST_WITHOUT_TENSORFLOW=1` (with KERAS_BACKEND=jax) runs the tests as on a
# machine that has Keras and JAX but no TensorFlow: importing it fails, and the
# tests that need it (tf.data, tf.distribute, export, comparisons with tf.image)
# are skipped. tests/test_backends.py runs ops/layers/models this way.
WITHOUT_TENSORFLOW = os.environ.get("DML_TEST_WITHOUT_TENSORFLOW") == "1"
if WITHOUT_TENSORFLOW:
    import sys

    sys.modules["tensorflow"] = None

needs_tensorflow = pytest.mark.skipif(WITHOUT_TENSORFLOW, reason="needs TensorFlow (running as on a machine without it)")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts):
    """Path under ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data '{path}' is absent (../shared/data is not beside this checkout)")
    return path


@pytest.fixture(scope="session")
def photos():
    """Real photographs bundled with scikit-image, float32 RGB in [0, 1]."""
    import skimage.data

    names = ("astronaut", "chelsea", "coffee", "rocket")
    return {name: getattr(skimage.data, name)().astype(np.float32) / 255.0 for name in names}
