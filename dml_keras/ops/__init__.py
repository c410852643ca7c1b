"""Stateless image math: colour conversion and MATLAB-compatible resizing.

The names load on first use, so that `dml_keras.ops.resize` (NumPy only)
does not import Keras.
"""

import importlib

_NAMES = {"rgb_to_y": "color", "rgb_to_ycbcr": "color", "ycbcr_to_rgb": "color", "imresize": "resize",
          "shrink_enlarged": "resize"}


def __getattr__(name):
    if name in _NAMES:
        value = getattr(importlib.import_module(f"dml_keras.ops.{_NAMES[name]}"), name)
        from dml_keras._quiet import register_pending

        register_pending()  # Keras came in during that import: its classes register now the import is done
        return value
    raise AttributeError(f"module 'dml_keras.ops' has no attribute {name!r}")


__all__ = ["rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb", "imresize", "shrink_enlarged"]
