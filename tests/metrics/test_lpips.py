import numpy as np
import pytest

from dml_keras.data import read_image
from dml_keras.metrics import lpips
from dml_keras.metrics.lpips import _ArraysOnlyUnpickler
from tests.conftest import shared_data

# Official PyTorch `lpips` 0.1.4 values (../shared/data/README.md).
OFFICIAL = {"alex": (0.7219, 0.1376), "vgg": (0.5686, 0.4217)}


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_matches_official_values(net):
    folder = shared_data("lpips_examples")
    ref, p0, p1 = (read_image(folder / f"ex_{n}.png") for n in ("ref", "p0", "p1"))
    assert lpips(ref, p0, net=net) == pytest.approx(OFFICIAL[net][0], abs=1e-3)
    assert lpips(ref, p1, net=net) == pytest.approx(OFFICIAL[net][1], abs=1e-3)


def test_batch_equals_single_and_uint8_equals_float(photos):
    a = np.stack([photos["astronaut"][:64, :64], photos["coffee"][:64, :64]])
    b = np.clip(a + np.random.default_rng(0).normal(0, 0.05, a.shape), 0, 1)
    batch = lpips(a, b)
    assert batch.shape == (2,)
    assert batch[1] == pytest.approx(lpips(a[1], b[1]), abs=1e-6)
    a8, b8 = (np.round(x * 255).astype(np.uint8) for x in (a[0], b[0]))
    assert lpips(a8, b8) == pytest.approx(lpips(a8 / 255.0, b8 / 255.0), abs=1e-6)
    assert lpips(a[0], a[0]) == 0.0 and batch.min() > 0.01


def test_more_noise_is_further(photos):
    x = photos["chelsea"][:96, :96]
    rng = np.random.default_rng(1)
    light, heavy = (np.clip(x + rng.normal(0, s, x.shape), 0, 1) for s in (0.02, 0.1))
    assert lpips(x, light) < lpips(x, heavy)


def test_unpickler_refuses_code(tmp_path):
    import io
    import os
    import pickle

    payload = pickle.dumps(os.system)
    with pytest.raises(pickle.UnpicklingError, match="only NumPy arrays"):
        _ArraysOnlyUnpickler(io.BytesIO(payload)).load()
