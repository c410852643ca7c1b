"""One loader for every model the package runs: built-ins by name, `.keras` files, exported files."""

import os

from dml_keras.errors import DataError
from dml_keras.presets import PRESETS, preset_file

KINDS = ("degradation", "sr")


def load_model(model, kind=None, scale=4, lr_size=None, noise="white"):
    """A model ready to `degrade` or `super_resolve`, from whatever a user has.

    Args:
        model: a built-in degradation by name (`"identity"`, `"bicubic"`,
            `"handcrafted"`), a shipped model by name (`"dml_realsr_x4"`,
            `"vdsr_realsr_x4"`, …: `dml presets`), a `.keras` file or the `--out` folder of a
            training run, a fine-tuning's `.tuned.npz` (`weights.tuned`), an exported file (SavedModel folder, `.tflite`,
            `.onnx`), or a model object (returned as it is, checked and wrapped).
        kind: `"degradation"` or `"sr"` to refuse the other family with a
            clear error; `None` accepts both.
        scale: the built-ins' factor (loaded models carry their own).
        lr_size: `"native"` asks a same-size degradation model for LR at the
            capture size (`AtNativeSize`: the exact inverse of the bicubic
            enlargement it imitates); for built-ins, the size they make
            (default `"same"`).
        noise: degradations only: `"white"` (the model as it is; the
            synthesis code adds the sensor noise) or `"handcrafted"`: the
            learned blur followed by Real-ESRGAN's random noise and JPEG
            (`LearnedBlurWithNoise`).

    Raises:
        DataError: the name or path is not a model, or not of `kind`.

    Example:
    >>> import dml_keras
    >>> dml_keras.load_model("bicubic", scale=4).scale
    4
    >>> dml_keras.load_model("dml_realsr_x4").channels
    'y'
    """
    from dml_keras.models import BUILTIN_BASELINES, AtNativeSize, LearnedBlurWithNoise

    if kind not in (None,) + KINDS:
        raise ValueError(f"kind must be one of {KINDS} or None. Received: kind={kind!r}")
    if noise not in ("white", "handcrafted"):
        raise ValueError(f"noise must be 'white' or 'handcrafted'. Received: noise={noise!r}")
    if isinstance(model, str) and model in BUILTIN_BASELINES:
        if kind == "sr":
            raise DataError(f"'{model}' is a built-in degradation, not an SR model.")
        if noise == "handcrafted":
            raise DataError(f"--noise-model handcrafted adds noise to a learned blur; '{model}' is a built-in. "
                            "Use the built-in 'handcrafted' degradation, or give a learned model.")
        return BUILTIN_BASELINES[model](scale=scale, lr_size=lr_size or "same")
    if isinstance(model, str) and model in PRESETS:
        model = str(preset_file(model))
    loaded = _load_file(model, kind) if isinstance(model, (str, os.PathLike)) else model
    if model_kind(loaded) != "degradation":
        if noise != "white" or lr_size not in (None, loaded.lr_size):
            raise DataError(f"'{model}' is an SR model: it takes no noise model and keeps its own LR size.")
        return loaded
    if lr_size == "native" and loaded.lr_size == "same":
        loaded = AtNativeSize(loaded)
    return LearnedBlurWithNoise(loaded) if noise == "handcrafted" else loaded


def model_kind(model):
    """`"degradation"` or `"sr"`: which family a loaded model belongs to."""
    return getattr(model, "kind", None) or ("degradation" if hasattr(model, "degrade") else "sr")


def _load_file(model, kind):
    from dml_keras.runtime import ExportedModel, exported_format

    path = os.fspath(model)
    if exported_format(path):
        return ExportedModel(path, kind=kind)
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "model.keras")):
        path = os.path.join(path, "model.keras")
    if not os.path.isfile(path):
        from dml_keras.models import BUILTIN_BASELINES

        builtins = f"a built-in ({', '.join(BUILTIN_BASELINES)}), " if kind != "sr" else ""
        command = {"degradation": "`dml train-degradation`", "sr": "`dml train-sr`"}.get(kind, "`dml train-*`")
        raise DataError(f"Model '{model}' is neither {builtins}an exported model nor an existing file. "
                        f"Give a .keras file written by {command} (or its --out folder).")
    import zipfile

    if path.endswith(".tuned.npz"):
        from dml_keras.weights.tuned import load_tuned

        loaded = load_tuned(path)
        if kind == "degradation":
            raise DataError(f"'{path}' holds an SR network, not a degradation model.")
        return loaded
    if path.endswith(".keras") and not zipfile.is_zipfile(path):
        raise DataError(f"'{path}' is not a Keras model file (a .keras file is a zip archive): it is damaged or "
                        "incomplete. Copy it again, or use the run's checkpoints/last.keras.")
    loaded = _load_keras(path)
    if not hasattr(loaded, "degrade") and not hasattr(loaded, "super_resolve"):
        raise DataError(f"'{path}' holds a plain Keras {type(loaded).__name__}, not a dml-keras model (it has no "
                        "`degrade` or `super_resolve`). Train one with `dml train-sr` / `dml train-degradation`, "
                        "or convert published weights with `dml import`.")
    if kind is not None and model_kind(loaded) != kind:
        raise DataError(f"'{path}' holds a {type(loaded).__name__}, not {'an SR' if kind == 'sr' else 'a degradation'} model.")
    return loaded


def _load_keras(path):
    """`keras.models.load_model` in safe mode, its failures as one line naming the file."""
    import keras

    try:
        return keras.models.load_model(path)
    except (ValueError, TypeError) as error:
        if "safe_mode" in str(error) or "arbitrary code" in str(error):
            raise DataError(f"'{path}' holds Python code (a Lambda layer or similar), which is refused: loading it "
                            "would run that code. Load only models you trust, in Python with "
                            "keras.models.load_model(path, safe_mode=False).") from None
        raise DataError(f"'{path}' is not a model this package can load ({type(error).__name__}: "
                        f"{_first_line(error)}). Use a file written by dml-keras.") from None
    except Exception as error:  # a zip whose members are damaged: h5py, JSON, a missing config.json…
        raise DataError(f"'{path}' is damaged or incomplete ({type(error).__name__}: {_first_line(error)}). "
                        "Copy it again, or use the run's checkpoints/last.keras.") from None


def _first_line(error):
    text = str(error).strip()
    return (text.splitlines()[0][:120] if text else "unreadable").strip("'\"")
