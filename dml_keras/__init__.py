"""dml-keras: learn a real camera's degradation from a few photo pairs (DML, ACCV 2020).

`import dml_keras` is light: Keras and TensorFlow are imported on first use
(any model, workflow or `load_model`), with TensorFlow's start-up logs
muted, and the package's classes are then registered with Keras, so
`keras.saving.load_model("model.keras")` works after `import dml_keras`.
`dml_keras.load_model` loads any model the package runs (presets and
built-ins by name, `.keras`, SavedModel, TFLite, ONNX).

>>> import dml_keras
>>> dml_keras.load_model("bicubic").lr_size
'same'
"""

import importlib

from dml_keras._version import __version__
from dml_keras import _quiet
from dml_keras.errors import DataError, SetupError

_quiet.install()

_LAZY = {"load_model": "dml_keras.loading", "align_pair": "dml_keras.workflows.align",
         "align_folder": "dml_keras.workflows.align"}
_SUBMODULES = ("layers", "models", "ops", "metrics", "data", "losses", "workflows", "presets")


def __getattr__(name):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"dml_keras.{name}")
    else:
        raise AttributeError(f"module 'dml_keras' has no attribute {name!r}")
    _quiet.register_pending()  # Keras came in during that import: its classes register now the import is done
    return value


__all__ = ["DataError", "SetupError", "__version__", "align_folder", "align_pair", "load_model"]
