"""Scoring generated LR against real LR on held-out pairs (the fidelity table)."""

import os

import numpy as np
from tqdm.auto import tqdm

from dml_keras.data.pairs import discover_pairs, load_pair, pair_geometry
from dml_keras.metrics import psnr, ssim
from dml_keras.ops.color import rgb_to_y


def load_degradation_model(model, scale=4, lr_size="same", noise="white"):
    """A built-in by name (`"identity"`, `"bicubic"`, `"handcrafted"`), a saved `.keras` degradation model, or an exported one.

    Args:
        lr_size: for built-ins, the size they make; a same-size learned model
            asked for `"native"` LR is wrapped in `AtNativeSize` (the exact
            inverse of the bicubic enlargement it imitates).
        noise: `"white"` (the model as it is; sensor noise is added by the
            synthesis code) or `"handcrafted"`: the learned blur followed by
            Real-ESRGAN's random noise and JPEG (`LearnedBlurWithNoise`).

    Raises:
        DataError: the path does not exist or is not a degradation model.
    """
    from dml_keras.data.errors import DataError
    from dml_keras.export import ExportedModel, exported_format
    from dml_keras.models import BUILTIN_BASELINES, AtNativeSize, DegradationBase, LearnedBlurWithNoise

    if noise not in ("white", "handcrafted"):
        raise ValueError(f"noise must be 'white' or 'handcrafted'. Received: noise={noise!r}")
    if model in BUILTIN_BASELINES:
        if noise == "handcrafted":
            raise DataError(f"--noise-model handcrafted adds noise to a learned blur; '{model}' is a built-in. "
                            "Use the built-in 'handcrafted' degradation, or give a learned model.")
        return BUILTIN_BASELINES[model](scale=scale, lr_size=lr_size)
    path = os.fspath(model)
    if exported_format(path):
        loaded = ExportedModel(path, kind="degradation")
    else:
        if os.path.isdir(path) and os.path.exists(os.path.join(path, "model.keras")):
            path = os.path.join(path, "model.keras")
        if not os.path.isfile(path):
            raise DataError(
                f"Model '{model}' is neither a built-in ({', '.join(BUILTIN_BASELINES)}) nor an existing "
                "file. Give a .keras file written by `dml train-degradation` (or its --out folder)."
            )
        import keras

        loaded = keras.models.load_model(path)
        if not isinstance(loaded, DegradationBase):
            raise DataError(f"'{path}' holds a {type(loaded).__name__}, not a degradation model.")
    if lr_size == "native" and getattr(loaded, "lr_size", "same") == "same":
        loaded = AtNativeSize(loaded)
    return LearnedBlurWithNoise(loaded) if noise == "handcrafted" else loaded


def evaluate_degradation(model, pairs, scale=4, lr_size="same", crop_border=7, progress=True):
    """PSNR/SSIM (Y, `crop_border`) of `model.degrade(hr)` against the real LR of each pair.

    Args:
        model: anything with `degrade(images)` (a degradation model or a built-in baseline).
        pairs: a folder/CSV accepted by `discover_pairs`, or a list of `ImagePair`.
        scale, lr_size: geometry of the pairs.
        crop_border: pixels ignored on each side (default 7 = kernel_size // 2, the paper's).

    Returns:
        dict `{"psnr", "ssim", "count", "per_image": [{"name", "psnr", "ssim"}, ...]}` (docs/data.md, score files).

    Example:
    >>> from dml_keras.models import BicubicDegradation
    >>> evaluate_degradation(BicubicDegradation(4), "../shared/data/realsr_x4")["psnr"]  # doctest: +SKIP
    """
    if isinstance(pairs, (str, bytes)) or hasattr(pairs, "__fspath__"):
        pairs = discover_pairs(pairs, scale=scale)
    for pair in pairs:  # fail before any work on a bad pair
        pair_geometry(pair, scale, lr_size)
    native_crop = crop_border // scale if lr_size == "native" else crop_border
    rows = []
    for pair in tqdm(pairs, desc="evaluate", unit="pair", disable=not progress):
        hr, lr = load_pair(pair, scale, lr_size)
        if getattr(model, "channels", "rgb") == "y":  # score Y models on Y, as they were trained
            hr, lr = rgb_to_y(hr), rgb_to_y(lr)
        generated = np.asarray(model.degrade(hr[None]))[0]
        rows.append(
            {
                "name": pair.name,
                "psnr": psnr(generated, lr, crop_border=native_crop),
                "ssim": ssim(generated, lr, crop_border=native_crop),
            }
        )
    return {
        "psnr": float(np.mean([r["psnr"] for r in rows])),
        "ssim": float(np.mean([r["ssim"] for r in rows])),
        "count": len(rows),
        "per_image": rows,
    }
