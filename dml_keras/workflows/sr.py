"""SR networks (VDSR, RCAN): build them by name, train them on real, synthetic or mixed pairs, score them."""

import os

import keras
import numpy as np
from tqdm.auto import tqdm

from dml_keras.data.pairs import pair_geometry, resolve_pairs
from dml_keras.data.streams import first_batch, tf_data_backend, training_crops, whole_pairs
from dml_keras.distribute import check_jit_compile, resolve_strategy, training_scope
from dml_keras.errors import DataError, SetupError
from dml_keras.metrics import PSNR, SSIM, color_error, lpips, psnr, ssim
from dml_keras.names import SR_ARCHITECTURES, SR_ARCHS, SR_LOSSES
from dml_keras.workflows.perceptual import STAGES
from dml_keras.workflows.fit import fit_and_save, resumed_epoch
from dml_keras.workflows.recipes import FINETUNE, SR_BATCH_SIZES, SR_RECIPES, source_of


LOSSES = SR_LOSSES


def build_sr_model(arch="vdsr", scale=4, channels="y", lr_size="same", **kwargs):
    """VDSR, RCAN or RRDBNet by name; `kwargs` set the architecture's own sizes (VDSR: `depth`, `filters`;
    RCAN: `num_groups`, `num_blocks`, `filters`, ...; RRDB: `num_blocks`, `filters`, `growth`). `None` values are left at their defaults; an
    argument the architecture does not take is a `SetupError` that names it."""
    from dml_keras.models import build_strictly

    return build_strictly(_sr_class(arch), arch, scale=scale, channels=channels, lr_size=lr_size,
                          **{k: v for k, v in kwargs.items() if v is not None})


def _sr_class(arch):
    from dml_keras.models import SR_MODELS

    if arch not in SR_MODELS:
        raise ValueError(f"arch must be one of {tuple(SR_MODELS)}. Received: arch={arch!r}")
    return SR_MODELS[arch]


def _degradation_source(degradation):
    """A built-in or preset name as it is; a file as its absolute path (`training.json`)."""
    from dml_keras.models import BUILTIN_BASELINES
    from dml_keras.presets import PRESETS

    if isinstance(degradation, str) and (degradation in BUILTIN_BASELINES or degradation in PRESETS):
        return degradation
    return source_of(degradation)


def train_sr(out_dir, pairs=None, degradation=None, hr_dir=None, synthetic_pairs=None, synthetic_fraction=0.5, arch="vdsr", scale=4,
             channels=None, lr_size=None, patch_size=None, batch_size=None, steps=None, steps_per_epoch=None,
             learning_rate=None, noise_sigma=None, noise_model="white", noise_resolution="output", val_pairs=None, seed=0, verbose="auto",
             callbacks=(), strategy=None, mixed_precision=False, crops_per_image=4, jit_compile="auto", loss="auto", init=None,
             d_filters=64, ema_decay=None, recipe="default", synthesis="pipeline", d_warmup=None, init_d=None,
             color_weight=None, tune_blocks=None, collapse_drop=2.0, keep_checkpoints=False, sharpen=True, **arch_kwargs):
    """Train VDSR/RCAN/RRDBNet on real pairs, synthetic pairs, or a mix at `synthetic_fraction`.

    Synthetic pairs are made on the fly (`degradation` + `hr_dir`) or read from
    `synthetic_pairs` (the output of `dml synthesize`, for degradations too
    costly to run in the input pipeline).

    Resumable (`out_dir/backup`), logged (TensorBoard, `history.csv`), saved as `out_dir/model.keras`.
    `recipe`: `"default"` (the best measured: LR at capture size, a 12-layer VDSR, 16 × 96² crops, Adam 2e-4,
    5000 steps) or `"paper"` (LR enlarged to HR size, a 20-layer VDSR, 48² crops, Adam 1e-4, 10 000 steps);
    any of `lr_size`, `patch_size`, `steps`, `steps_per_epoch`, `learning_rate` and VDSR's `depth` left `None`
    comes from it (`workflows.recipes.SR_RECIPES`). Batch 16 (VDSR), 2 (RCAN) or 8 (RRDB); L2 loss for VDSR,
    L1 otherwise.
    `degradation`: a model, a saved model's path, or a built-in name (`"bicubic"`, `"handcrafted"`);
    `noise_model="handcrafted"` adds Real-ESRGAN's noise and JPEG to a learned blur; `noise_sigma`
    (AWGN, 0–255 scale) defaults to 5 (the paper), or 0 for degradations that add their own noise.
    `strategy`, `mixed_precision` and `jit_compile` as in `train_degradation` (`dml_keras.distribute`).
    `synthesis`: where on-the-fly pairs are made: `"pipeline"` (the input pipeline, on the CPU) or
    `"in-step"` (the learned degradation runs in the compiled training step, `workflows.in_step`: for
    GPUs; the same pairs to float rounding; synthetic pairs alone, not Real-ESRGAN's recipe).
    Under JAX or PyTorch every pair source works too, fed by `PyDataset`s that yield the `tf.data`
    pipelines' batches (`data.crops`, `data.synthetic_batches`); TensorFlow need not be installed.

    `loss`: `"auto"` (L2 for VDSR, L1 otherwise), `"l1"`, `"l2"`, or `"gan"`:
    Real-ESRGAN's L1 + perceptual + GAN stage with a `UNetDiscriminator` of
    `d_filters` (RGB only). RRDBNet and every `"gan"` run train with
    Real-ESRGAN's recipe (`dml_keras.workflows.perceptual`: sharpened ground
    truth, Adam β = (0.9, 0.99) at 2e-4 for L1 and 1e-4 for GAN, an EMA of the
    generator at `ema_decay` that is what gets saved). `init`: start the
    generator from a trained SR model (a run folder or `.keras`), e.g. the GAN
    stage from the L1 stage, or from a published generator (`"realesrgan_x4plus"`), whose sizes it then
    takes. `channels` defaults to `"rgb"` for RRDBNet and `"gan"`, `"y"` otherwise.

    Fine-tuning (`init` given, `loss="gan"`, no architecture sizes given): anything of `FINETUNE` left `None` (steps, crops, rate, EMA,
    `d_warmup` steps of the discriminator alone, `color_weight`, `tune_blocks`: the last RRDB blocks and the
    upsampler train, the rest stays) comes from that recipe; `init_d` starts the discriminator from a
    `.keras` file or Real-ESRGAN's `netD.pth`. `collapse_drop`: with `val_pairs`, stop when validation PSNR
    falls this many dB below its best and keep the best weights (`callbacks.CollapseGuard`; 0 turns it off).
    `keep_checkpoints`: keep each epoch's saved network as `checkpoints/step-N.keras`. `sharpen=False`
    compares L1 and perceptual losses with the ground truth as it is, not unsharp-masked (Real-ESRGAN's
    recipe sharpens: the output then comes out sharper than the ground truth, which costs PSNR).
    """
    from dml_keras.loading import load_model
    from dml_keras.models import check_arguments

    # first: what cannot run is refused before any work is done
    check_arguments(_sr_class(arch), arch, {k: v for k, v in arch_kwargs.items() if v is not None})
    if loss not in LOSSES:
        raise SetupError(f"loss (--loss) must be one of {', '.join(LOSSES)}, not {loss!r}")
    if recipe not in SR_RECIPES:
        raise SetupError(f"recipe (--recipe) must be one of {', '.join(SR_RECIPES)}, not {recipe!r}")
    # fine-tuning: the GAN stage from a network whose sizes it takes (a published generator), not from an L1 stage
    finetuning = init is not None and loss == "gan" and all(v is None for v in arch_kwargs.values())
    if finetuning:  # the fine-tuning recipe fills what is not given
        tuned = dict(patch_size=patch_size, batch_size=batch_size, steps=steps, steps_per_epoch=steps_per_epoch,
                     learning_rate=learning_rate, ema_decay=ema_decay, d_warmup=d_warmup, color_weight=color_weight,
                     tune_blocks=tune_blocks)
        tuned = {k: FINETUNE[k] if v is None else v for k, v in tuned.items()}
        patch_size, batch_size, steps, steps_per_epoch, learning_rate = (
            tuned[k] for k in ("patch_size", "batch_size", "steps", "steps_per_epoch", "learning_rate"))
        ema_decay, d_warmup, color_weight, tune_blocks = (
            tuned[k] for k in ("ema_decay", "d_warmup", "color_weight", "tune_blocks"))
    ema_decay = 0.999 if ema_decay is None else ema_decay
    d_warmup, color_weight = d_warmup or 0, color_weight or 0.0
    if (d_warmup or init_d is not None) and loss != "gan":
        raise SetupError("--d-warmup and --init-d train the discriminator of the GAN stage: add --loss gan")
    registered = SR_ARCHITECTURES.get(arch)
    if registered is None:
        raise ValueError(f"arch must be one of {SR_ARCHS}. Received: arch={arch!r}")
    if tune_blocks is not None and not registered.tunable_blocks:
        tunable = ", ".join(n for n, a in SR_ARCHITECTURES.items() if a.tunable_blocks)
        raise SetupError(f"--tune-blocks chooses blocks to train: it is for --arch {tunable}, not {arch}")
    given = dict(lr_size=lr_size, patch_size=patch_size, steps=steps, steps_per_epoch=steps_per_epoch,
                 learning_rate=learning_rate)
    chosen = {k: getattr(SR_RECIPES[recipe], k) if v is None else v for k, v in given.items()}
    lr_size, patch_size, steps, steps_per_epoch = (chosen[k] for k in ("lr_size", "patch_size", "steps", "steps_per_epoch"))
    if registered.recipe_depth and arch_kwargs.get("depth") is None:
        arch_kwargs["depth"] = SR_RECIPES[recipe].depth
    perceptual = registered.perceptual or loss == "gan"
    if perceptual and loss == "l2":
        raise SetupError(f"--arch {arch} --loss {loss}: Real-ESRGAN's recipe trains with 'l1' then 'gan'")
    stage = "gan" if loss == "gan" else "l1"
    channels = channels or ("rgb" if perceptual else "y")
    lr_size = "native" if registered.native_only and given["lr_size"] is None else lr_size
    learning_rate = learning_rate or (STAGES[stage]["learning_rate"] if perceptual else chosen["learning_rate"])
    if registered.native_only and lr_size != "native":
        raise SetupError(f"--arch {arch} runs on the small LR: drop --lr-size same (it takes --lr-size native)")
    if stage == "gan" and channels != "rgb":
        raise SetupError("--loss gan compares VGG features of RGB images: use --channels rgb (the default for it)")
    if pairs is None and degradation is None and synthetic_pairs is None:
        raise ValueError("Give real `pairs`, or a `degradation` model and an `hr_dir` of clean photos, or both.")
    if degradation is not None and synthetic_pairs is not None:
        raise ValueError("Give synthetic pairs one way: a `degradation` (on the fly) or `synthetic_pairs` (from disk).")
    if degradation is not None and hr_dir is None:
        raise ValueError("On-the-fly synthesis needs `hr_dir`, a folder of clean HR photos.")
    mixing = pairs is not None and (degradation is not None or synthetic_pairs is not None)
    if synthesis not in ("pipeline", "in-step"):
        raise SetupError(f"synthesis (--synthesis) must be 'pipeline' or 'in-step', not {synthesis!r}")
    in_step = synthesis == "in-step"
    if in_step and (degradation is None or mixing or perceptual):
        raise SetupError("--synthesis in-step makes the pairs of --degradation in the training step: give "
                         "--degradation and --hr-dir without real pairs, and not with --arch rrdb or --loss gan")
    # first: a strategy that cannot run is refused before any work is done
    strategy = resolve_strategy(strategy)
    check_jit_compile(strategy, jit_compile)
    batch_size = batch_size or SR_BATCH_SIZES[arch]
    keras.utils.set_random_seed(seed)
    os.makedirs(out_dir, exist_ok=True)
    resumed_steps = resumed_epoch(out_dir) * min(steps_per_epoch, steps)
    validation = None
    if val_pairs is not None:
        validation = whole_pairs(resolve_pairs(val_pairs, scale), scale, lr_size, channels, order="lr")
    model = None
    if degradation is not None:
        from dml_keras.data.synthesis import default_noise_sigma

        model = load_model(degradation, kind="degradation", scale=scale, lr_size=lr_size, noise=noise_model)
        noise_sigma = default_noise_sigma(model) if noise_sigma is None else noise_sigma
    if in_step:  # clean crops and their noise; the step degrades them (workflows.in_step)
        from dml_keras.data.synthetic_batches import synthetic_batches

        clean = dict(patch_size=patch_size, batch_size=batch_size, channels=channels, noise_sigma=noise_sigma,
                     seed=seed, noise_resolution=noise_resolution, crops_per_image=crops_per_image)
        train = synthetic_batches(model, hr_dir, **clean, start=resumed_steps, in_step=True)
    elif not tf_data_backend():
        # the tf.data streams' batches, drawn in NumPy (data.crops, data.synthetic_batches); resumed where it stopped
        from dml_keras.data.synthetic_batches import MixedBatches, synthetic_batches

        start = 0 if mixing else resumed_steps  # a mix goes on where it stopped, its streams from their start
        streams = [training_crops(resolve_pairs(source, scale), scale, patch_size, batch_size, lr_size, channels,
                                  seed, cache=True, order="lr", start=start) for source in (pairs, synthetic_pairs)
                   if source is not None]
        if model is not None:
            streams.append(synthetic_batches(model, hr_dir, patch_size, batch_size, channels, noise_sigma, seed=seed,
                                             noise_resolution=noise_resolution, crops_per_image=crops_per_image,
                                             start=start))
        train = MixedBatches(*streams, synthetic_fraction, batch_size, seed, start=resumed_steps) if mixing else streams[0]
    else:
        from dml_keras.data.sr_pipeline import mixed_sr_dataset, real_sr_dataset, synthetic_sr_dataset

        streams = []
        for source in (pairs, synthetic_pairs):
            if source is not None:
                streams.append(real_sr_dataset(resolve_pairs(source, scale), scale, patch_size, batch_size, lr_size,
                                               channels, seed, batch=not mixing))
        if model is not None:
            streams.append(synthetic_sr_dataset(model, hr_dir, patch_size, batch_size, channels, noise_sigma,
                                                seed=seed, batch=not mixing, noise_resolution=noise_resolution,
                                                crops_per_image=crops_per_image))
        train = mixed_sr_dataset(*streams, synthetic_fraction, batch_size, seed) if mixing else streams[0]
        # a resumed run continues the stream where it stopped: every draw is stateless, so the batches are the same
        train = train.skip(resumed_steps)
    sample_lr, sample_hr = first_batch(validation or (synthetic_batches(model, hr_dir, **clean) if in_step else train))
    sample_lr, sample_hr = _center_crop_pair(sample_lr[:1], sample_hr[:1], 256)
    with training_scope(strategy, mixed_precision) as (strategy, policy):
        if perceptual:
            if strategy.num_replicas_in_sync > 1 or policy == "mixed_float16":
                raise SetupError("Real-ESRGAN's recipe (--arch rrdb, --loss gan) trains on one device, in float32 "
                                 "or mixed_bfloat16 (mixed_float16 would need loss scaling)")
            network = _perceptual_trainer(arch, scale, channels, lr_size, stage, init, d_filters, ema_decay, sample_lr,
                                          learning_rate, jit_compile, arch_kwargs, d_warmup=d_warmup, init_d=init_d,
                                          color_weight=color_weight, tune_blocks=tune_blocks, sharpen=sharpen)
        else:
            network = build_sr_model(arch, scale, channels, lr_size, **arch_kwargs)
            network(sample_lr)  # built before its start is copied in and BackupAndRestore restores weights into it
            if init is not None:
                network.set_weights(_initial_network(init, network, sample_lr).get_weights())
            if in_step:
                from dml_keras.workflows.in_step import InStepSynthesis

                network = InStepSynthesis(network, model, train.margin, patch_size)
                network(first_batch(train)[0])  # built before BackupAndRestore restores weights into it
            network.compile(
                optimizer=keras.optimizers.Adam(learning_rate),
                loss={"l2": "mse", "l1": "mae"}[loss if loss in ("l1", "l2") else registered.loss],
                metrics=[PSNR(crop_border=scale), SSIM(crop_border=scale)],
                jit_compile=jit_compile,
            )
    settings = dict(arch=arch, recipe=recipe, scale=scale, channels=channels, lr_size=lr_size, patch_size=patch_size,
                    batch_size=batch_size, steps=steps, steps_per_epoch=steps_per_epoch, learning_rate=learning_rate,
                    noise_sigma=noise_sigma, noise_model=noise_model if degradation is not None else None,
                    noise_resolution=noise_resolution,
                    crops_per_image=crops_per_image if degradation is not None else None,
                    synthetic_fraction=synthetic_fraction if mixing else None, seed=seed,
                    synthesis=synthesis if degradation is not None else None,
                    pairs=source_of(pairs), synthetic_pairs=source_of(synthetic_pairs),
                    degradation=_degradation_source(degradation), hr_dir=source_of(hr_dir),
                    val_source=source_of(val_pairs), loss=loss, init=_degradation_source(init),
                    **(dict(d_filters=d_filters if stage == "gan" else None, ema_decay=ema_decay,
                            d_warmup=d_warmup or None, init_d=source_of(init_d), color_weight=color_weight or None,
                            tune_blocks=tune_blocks, sharpen=sharpen) if perceptual else {}),
                    **arch_kwargs)
    network_of = ((lambda trainer: trainer.ema_generator) if perceptual else
                  (lambda wrapper: wrapper.network) if in_step else None)
    if collapse_drop and validation is not None:
        from dml_keras.callbacks import CollapseGuard

        callbacks = [CollapseGuard(collapse_drop, network_of)] + list(callbacks)
    network = fit_and_save(network, strategy, policy, out_dir, settings, train, validation, steps, steps_per_epoch,
                           (sample_lr, sample_hr, "lr_sr_hr"), callbacks, verbose, network_of=network_of,
                           keep_checkpoints=keep_checkpoints)
    return network


def _initial_network(init, network, sample):
    """The SR model `init` (a path or a model), checked to be `network`'s class and sizes."""
    start = load_sr_start(init, sample)
    ours = {k: v for k, v in network.get_config().items() if k not in ("name", "trainable", "dtype")}
    theirs = {k: v for k, v in start.get_config().items() if k not in ("name", "trainable", "dtype")}
    if type(start) is not type(network) or ours != theirs:
        raise SetupError(f"--init {init}: it is a {type(start).__name__} {theirs}, not the {type(network).__name__} "
                         f"{ours} being trained; give the same --arch and sizes")
    start(sample)
    return start


def _perceptual_trainer(arch, scale, channels, lr_size, stage, init, d_filters, ema_decay, sample, learning_rate,
                        jit_compile, arch_kwargs, d_warmup=0, init_d=None, color_weight=0.0, tune_blocks=None,
                        sharpen=True):
    """A compiled `PerceptualTrainer` for Real-ESRGAN's `stage` (`"l1"` or `"gan"`)."""
    from dml_keras.models import UNetDiscriminator
    from dml_keras.workflows.perceptual import ADAM_BETAS, PerceptualTrainer

    if init is not None and not any(v is not None for v in arch_kwargs.values()):
        # the sizes of the network it starts from (a published generator's, say)
        start = load_sr_start(init, sample)
        generator = type(start).from_config(start.get_config())
        generator(sample)
        generator.set_weights(start.get_weights())
        if (generator.scale, generator.channels, generator.lr_size) != (scale, channels, lr_size):
            raise SetupError(f"--init {init}: it is a x{generator.scale} {generator.channels} network on "
                             f"{generator.lr_size}-size LR, not x{scale} {channels} on {lr_size}-size LR")
    else:
        generator = build_sr_model(arch, scale, channels, lr_size, **arch_kwargs)
        generator(sample)
        if init is not None:
            generator.set_weights(_initial_network(init, generator, sample).get_weights())
    if tune_blocks is not None:
        freeze_rrdb(generator, tune_blocks)
    weights = {k: v for k, v in STAGES[stage].items() if k != "learning_rate"}
    discriminator = None
    if stage == "gan":
        discriminator = UNetDiscriminator(filters=d_filters) if init_d is None else _initial_discriminator(init_d)
        upscaled = generator(sample)
        discriminator(upscaled, training=init_d is None)  # built; a fresh one's kernels spectrally normalized once
    trainer = PerceptualTrainer(generator, discriminator, sample, ema_decay=ema_decay, d_warmup=d_warmup,
                                color_weight=color_weight, sharpen=sharpen, **weights)

    def adam():
        return keras.optimizers.Adam(learning_rate, beta_1=ADAM_BETAS[0], beta_2=ADAM_BETAS[1])

    trainer.compile(adam(), adam() if discriminator is not None else None,
                    metrics=[PSNR(crop_border=scale), SSIM(crop_border=scale)], jit_compile=jit_compile)
    trainer(sample)
    return trainer


def load_sr_start(init, sample):
    """The SR model a run starts from (a preset name, `.keras` file or run folder), built on `sample`."""
    from dml_keras.loading import load_model

    start = load_model(init, kind="sr")
    start(sample)
    return start


def freeze_rrdb(generator, tune_blocks):
    """Train only the last `tune_blocks` RRDB blocks, the trunk's last convolution and the upsampler of
    `generator` (an `RRDBNet`); the first convolution and the other blocks stay as they are."""
    if not 0 <= tune_blocks <= len(generator.body):
        raise SetupError(f"--tune-blocks must be 0 to {len(generator.body)} (the network's RRDB blocks), "
                         f"not {tune_blocks}")
    generator.conv_first.trainable = False
    for block in generator.body[: len(generator.body) - tune_blocks]:
        block.trainable = False


def _initial_discriminator(init_d):
    """A `UNetDiscriminator` from a `.keras` file or Real-ESRGAN's `netD.pth`."""
    import keras as _keras

    from dml_keras.models import UNetDiscriminator

    path = os.fspath(init_d)
    if path.endswith((".pth", ".pt")):
        from dml_keras.weights.realesrgan import import_model

        network = import_model(path)
    elif os.path.isfile(path):
        network = _keras.models.load_model(path)
    else:
        raise DataError(f"--init-d '{path}' does not exist: give a U-Net discriminator (.keras, or "
                        "Real-ESRGAN's RealESRGAN_x4plus_netD.pth)")
    if not isinstance(network, UNetDiscriminator):
        raise DataError(f"--init-d '{path}' holds a {type(network).__name__}, not a U-Net discriminator")
    return network


def _center_crop_pair(lr, hr, size):
    """The central `size`² of HR (at most) and the LR under it, for example images."""
    factor = hr.shape[1] // lr.shape[1]

    def on_lr_grid(pixels):
        return pixels // factor * factor

    size = on_lr_grid(min(size, hr.shape[1], hr.shape[2]))
    top, left = on_lr_grid((hr.shape[1] - size) // 2), on_lr_grid((hr.shape[2] - size) // 2)
    return (lr[:, top // factor : (top + size) // factor, left // factor : (left + size) // factor],
            hr[:, top : top + size, left : left + size])


def evaluate_sr(model, pairs, scale=None, crop_border=None, lpips_net="alex", tile_size=512, progress=True):
    """PSNR/SSIM (Y, crop = `scale`), LPIPS and the low-pass colour error (`metrics.color_error`, RGB, 0-255) of
    an SR model on real test pairs (score files: docs/data.md).

    The input is each pair's LR file as stored (small, or already enlarged);
    large images run in tiles, so memory stays bounded. `model` may also be a
    folder of another upscaler's outputs named as the pairs (scored as they are).
    """
    from dml_keras.data.io import image_size, read_image

    if isinstance(model, (str, os.PathLike)):
        _, restore = _outputs_of(model, tile_size)
    else:
        scale = scale or model.scale

        def restore(name, lr, enlarged):
            return model.super_resolve(lr, tile_size, enlarged=enlarged)
    scale = scale or 4
    crop_border = scale if crop_border is None else crop_border
    pairs = resolve_pairs(pairs, scale)
    geometry = [pair_geometry(pair, scale, "same") for pair in pairs]  # fail before any work on a bad pair
    rows = []
    for pair, ((hr_h, hr_w), _) in tqdm(list(zip(pairs, geometry)), desc="evaluate-sr", unit="pair", disable=not progress):
        hr = read_image(pair.hr)[:hr_h, :hr_w]
        enlarged = image_size(pair.lr) == image_size(pair.hr)
        restored = restore(pair.name, read_image(pair.lr), enlarged)[:hr_h, :hr_w]
        row = {"name": pair.name, "psnr": psnr(restored, hr, crop_border), "ssim": ssim(restored, hr, crop_border),
               "color": color_error(restored, hr, crop_border)}
        if lpips_net and lpips_net != "none":
            row["lpips"] = lpips(restored, hr, net=lpips_net)
        rows.append(row)
    summary = {key: float(np.mean([r[key] for r in rows])) for key in rows[0] if key != "name"}
    return {**summary, "count": len(rows), "per_image": rows}


def upscale_files(model, inputs, out_dir, tile_size=512, progress=True):
    """Super-resolve image files and folders of them into `out_dir` as PNG, keeping each file's kind.

    Greyscale inputs give greyscale outputs and 16-bit inputs 16-bit outputs
    (8-bit otherwise); every output is `NAME.png`, written atomically.

    Args:
        model: an SR model (`load_model(..., kind="sr")`).
        inputs: image files and folders (their image files, in name order).

    Returns:
        the written paths.
    """
    from pathlib import Path

    from dml_keras.data.io import is_image_file, read_image, write_image

    files = []
    for item in inputs:
        path = Path(item)
        if not path.exists():
            raise DataError(f"'{path}' does not exist: give image files or folders of them.")
        found = sorted(p for p in path.iterdir() if is_image_file(p.name)) if path.is_dir() else [path]
        if not found:
            raise DataError(f"Folder '{path}' holds no image files (.png, .jpg, .tif, …): nothing to upscale.")
        files += found
    written = []
    for path in tqdm(files, desc="upscale", unit="image", disable=not progress):
        image, (greyscale, bit_depth) = read_image(path, with_format=True)  # one decode
        restored = model.super_resolve(image, tile_size=tile_size)
        target = os.path.join(out_dir, path.stem + ".png")
        # a grey photo stays grey through a Y model (its chroma is neutral); an RGB model's channels are averaged
        write_image(target, restored.mean(axis=-1) if greyscale else restored, bit_depth=bit_depth)
        written.append(target)
    return written


def _outputs_of(source, tile_size):
    """`(label, outputs(name, lr, enlarged))` for an SR model, or for a folder of another upscaler's outputs
    (matched by file name), so that published models can stand beside ours."""
    from pathlib import Path

    from dml_keras.data.io import is_image_file, read_image
    from dml_keras.loading import load_model
    from dml_keras.runtime import exported_format

    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    if path is not None and path.is_dir() and not (path / "model.keras").exists() and not exported_format(str(path)):
        files = {p.stem: p for p in path.iterdir() if is_image_file(p.name)}
        if not files:
            raise DataError(f"'{path}' is neither an SR model nor a folder of upscaled images")

        def stored(name, lr, enlarged):
            if name not in files:
                raise DataError(f"'{path}' has no output for '{name}' (expected {name}.png beside the others)")
            return read_image(files[name])

        return path.name, stored
    model = load_model(source, kind="sr")
    label = (path.parent.name if path.name == "model.keras" else path.stem) if path is not None else type(model).__name__
    return label, lambda name, lr, enlarged: model.super_resolve(lr, tile_size, enlarged=enlarged)


def compare_models(models, out_dir, pairs=None, images=(), labels=None, crop=192, scale=4, tile_size=512,
                   progress=True, labelled=True):
    """Side-by-side crops, LR | model A | model B | ... | HR, one PNG per photo in `out_dir`.

    Args:
        models: SR models (anything `load_model(..., kind="sr")` takes) or folders of another
            upscaler's outputs with the photos' file names.
        pairs: test pairs (any layout); their HR is the last panel.
        images: photos without ground truth (files or folders): LR | outputs.
        labels: one name per model (default: the file or folder name); `labelled=False` writes none.
        crop: side of the crop in output pixels; it is placed where HR (or the first output) has the
            most detail.

    Returns:
        the written paths.
    """
    from pathlib import Path

    from dml_keras.data.io import image_size, is_image_file, read_image, write_image
    from dml_keras.data.pairs import pair_geometry
    from dml_keras.visualization import compare_crops

    sources = [_outputs_of(model, tile_size) for model in models]
    names = list(labels) if labels else [label for label, _ in sources]
    if len(names) != len(sources):
        raise DataError(f"--labels gives {len(names)} names for {len(sources)} models")
    jobs = []
    for pair in resolve_pairs(pairs, scale) if pairs is not None else []:
        pair_geometry(pair, scale)  # LR the same size as HR or 1/scale of it, or one line naming the files
        jobs.append((pair.name, pair.lr, pair.hr))
    for item in images:
        item = Path(item)
        files = sorted(p for p in item.iterdir() if is_image_file(p.name)) if item.is_dir() else [item]
        jobs += [(p.stem, p, None) for p in files]
    if not jobs:
        raise DataError("nothing to compare: give test pairs (--pairs) or photos (--images)")
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for name, lr_path, hr_path in tqdm(jobs, desc="compare", unit="photo", disable=not progress):
        lr = read_image(lr_path)
        enlarged = hr_path is not None and image_size(lr_path) == image_size(hr_path)
        outputs = [outputs(name, lr, enlarged) for _, outputs in sources]
        hr = read_image(hr_path) if hr_path is not None else None
        size = (hr if hr is not None else outputs[0]).shape[:2]
        outputs = [o[: size[0], : size[1]] for o in outputs]
        figure = compare_crops(lr, outputs, hr, crop=crop,
                               labels=["LR"] + names + (["HR"] if hr is not None else []) if labelled else None)
        target = os.path.join(out_dir, f"{name}.png")
        write_image(target, figure)
        written.append(target)
    return written
