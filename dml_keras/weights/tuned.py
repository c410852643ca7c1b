"""Files that hold only the layers a fine-tuning changed, and name the published network they change.

A fine-tuned Real-ESRGAN x4plus differs from the published one only in the
blocks that were trained (`train-sr --tune-blocks`): storing those alone
makes a file of 5–6 MB for a 67 MB network. `save_tuned(network, base, path)`
writes a compressed `.npz` with the changed convolutions (by their BasicSR
names), each as its float16 difference from the base's, and a header that
names the base preset and its SHA-256; `load_tuned(path)` loads the base
(`load_model(base)`) and adds the differences back in float32, refusing a
base whose SHA-256 differs. The difference is stored, not the weight, so
float16 keeps what the fine-tuning changed to 1/2048 of the change itself,
however small it is against the weight. Files of the first format (the
weights themselves, float32) load as they are. `load_model` reads these
files by their `.tuned.npz` ending.
"""

import json
import os

import numpy as np

from dml_keras.data.files import atomic_file
from dml_keras.errors import DataError

SUFFIX = ".tuned.npz"
FORMAT = "dml-keras tuned layers 2"  # float16 differences from the base
FORMATS = ("dml-keras tuned layers 1", FORMAT)  # 1: the float32 weights themselves


def _convolutions(network):
    from dml_keras.weights.realesrgan import rrdb_convolutions

    return rrdb_convolutions(network)


def _base_network(base):
    """The network of preset `base`, as `dml_keras.load_model(base)` gives it (a converted preset is converted once)."""
    import keras

    from dml_keras.presets import preset_file

    return keras.models.load_model(preset_file(base))


def save_tuned(network, base, path):
    """Write the convolutions of `network` (an `RRDBNet`) that differ from preset `base`'s (by more than float32
    rounding: 1e-6 of the layer's largest weight) to `path`, as float16 differences; returns their names."""
    from dml_keras.presets import PRESETS

    if not os.fspath(path).endswith(SUFFIX):
        raise DataError(f"'{path}': a tuned-layers file ends in {SUFFIX}")
    start = _base_network(base)
    arrays = {}
    for (name, conv), (_, original) in zip(_convolutions(network), _convolutions(start)):
        weights = [np.asarray(w, np.float32) for w in conv.get_weights()]
        bases = [np.asarray(w, np.float32) for w in original.get_weights()]
        # changed beyond float32 rounding (a weight average moves a frozen weight by an ulp at most)
        if any(np.max(np.abs(a - b)) > 1e-6 * max(np.max(np.abs(b)), 1e-12) for a, b in zip(weights, bases)):
            for label, value, start_value in zip(("kernel", "bias"), weights, bases):
                arrays[f"{name}.{label}"] = (value - start_value).astype(np.float16)
    header = {"format": FORMAT, "base": base, "base_sha256": PRESETS[base].sha256,
              "config": {k: v for k, v in network.get_config().items() if k in ("num_blocks", "filters", "growth",
                                                                                 "scale", "channels", "lr_size")}}
    with atomic_file(path) as handle:
        np.savez_compressed(handle, __header__=np.frombuffer(json.dumps(header).encode(), np.uint8), **arrays)
    return sorted({key.rsplit(".", 1)[0] for key in arrays})


def load_tuned(path):
    """The network a tuned-layers file describes: its base preset with the stored layers put back."""
    from dml_keras.presets import PRESETS

    path = os.fspath(path)
    try:
        with np.load(path) as data:
            header = json.loads(bytes(data["__header__"]).decode())
            arrays = {key: data[key] for key in data.files if key != "__header__"}
    except (OSError, ValueError, KeyError) as error:
        raise DataError(f"'{path}' is not a tuned-layers file ({error}); write one with dml_keras.weights.tuned."
                        "save_tuned") from None
    if header.get("format") not in FORMATS:
        raise DataError(f"'{path}' is a tuned-layers file of format {header.get('format')!r}, not one of "
                        f"{', '.join(map(repr, FORMATS))}: install the dml-keras it was made with")
    base = header["base"]
    if base not in PRESETS or PRESETS[base].sha256 != header["base_sha256"]:
        raise DataError(f"'{path}' changes the network with SHA-256 {header['base_sha256'][:12]}… ('{base}'), which "
                        "this dml-keras does not have: install the version it was made with")
    network = _base_network(base)
    convolutions = dict(_convolutions(network))
    for key, value in arrays.items():
        name, label = key.rsplit(".", 1)
        if name not in convolutions or label not in ("kernel", "bias"):
            raise DataError(f"'{path}' holds {key}, which '{base}' has no place for")
        variable = getattr(convolutions[name], label)
        if tuple(variable.shape) != value.shape:
            raise DataError(f"'{path}': {key} is {value.shape}, '{base}' has {tuple(variable.shape)}")
        if header["format"] == FORMAT:  # a float16 difference from the base's weight
            value = np.asarray(variable, np.float32) + value.astype(np.float32)
        variable.assign(value)
    return network
