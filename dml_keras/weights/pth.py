"""PyTorch `.pth` files (`torch.save`'s zip format) read as NumPy arrays, without PyTorch.

A `.pth` is a zip archive: `ARCHIVE/data.pkl` (a pickle that rebuilds each
tensor from a storage) and `ARCHIVE/data/KEY` (each storage's raw bytes).
Unpickling runs whatever the pickle names, so the reader accepts exactly
the globals a state dict needs (`collections.OrderedDict`, the tensor and
parameter rebuilds and the storage types) and refuses any other in one line,
before anything is called. The legacy (pre-1.6, non-zip) format is refused.

Example:
>>> from dml_keras.weights.pth import read_pth
>>> state = read_pth("RealESRGAN_x4plus.pth")  # doctest: +SKIP
>>> state["params_ema"]["conv_first.weight"].shape  # doctest: +SKIP
(64, 3, 3, 3)
"""

import collections
import os
import pickle
import zipfile

import numpy as np

from dml_keras.errors import DataError

STORAGE_DTYPES = {
    "FloatStorage": "<f4", "HalfStorage": "<f2", "DoubleStorage": "<f8", "BFloat16Storage": "bfloat16",
    "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2", "CharStorage": "i1", "ByteStorage": "u1",
    "BoolStorage": "?",
}


class _StorageType:
    def __init__(self, name):
        self.name = name


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    itemsize = storage.dtype.itemsize
    if not size:
        return storage[offset].copy()
    needed = offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1
    if min(size) > 0 and needed > storage.size:
        raise DataError(f"a tensor of shape {tuple(size)} reaches past its storage of {storage.size} values")
    return np.lib.stride_tricks.as_strided(storage[offset:], tuple(size), tuple(s * itemsize for s in stride)).copy()


def _rebuild_parameter(data, requires_grad=False, hooks=None, *rest):
    return data


ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


def read_pth(path):
    """The object a `torch.save` zip file holds, its tensors as NumPy arrays (a dict of them, for a state dict).

    Raises:
        DataError: not a zip `.pth`, a pickle naming anything but tensors and storages, or damaged storages.
    """
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        if os.path.isfile(path):
            raise DataError(f"'{path}' is not a zip-format PyTorch file (the legacy format of torch < 1.6, or not "
                            "a .pth at all): re-save it with torch.save in a recent PyTorch, then import it")
        raise DataError(f"'{path}' does not exist")
    with zipfile.ZipFile(path) as archive:
        pickles = [name for name in archive.namelist() if name.endswith("/data.pkl") or name == "data.pkl"]
        if len(pickles) != 1:
            raise DataError(f"'{path}' is a zip file without exactly one data.pkl: not a torch.save file")
        prefix = pickles[0][: -len("data.pkl")]
        storages = {}

        def load_storage(pid):
            if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"
                    and isinstance(pid[1], _StorageType)):
                raise DataError(f"'{path}': its pickle refers to {pid!r}, not to a tensor storage")
            _, kind, key, _location, count = pid
            if key not in storages:
                try:
                    raw = archive.read(f"{prefix}data/{key}")
                except KeyError:
                    raise DataError(f"'{path}' lacks the storage data/{key} its pickle names") from None
                dtype = STORAGE_DTYPES[kind.name]
                if dtype == "bfloat16":
                    values = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
                else:
                    values = np.frombuffer(raw, dtype)
                if values.size < count:
                    raise DataError(f"'{path}': storage data/{key} holds {values.size} values, its pickle says {count}")
                storages[key] = values
            return storages[key]

        class Restricted(pickle.Unpickler):
            def find_class(self, module, name):
                if (module, name) not in ALLOWED:
                    raise DataError(f"'{path}' names {module}.{name} in its pickle: only tensors, storages and "
                                    "OrderedDicts are read (a state dict), so the file is refused")
                return ALLOWED[module, name]

            def persistent_load(self, pid):
                return load_storage(pid)

        with archive.open(pickles[0]) as handle:
            try:
                return Restricted(handle).load()
            except DataError:
                raise
            except Exception as error:  # a damaged pickle: any of pickle's many errors
                raise DataError(f"'{path}': its data.pkl cannot be read ({type(error).__name__}: {error})") from None
