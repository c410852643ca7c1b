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
from dml_keras.specs.recipes import ADAM_BETAS, STAGES
from dml_keras.workflows.fit import concrete_precision, fit_and_save, resumed_steps




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


def train_sr(out_dir, spec=None, *, callbacks=(), verbose="auto", **settings):
    """Train VDSR/RCAN/RRDBNet on real pairs, synthetic pairs, or a mix; resumable, logged, saved as
    `out_dir/model.keras`, with the resolved spec in `out_dir/spec.json`.

    `spec`: an `specs.SRRun`, or its flat settings as keywords (`SRRun.of`): `pairs`, `degradation` + `hr_dir`
    (on the fly), `synthetic_pairs` (from disk), `synthetic_fraction`, `arch`, `loss`, `init`, `steps`, … —
    each is documented on its part of the spec (`dml_keras.specs.sr`) and as a flag in `dml train-sr --help`.
    A setting left `None` comes from the named `recipe` (`specs.recipes`): SR_RECIPES for VDSR and RCAN,
    Real-ESRGAN's stages for RRDB and `loss="gan"`, FINETUNE when a published generator is fine-tuned
    (`init` with `loss="gan"` and no sizes). `callbacks` are Keras callbacks added to the run's own.
    Under JAX or PyTorch every pair source works too (NumPy streams that yield the `tf.data` batches).
    """
    from dml_keras.specs.sr import SRRun

    if spec is not None and settings:
        raise SetupError(f"give train_sr a spec or settings, not both (settings: {', '.join(settings)})")
    spec = (spec or SRRun.of(**settings)).resolved()
    strategy = resolve_strategy(spec.execution.strategy)  # what cannot run is refused before any work is done
    check_jit_compile(strategy, spec.execution.jit_compile)
    keras.utils.set_random_seed(spec.execution.seed)
    os.makedirs(out_dir, exist_ok=True)
    spec = concrete_precision(out_dir, spec)
    schedule, geometry = spec.schedule, spec.geometry
    resumed = resumed_steps(out_dir, schedule)
    validation = None
    if spec.data.val_pairs is not None:
        validation = whole_pairs(resolve_pairs(spec.data.val_pairs, geometry.scale), geometry.scale,
                                 geometry.lr_size, geometry.channels, order="lr")
    spec, degradation = _with_degradation(spec)
    train, first = _training_stream(spec, degradation, resumed)
    sample_lr, sample_hr = first_batch(validation or first)
    sample_lr, sample_hr = _center_crop_pair(sample_lr[:1], sample_hr[:1], 256)
    with training_scope(strategy, spec.execution.mixed_precision) as (strategy, policy):
        network = _network(spec, sample_lr, train, degradation, strategy, policy)
    network_of = ((lambda trainer: trainer.ema_generator) if spec.perceptual else
                  (lambda wrapper: wrapper.network) if spec.in_step else None)
    if schedule.collapse_drop and validation is not None:
        from dml_keras.callbacks import CollapseGuard

        callbacks = [CollapseGuard(schedule.collapse_drop, network_of)] + list(callbacks)
    return fit_and_save(network, strategy, policy, out_dir, spec, train, validation, (sample_lr, sample_hr, "lr_sr_hr"),
                        callbacks, verbose, network_of=network_of)


def _with_degradation(spec):
    """The spec with the noise the degradation model takes by default, and the model (None without one)."""
    from dml_keras.data.synthesis import default_noise_sigma
    from dml_keras.loading import load_model

    if spec.data.degradation is None:
        return spec, None
    geometry = spec.geometry
    model = load_model(spec.data.degradation, kind="degradation", scale=geometry.scale, lr_size=geometry.lr_size,
                       noise=spec.synthesis.noise_model)
    if spec.synthesis.noise_sigma is None:
        spec = spec.set("noise_sigma", default_noise_sigma(model))
    return spec, model


def _training_stream(spec, model, resumed_steps):
    """The training batches, resumed where the run stopped (every draw is stateless: the same batches), and a
    stream whose first batch is an example when there is no validation."""
    from dml_keras.data.synthetic_batches import MixedBatches, synthetic_batches

    data, synthesis, geometry = spec.data, spec.synthesis, spec.geometry
    scale, patch, batch, seed = geometry.scale, spec.crops.patch_size, spec.crops.batch_size, spec.execution.seed
    clean = dict(patch_size=patch, batch_size=batch, channels=geometry.channels, noise_sigma=synthesis.noise_sigma,
                 seed=seed, noise_resolution=synthesis.noise_resolution, crops_per_image=synthesis.crops_per_image)
    files = [source for source in (data.pairs, data.synthetic_pairs) if source is not None]
    if spec.in_step:  # clean crops and their noise; the step degrades them (trainers.in_step)
        return (synthetic_batches(model, data.hr_dir, **clean, start=resumed_steps, in_step=True),
                synthetic_batches(model, data.hr_dir, **clean))
    if not tf_data_backend():
        start = 0 if spec.mixing else resumed_steps  # a mix goes on where it stopped, its streams from their start
        streams = [training_crops(resolve_pairs(source, scale), scale, patch, batch, geometry.lr_size,
                                  geometry.channels, seed, cache=True, order="lr", start=start) for source in files]
        if model is not None:
            streams.append(synthetic_batches(model, data.hr_dir, **clean, start=start))
        train = (MixedBatches(*streams, data.synthetic_fraction, batch, seed, start=resumed_steps) if spec.mixing
                 else streams[0])
        return train, train
    from dml_keras.data.sr_pipeline import mixed_sr_dataset, real_sr_dataset, synthetic_sr_dataset

    streams = [real_sr_dataset(resolve_pairs(source, scale), scale, patch, batch, geometry.lr_size,
                               geometry.channels, seed, batch=not spec.mixing) for source in files]
    if model is not None:
        streams.append(synthetic_sr_dataset(model, data.hr_dir, patch, batch, geometry.channels,
                                            synthesis.noise_sigma, seed=seed, batch=not spec.mixing,
                                            noise_resolution=synthesis.noise_resolution,
                                            crops_per_image=synthesis.crops_per_image))
    train = mixed_sr_dataset(*streams, data.synthetic_fraction, batch, seed) if spec.mixing else streams[0]
    train = train.skip(resumed_steps)
    return train, train


def _network(spec, sample, train, degradation, strategy, policy):
    """The compiled network the run trains: a `PerceptualTrainer` (Real-ESRGAN's recipe), the SR network
    wrapped with the degradation (`--synthesis in-step`), or the SR network itself."""
    if spec.perceptual:
        if strategy.num_replicas_in_sync > 1 or policy == "mixed_float16":
            raise SetupError("Real-ESRGAN's recipe (--arch rrdb, --loss gan) trains on one device, in float32 "
                             "or mixed_bfloat16 (mixed_float16 would need loss scaling)")
        return _perceptual_trainer(spec, sample)
    geometry, scale = spec.geometry, spec.geometry.scale
    network = build_sr_model(spec.network.arch, scale, geometry.channels, geometry.lr_size, **spec.network.sizes)
    network(sample)  # built before its start is copied in and BackupAndRestore restores weights into it
    if spec.start.init is not None:
        network.set_weights(_initial_network(spec.start.init, network, sample).get_weights())
    if spec.in_step:
        from dml_keras.trainers.in_step import InStepSynthesis

        network = InStepSynthesis(network, degradation, train.margin, spec.crops.patch_size)
        network(first_batch(train)[0])  # built before BackupAndRestore restores weights into it
    loss = spec.objective.loss if spec.objective.loss in ("l1", "l2") else spec.architecture.loss
    network.compile(optimizer=keras.optimizers.Adam(spec.optimization.learning_rate), loss={"l2": "mse", "l1": "mae"}[loss],
                    metrics=[PSNR(crop_border=scale), SSIM(crop_border=scale)], jit_compile=spec.execution.jit_compile)
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


def _perceptual_trainer(spec, sample):
    """A compiled `PerceptualTrainer` for Real-ESRGAN's stage of `spec` (`"l1"` or `"gan"`)."""
    from dml_keras.models import UNetDiscriminator
    from dml_keras.trainers.perceptual import PerceptualTrainer

    geometry, start, init = spec.geometry, spec.start, spec.start.init
    if init is not None and not spec.network.sizes:  # the sizes of the network it starts from (a published one)
        loaded = load_sr_start(init, sample)
        generator = type(loaded).from_config(loaded.get_config())
        generator(sample)
        generator.set_weights(loaded.get_weights())
        if (generator.scale, generator.channels, generator.lr_size) != (geometry.scale, geometry.channels,
                                                                         geometry.lr_size):
            raise SetupError(f"--init {init}: it is a x{generator.scale} {generator.channels} network on "
                             f"{generator.lr_size}-size LR, not x{geometry.scale} {geometry.channels} on "
                             f"{geometry.lr_size}-size LR")
    else:
        generator = build_sr_model(spec.network.arch, geometry.scale, geometry.channels, geometry.lr_size,
                                   **spec.network.sizes)
        generator(sample)
        if init is not None:
            generator.set_weights(_initial_network(init, generator, sample).get_weights())
    if start.tune_blocks is not None:
        freeze_rrdb(generator, start.tune_blocks)
    weights = {k: v for k, v in STAGES[spec.stage].items() if k != "learning_rate"}
    discriminator = None
    if spec.stage == "gan":
        discriminator = (UNetDiscriminator(filters=spec.objective.d_filters) if start.init_d is None
                         else _initial_discriminator(start.init_d))
        # built; a fresh one's kernels spectrally normalized once
        discriminator(generator(sample), training=start.init_d is None)
    trainer = PerceptualTrainer(generator, discriminator, sample, ema_decay=spec.average.ema_decay,
                                d_warmup=start.d_warmup, color_weight=spec.objective.color_weight,
                                sharpen=spec.objective.sharpen, **weights)

    def adam():
        return keras.optimizers.Adam(spec.optimization.learning_rate, beta_1=ADAM_BETAS[0], beta_2=ADAM_BETAS[1])

    trainer.compile(adam(), adam() if discriminator is not None else None, metrics=[
        PSNR(crop_border=geometry.scale), SSIM(crop_border=geometry.scale)], jit_compile=spec.execution.jit_compile)
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
    from dml_keras.data.io import image_files, read_image, write_image

    files = image_files(inputs)
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
    from dml_keras.data.io import image_files, image_size, read_image, write_image
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
    jobs += [(p.stem, p, None) for p in image_files(images)]
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
