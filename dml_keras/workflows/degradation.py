"""Degradation models: train them on real pairs (recipes), fit the closed-form global kernel, score them."""

import os

import keras
import numpy as np
from tqdm.auto import tqdm

from dml_keras.data.files import write_json
from dml_keras.data.pairs import load_pair, pair_geometry, resolve_pairs, split_pairs
from dml_keras.data.streams import first_batch, training_crops, whole_pairs
from dml_keras.distribute import check_jit_compile, resolve_strategy, training_scope
from dml_keras.errors import SetupError
from dml_keras.metrics import psnr, ssim
from dml_keras.ops.color import rgb_to_y
from dml_keras.workflows.fit import averaging_adam, concrete_precision, fit_and_save, record_start, resumed_steps

CACHE_LIMIT_BYTES = 2 * 1024**3


def build_degradation_model(model="dml", **kwargs):
    """A degradation model by its command-line name; an argument it does not take is an error that names it."""
    from dml_keras.models import DEGRADATION_MODELS, build_strictly

    if model not in DEGRADATION_MODELS:
        raise ValueError(f"model must be one of {sorted(DEGRADATION_MODELS)}. Received: model={model!r}")
    return build_strictly(DEGRADATION_MODELS[model], model, **kwargs)


def _can_cache(pairs, scale, lr_size, channels):
    pixels = sum(np.prod(pair_geometry(p, scale, lr_size)[0]) for p in pairs)
    return pixels * (1 if channels == "y" else 3) * 2 * 4 < CACHE_LIMIT_BYTES


def fit_global_kernel(spec, out_dir, verbose="auto"):
    """The global-kernel baseline of `spec` (a resolved `DegradationRun`) in closed form: the least-squares
    kernel over every training pixel.

    No optimisation steps: `least_squares_kernel` solves the training loss
    exactly, so the baseline is at its bound. Writes `out_dir/model.keras`, `spec.json` and `run_info.json`
    (the solver, the pairs' names and the validation PSNR) like `train_degradation`; returns the `GlobalKernel`.
    """
    from dml_keras.models.global_kernel import GlobalKernel, least_squares_kernel

    geometry, data = spec.geometry, spec.data
    pairs, val_pairs = _train_and_val(data.pairs, data.val_pairs, data.val_fraction, geometry.scale)
    model = GlobalKernel(scale=geometry.scale, kernel_size=spec.network.kernel_size, channels=geometry.channels,
                         lr_size=geometry.lr_size)
    loaded = [(np.asarray(hr[0]), np.asarray(lr[0]))
              for hr, lr in whole_pairs(pairs, geometry.scale, geometry.lr_size, geometry.channels)]
    model.set_kernel(least_squares_kernel([hr for hr, _ in loaded], [lr for _, lr in loaded], model.kernel_size,
                                          stride=model.stride, border=model.crop_border))
    record = dict(solver="least_squares", **_pair_names(pairs, val_pairs))
    if val_pairs:  # scored as `dml evaluate-degradation` scores it
        record["val_psnr"] = evaluate_degradation(model, val_pairs, progress=False)["psnr"]
        if verbose:
            print(f"global kernel (least squares): val PSNR {record['val_psnr']:.2f} dB on {len(val_pairs)} pairs")
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, "spec.json"), spec.to_dict())
    record_start(out_dir, dict(backend=keras.backend.backend()), 0, record)
    model.save(os.path.join(out_dir, "model.keras"))
    return model


def _pair_names(pairs, val_pairs):
    """What `run_info.json` records of the pairs a degradation run found."""
    return dict(train_pairs=[p.name for p in pairs], val_pairs=[p.name for p in val_pairs or ()])


def _train_and_val(pairs, val_pairs, val_fraction, scale):
    pairs = resolve_pairs(pairs, scale)
    if val_pairs is None:
        return split_pairs(pairs, val_fraction)
    return pairs, resolve_pairs(val_pairs, scale)


def train_degradation(pairs=None, out_dir=None, spec=None, *, callbacks=(), verbose="auto", **settings):
    """Fit a degradation model on real pairs; resumable (calling again continues from the last finished epoch in
    `out_dir/backup`), logged (`logs/`, `history.csv`), saved as `out_dir/model.keras`, with the resolved spec in
    `out_dir/spec.json` and what ran it (the pairs' names, the machine, the versions) in `run_info.json`.

    `spec`: a `specs.DegradationRun`, or its flat settings as keywords (`DegradationRun.of`): `model` (`"dml"`,
    `"directnet"`, `"directkpn"`, or `"global-kernel"`, fitted in closed form by `fit_global_kernel`), `recipe`
    (`"default"`: the best measured; `"large"`: for a GPU; `"paper"`: the authors'), `val_pairs` or
    `val_fraction`, `steps`, `ema_steps`, `num_basis`, … — each documented on its part of the spec
    (`dml_keras.specs.degradation`) and as a flag in `dml train-degradation --help`; one left `None` comes from
    the recipe (`specs.recipes.RECIPES`), and an option of another model is a `SetupError` naming its flag.
    `callbacks`: extra Keras callbacks (they run on every worker). Under JAX or PyTorch: one device, fed by a
    `PyDataset` with the same crops; TensorFlow need not be installed. Returns the trained model.
    """
    from dml_keras.specs.degradation import DegradationRun

    if spec is not None and (settings or pairs is not None):
        raise SetupError("give train_degradation a spec, or the pairs and settings, not both")
    spec = (spec or DegradationRun.of(pairs=pairs, **settings)).resolved()
    if spec.closed_form:
        return fit_global_kernel(spec, out_dir, verbose)
    geometry, data = spec.geometry, spec.data
    strategy = resolve_strategy(spec.execution.strategy)  # what cannot run is refused before any work is done
    check_jit_compile(strategy, spec.execution.jit_compile)
    pairs, val_pairs = _train_and_val(data.pairs, data.val_pairs, data.val_fraction, geometry.scale)
    keras.utils.set_random_seed(spec.execution.seed)
    os.makedirs(out_dir, exist_ok=True)
    spec = concrete_precision(out_dir, spec)
    train = training_crops(pairs, geometry.scale, spec.crops.patch_size, spec.crops.batch_size, geometry.lr_size,
                           geometry.channels, spec.execution.seed, spec.crops.augment,
                           cache=_can_cache(pairs, geometry.scale, geometry.lr_size, geometry.channels),
                           start=resumed_steps(out_dir, spec.schedule))  # goes on with the batches it would have drawn
    validation = whole_pairs(val_pairs, geometry.scale, geometry.lr_size, geometry.channels) if val_pairs else None
    sample_hr, sample_lr = first_batch(validation or train)
    with training_scope(strategy, spec.execution.mixed_precision) as (strategy, policy):
        degradation = _compiled_model(spec, sample_hr[:1])
    example = (sample_hr[:1], sample_lr[:1], "hr_generated_lr_real_lr")
    return fit_and_save(degradation, strategy, policy, out_dir, spec, train, validation, example, callbacks, verbose,
                        record=_pair_names(pairs, val_pairs))


def _compiled_model(spec, sample):
    """The degradation model of `spec`, compiled with its optimizer (Adam, averaged weights, the schedule) and
    built on `sample` before BackupAndRestore restores weights into it."""
    geometry, optimization, steps = spec.geometry, spec.optimization, spec.schedule.steps
    model = build_degradation_model(spec.network.model, kernel_size=spec.network.kernel_size, scale=geometry.scale,
                                    channels=geometry.channels, lr_size=geometry.lr_size, **spec.model_options())
    rate = optimization.learning_rate
    if optimization.lr_schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, steps)
    model.compile(optimizer=averaging_adam(rate, spec.average.ema_steps), jit_compile=spec.execution.jit_compile)
    model(sample)
    return model


def default_crop_border(model):
    """Pixels a score ignores on each side unless told: the model's `kernel_size // 2` (7, the paper's)."""
    return model.kernel_size // 2


def evaluate_degradation(model, pairs, scale=None, lr_size=None, crop_border=None, progress=True):
    """PSNR/SSIM (Y, `crop_border`) of `model.degrade(hr)` against the real LR of each pair.

    Args:
        model: anything with `degrade(images)` (a degradation model or a built-in baseline).
        pairs: a folder/CSV accepted by `discover_pairs`, or a list of `ImagePair`.
        scale, lr_size: geometry of the pairs; default the model's (4 and `"same"` for a model without them).
        crop_border: pixels ignored on each side; default the model's `kernel_size // 2` (7, the paper's).

    Returns:
        dict `{"psnr", "ssim", "count", "per_image": [{"name", "psnr", "ssim"}, ...]}` (docs/data.md, score files).

    Example:
    >>> from dml_keras.models import BicubicDegradation
    >>> evaluate_degradation(BicubicDegradation(4), "../shared/data/realsr_x4")["psnr"]  # doctest: +SKIP
    """
    scale = model.scale if scale is None else scale
    lr_size = model.lr_size if lr_size is None else lr_size
    crop_border = default_crop_border(model) if crop_border is None else crop_border
    pairs = resolve_pairs(pairs, scale)
    for pair in pairs:  # fail before any work on a bad pair
        pair_geometry(pair, scale, lr_size)
    native_crop = crop_border // scale if lr_size == "native" else crop_border
    rows = []
    for pair in tqdm(pairs, desc="evaluate", unit="pair", disable=not progress):
        hr, lr = load_pair(pair, scale, lr_size)
        if model.channels == "y":  # score Y models on Y, as they were trained
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
