"""Degradation models: train them on real pairs (recipes), fit the closed-form global kernel, score them."""

import os

import keras
import numpy as np
from tqdm.auto import tqdm

from dml_keras.data.files import write_json
from dml_keras.data.pairs import load_pair, pair_geometry, resolve_pairs, split_pairs
from dml_keras.data.streams import first_batch, training_crops, whole_pairs
from dml_keras.distribute import check_jit_compile, resolve_strategy, training_scope
from dml_keras.metrics import psnr, ssim
from dml_keras.ops.color import rgb_to_y
from dml_keras.workflows.fit import averaging_adam, fit_and_save, resumed_epoch
from dml_keras.workflows.recipes import MODEL_ONLY, check_model_only, resolve_recipe, source_of

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


def fit_global_kernel(pairs, out_dir, scale=4, kernel_size=15, channels="y", lr_size="same", val_pairs=None,
                      val_fraction=0.0, verbose="auto"):
    """The global-kernel baseline in closed form: the least-squares kernel over every training pixel.

    No optimisation steps: `least_squares_kernel` solves the training loss
    exactly, so the baseline is at its bound. Writes `out_dir/model.keras` and
    `training.json` like `train_degradation`; returns the `GlobalKernel`.
    """
    from dml_keras.models.global_kernel import GlobalKernel, least_squares_kernel

    sources = (pairs, val_pairs)
    pairs, val_pairs = _train_and_val(pairs, val_pairs, val_fraction, scale)
    model = GlobalKernel(scale=scale, kernel_size=kernel_size, channels=channels, lr_size=lr_size)
    loaded = [(np.asarray(hr[0]), np.asarray(lr[0])) for hr, lr in whole_pairs(pairs, scale, lr_size, channels)]
    model.set_kernel(least_squares_kernel([hr for hr, _ in loaded], [lr for _, lr in loaded], kernel_size,
                                          stride=model.stride, border=model.crop_border))
    settings = dict(model="global-kernel", solver="least_squares", scale=scale, kernel_size=kernel_size,
                    channels=channels, lr_size=lr_size, pairs_source=source_of(sources[0]),
                    val_source=source_of(sources[1]), val_fraction=val_fraction, train_pairs=[p.name for p in pairs],
                    val_pairs=[p.name for p in val_pairs])
    if val_pairs:  # scored as `dml evaluate-degradation` scores it
        settings["val_psnr"] = evaluate_degradation(model, val_pairs, progress=False)["psnr"]
        if verbose:
            print(f"global kernel (least squares): val PSNR {settings['val_psnr']:.2f} dB on {len(val_pairs)} pairs")
    os.makedirs(out_dir, exist_ok=True)
    write_json(os.path.join(out_dir, "training.json"), settings)
    model.save(os.path.join(out_dir, "model.keras"))
    return model


def _train_and_val(pairs, val_pairs, val_fraction, scale):
    pairs = resolve_pairs(pairs, scale)
    if val_pairs is None:
        return split_pairs(pairs, val_fraction)
    return pairs, resolve_pairs(val_pairs, scale)


def train_degradation(
    pairs,
    out_dir,
    model="dml",
    recipe="default",
    scale=4,
    num_basis=None,
    kernel_size=15,
    channels="y",
    lr_size="same",
    patch_size=None,
    batch_size=None,
    steps=None,
    steps_per_epoch=None,
    learning_rate=None,
    lr_schedule=None,
    ema_steps=None,
    augment=None,
    filters=None,
    val_pairs=None,
    val_fraction=0.0,
    seed=0,
    verbose="auto",
    callbacks=(),
    strategy=None,
    mixed_precision=False,
    jit_compile="auto",
    **model_kwargs,
):
    """Fit a degradation model on real pairs; resumable, logged, saved as `out_dir/model.keras`.

    Interrupting and calling again with the same arguments continues from the
    last finished epoch (`out_dir/backup`), it does not start over.

    Args:
        pairs: folder/CSV of pairs or a list of `ImagePair`.
        out_dir: where `model.keras`, `checkpoints/`, `logs/` (TensorBoard),
            `history.csv` and `training.json` go.
        model: `"dml"`, `"directnet"`, `"directkpn"` or `"global-kernel"`
            (fitted in closed form, `fit_global_kernel`: no steps).
        recipe: `"default"` (the best measured: 3000 steps of 8 × 64² crops,
            Adam 1e-4, weights averaged over the last sixth of the steps,
            Gaussian basis, weights starting at 1/M, 32-channel network), `"large"`
            (for a GPU: 6000 steps of 16 × 192², 64 channels) or `"paper"` (100K steps of
            16 × 192², no averaging, flips only, uniform basis, weights starting at 0.5,
            DirectNet a residual on HR, DirectKPN's kernels starting at random;
            the others start both baselines at DML's first blur). Any argument left `None` (`patch_size`, `batch_size`,
            `steps`, `steps_per_epoch`, `learning_rate`, `lr_schedule`,
            `ema_steps`, `augment`, `filters`, for DML `basis_initializer` and `weight_init`, for
            DirectKPN `kernel_init`, for DirectNet `residual_on`)
            comes from it.
        steps: total optimisation steps; `steps_per_epoch` steps make one
            epoch (the unit of logging, validation and checkpointing).
        lr_schedule: `"constant"` or `"cosine"` (decays `learning_rate` to 0
            over `steps`, so the final checkpoint is not a random point of
            the last epochs' oscillation).
        ema_steps: keep an exponential moving average of the weights over
            about this many steps, validate it and save it as the model
            (`0`: off; `"auto"`: `steps // 6`). `checkpoints/last.keras` keeps
            the raw weights.
        augment: how crops are oriented: `"dihedral"` (all 8 orientations),
            `"flips"` (left-right and up-down: the paper's) or `"none"`.
        filters: channels of the model's convolutional network (DML's weight
            network; DirectNet's and DirectKPN's whole network).
        val_pairs: held-out pairs (folder/CSV/list); or hold out `val_fraction`.
        callbacks: extra Keras callbacks (they run on every worker).
        strategy: `"default"`, `"mirrored"`, `"multiworker"` (cluster in `TF_CONFIG`) or a
            `tf.distribute.Strategy`; `batch_size` is the global batch (`dml_keras.distribute`).
            Under JAX or PyTorch: one device, fed by a `PyDataset` with the same crops
            (`dml_keras.data.streams`); TensorFlow need not be installed.
        mixed_precision: `True` for mixed float16 (GPU) / bfloat16 (CPU), or a policy name;
            the saved model is float32.
        jit_compile: XLA for the training step (`"auto"`: Keras decides; off on
            TensorFlow, where it measured 1.43× slower on CPU). One device only.
        num_basis: DML's M (default 8); other models take no basis.
        Others: as `DegradationModel` and `paired_dataset`; each model takes
            only its own arguments (an argument it does not take is an error).

    Returns:
        the trained model.
    """
    # first: an option the model does not take is refused before any work (one table: recipes.MODEL_ONLY)
    model_only = {k: model_kwargs.pop(k, None) for k in MODEL_ONLY if k not in ("num_basis", "filters")}
    check_model_only(model, num_basis=num_basis, filters=filters, **model_only)
    if model == "dml":
        model_kwargs.update(num_basis=8 if num_basis is None else num_basis, seed=seed)
    if model == "global-kernel":
        return fit_global_kernel(pairs, out_dir, scale, kernel_size, channels, lr_size, val_pairs, val_fraction,
                                 verbose)
    hyper = resolve_recipe(recipe, model, patch_size=patch_size, batch_size=batch_size, steps=steps,
                           steps_per_epoch=steps_per_epoch, learning_rate=learning_rate, lr_schedule=lr_schedule,
                           ema_steps=ema_steps, augment=augment, filters=filters, **model_only)
    patch_size, batch_size, steps = hyper.pop("patch_size"), hyper.pop("batch_size"), hyper.pop("steps")
    steps_per_epoch, learning_rate = hyper.pop("steps_per_epoch"), hyper.pop("learning_rate")
    lr_schedule, ema_steps, augment = hyper.pop("lr_schedule"), hyper.pop("ema_steps"), hyper.pop("augment")
    if lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"lr_schedule must be 'constant' or 'cosine'. Received: lr_schedule={lr_schedule!r}")
    model_kwargs.update(hyper)
    # first: a strategy that cannot run is refused before any work is done
    strategy = resolve_strategy(strategy)
    check_jit_compile(strategy, jit_compile)
    sources = dict(pairs_source=source_of(pairs), val_source=source_of(val_pairs), val_fraction=val_fraction)
    pairs, val_pairs = _train_and_val(pairs, val_pairs, val_fraction, scale)
    keras.utils.set_random_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    # A resumed run continues with fresh crops instead of replaying the stream from its start.
    resumed = resumed_epoch(out_dir)
    data_seed = seed * 1_000_003 + resumed if resumed else seed
    train = training_crops(pairs, scale, patch_size, batch_size, lr_size, channels, data_seed, augment,
                           cache=_can_cache(pairs, scale, lr_size, channels))
    validation = whole_pairs(val_pairs, scale, lr_size, channels) if val_pairs else None
    sample_hr, sample_lr = first_batch(validation or train)
    with training_scope(strategy, mixed_precision) as (strategy, policy):
        degradation = build_degradation_model(
            model, kernel_size=kernel_size, scale=scale, channels=channels, lr_size=lr_size, **model_kwargs,
        )
        rate = keras.optimizers.schedules.CosineDecay(learning_rate, steps) if lr_schedule == "cosine" else learning_rate
        degradation.compile(optimizer=averaging_adam(rate, ema_steps), jit_compile=jit_compile)
        degradation(sample_hr[:1])  # build before BackupAndRestore restores weights into it
    settings = dict(
        model=model, recipe=recipe, scale=scale, kernel_size=kernel_size, channels=channels,
        lr_size=lr_size, patch_size=patch_size, batch_size=batch_size, steps=steps,
        steps_per_epoch=steps_per_epoch, learning_rate=learning_rate, lr_schedule=lr_schedule,
        ema_steps=ema_steps, augment=augment, **sources, train_pairs=[p.name for p in pairs],
        val_pairs=[p.name for p in val_pairs or []],
        **dict(model_kwargs, seed=seed),
    )
    example = (sample_hr[:1], sample_lr[:1], "hr_generated_lr_real_lr")
    return fit_and_save(degradation, strategy, policy, out_dir, settings, train, validation, steps,
                        steps_per_epoch, example, callbacks, verbose)


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
