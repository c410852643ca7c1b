"""The `dml` command line: argument parsing only; the work is done by the library."""

import argparse
import json
import os
import sys


def _scale_out(parser):
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default="default",
                        help="mirrored: all local GPUs (or logical CPUs); --batch-size is the global batch. "
                             "multiworker: several machines, cluster in TF_CONFIG (docs/scaling.md)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="compute in float16 (GPU) or bfloat16 (CPU), keep float32 weights; the saved model is float32")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the training step with XLA (one device only; slower on CPU here; try it on GPU)")


def _scale(parser):
    parser.add_argument("--scale", type=int, default=4, help="SR factor of the pairs (default 4)")


def _json_out(parser):
    parser.add_argument("--json", metavar="FILE", help="also write the scores as JSON (format: docs/data.md, score files)")


def _noise_model(parser):
    parser.add_argument("--noise-model", choices=("white", "handcrafted"), default="white",
                        help="white: AWGN of --noise-sigma after the learned degradation (the paper); handcrafted: "
                             "Real-ESRGAN's random Gaussian/Poisson noise and JPEG at capture size after the learned blur")


def _noise_sigma(text):
    """--noise-sigma as a number or a range; None leaves the model's default (`default_noise_sigma`)."""
    if text is None:
        return None
    sigma = _numbers(text, float)
    return sigma[0] if len(sigma) == 1 else tuple(sigma)


def _lr_size(parser):
    parser.add_argument("--lr-size", choices=("same", "native"), default="same",
                        help="'same': LR enlarged to HR size (the paper); 'native': LR stays 1/scale")


def _add_train_degradation(sub):
    p = sub.add_parser("train-degradation", help="learn a camera's degradation from real HR/LR pairs")
    p.add_argument("pairs", help="RealSR root, folder with hr/ and lr/, City100 folder, or CSV (hr,lr)")
    p.add_argument("--out", required=True, help="output folder (checkpoints, logs, model.keras)")
    _scale(p)
    p.add_argument("--model", choices=("dml", "directnet", "directkpn", "global-kernel"), default="dml")
    p.add_argument("--basis", type=int, default=8, help="number of basis kernels M (default 8)")
    p.add_argument("--kernel-size", type=int, default=15, help="basis kernel size K, odd (default 15)")
    p.add_argument("--channels", choices=("y", "rgb"), default="y")
    _lr_size(p)
    p.add_argument("--patch-size", type=int, default=192)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--steps", type=int, default=100_000, help="optimisation steps (paper: 100000)")
    p.add_argument("--steps-per-epoch", type=int, default=500, help="steps between logs/validation/checkpoints")
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--val", metavar="PAIRS", help="held-out validation pairs")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="hold out every round(1/f)-th pair of PAIRS for validation instead of --val")
    p.add_argument("--basis-init", choices=("uniform", "gaussian"), default="uniform",
                   help="basis initialisation (dml): 'uniform' as the paper, or a Gaussian family")
    p.add_argument("--basis-constraint", choices=("none", "simplex"), default="none",
                   help="'simplex': keep each basis kernel non-negative with unit sum")
    p.add_argument("--weight-init", choices=("uniform_mix", "half"), default="uniform_mix",
                   help="dml: start per-pixel weights at 1/M (kernel sums to 1) or at 0.5 as the authors' code")
    p.add_argument("--unit-sum-kernels", action="store_true",
                   help="dml: every per-pixel kernel sums to 1 (softmax weights over unit-sum basis kernels)")
    p.add_argument("--tone-offset", action="store_true",
                   help="dml: also learn a bounded per-pixel exposure offset (docs/degradation.md)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="one line per epoch instead of a progress bar")
    _scale_out(p)
    p.set_defaults(handler=_train_degradation)


def _add_evaluate_degradation(sub):
    p = sub.add_parser("evaluate-degradation", help="score generated LR against real LR on held-out pairs")
    p.add_argument("model", help="a saved model, or a built-in baseline: identity, bicubic")
    p.add_argument("pairs", help="pairs to score (any layout accepted by train-degradation)")
    _scale(p)
    _lr_size(p)
    p.add_argument("--crop-border", type=int, default=None, help="pixels ignored on each side (default K // 2 = 7)")
    _json_out(p)
    p.set_defaults(handler=_evaluate_degradation)


def _add_later_commands(sub):
    p = sub.add_parser("synthesize", help="degrade clean HR photos into realistic LR, to disk")
    p.add_argument("model", help="a saved degradation model (.keras, or exported: SavedModel folder, .tflite, .onnx), "
                                 "or a built-in: identity, bicubic, handcrafted (Real-ESRGAN's random second-order degradation)")
    p.add_argument("hr_dir", help="folder of clean photos (any size)")
    p.add_argument("--out", required=True, help="writes OUT/hr and OUT/lr with the same file names")
    p.add_argument("--noise-sigma", default=None,
                   help="AWGN sigma on the 0-255 scale, or a range LOW,HIGH drawn per image "
                        "(default 5 as the paper; 0 for degradations that add their own noise)")
    _noise_model(p)
    _lr_size(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard", default="0/1", help="I/N: process the I-th of N shards (files at positions i %% N == I)")
    p.add_argument("--noise-resolution", choices=("native", "output"), default="output",
                   help="white noise at the LR's size (default, the paper), or drawn at capture size and enlarged")
    p.add_argument("--no-quantize", action="store_true", help="store 16-bit LR instead of 8-bit")
    p.add_argument("--tile", type=int, default=512, help="tile size for large photos")
    _scale(p)
    p.set_defaults(handler=_synthesize)

    p = sub.add_parser("train-sr", help="train VDSR or RCAN on real, synthetic or mixed pairs")
    p.add_argument("pairs_or_synth", nargs="?",
                   help="real pairs, or the output of `dml synthesize` (any pair layout); optional with --degradation")
    p.add_argument("synthetic_pairs", nargs="?",
                   help="also: synthesized pairs (`dml synthesize` output) mixed with the first at --synthetic-fraction")
    p.add_argument("--out", required=True)
    p.add_argument("--arch", choices=("vdsr", "rcan"), default="vdsr")
    _scale(p)
    p.add_argument("--degradation", metavar="MODEL",
                   help="make pairs on the fly with this degradation model from --hr-dir: a saved one, or a built-in "
                        "(bicubic, handcrafted)")
    p.add_argument("--hr-dir", help="clean HR photos for on-the-fly synthesis")
    p.add_argument("--synthetic-fraction", type=float, default=0.5,
                   help="share of synthetic pairs when real pairs and synthetic ones (--degradation or a second "
                        "folder) are both given")
    p.add_argument("--noise-sigma", default=None,
                   help="AWGN sigma (0-255 scale) of synthetic LR, or LOW,HIGH "
                        "(default 5 as the paper; 0 for degradations that add their own noise)")
    _noise_model(p)
    p.add_argument("--noise-resolution", choices=("native", "output"), default="output",
                   help="white noise at the LR's size (default, the paper), or drawn at capture size and enlarged")
    p.add_argument("--crops-per-image", type=int, default=4,
                   help="on-the-fly synthesis: crops cut from each decoded HR photo (decoding dominates with large photos)")
    p.add_argument("--channels", choices=("y", "rgb"), default="y")
    _lr_size(p)
    p.add_argument("--patch-size", type=int, default=48, help="HR crop size")
    p.add_argument("--batch-size", type=int, default=None, help="default 16 for VDSR, 2 for RCAN (the paper)")
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--steps-per-epoch", type=int, default=500)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--depth", type=int, help="VDSR: number of convolutions (20)")
    p.add_argument("--filters", type=int, help="channels of hidden layers (64)")
    p.add_argument("--groups", type=int, help="RCAN: residual groups (5)")
    p.add_argument("--blocks", type=int, help="RCAN: blocks per group (10)")
    p.add_argument("--val", metavar="PAIRS", help="real validation pairs (PSNR/SSIM each epoch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    _scale_out(p)
    p.set_defaults(handler=_train_sr)

    p = sub.add_parser("evaluate-sr", help="PSNR/SSIM/LPIPS of an SR model on real test pairs")
    p.add_argument("model", help="a saved SR model (.keras or its training folder), or an exported one (SavedModel, .tflite, .onnx)")
    p.add_argument("pairs")
    _scale(p)
    p.add_argument("--crop-border", type=int, default=None, help="default: scale")
    p.add_argument("--lpips", choices=("alex", "vgg", "none"), default="alex")
    p.add_argument("--tile", type=int, default=512, help="tile size in input pixels (each runs with 32 px of context)")
    _json_out(p)
    p.set_defaults(handler=_evaluate_sr)

    p = sub.add_parser("upscale", help="super-resolve real photos of any size")
    p.add_argument("model", help="a saved SR model (.keras or its training folder), or an exported one (SavedModel, .tflite, .onnx)")
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True)
    p.add_argument("--tile", type=int, default=512, help="tile size in input pixels (each runs with 32 px of context)")
    p.set_defaults(handler=_upscale)

    p = sub.add_parser("export", help="write a SavedModel, TFLite or ONNX file")
    p.add_argument("model", help="a saved degradation or SR model (.keras or its training folder)")
    p.add_argument("--format", choices=("savedmodel", "tflite", "onnx"), required=True)
    p.add_argument("--out", required=True, help="folder (savedmodel) or file (.tflite, .onnx)")
    p.add_argument("--quantize", choices=("none", "float16", "dynamic"), default="none", help="TFLite weights")
    p.set_defaults(handler=_export)

    p = sub.add_parser("tune", help="search the number of basis kernels with keras-tuner")
    p.add_argument("pairs")
    p.add_argument("--out", default="dml_tuning", help="folder for the search state and tuning.json/tuning.md")
    p.add_argument("--basis", default="4,8,16", help="comma-separated numbers of basis kernels to try")
    p.add_argument("--kernel-sizes", default="15", help="comma-separated odd kernel sizes to try")
    p.add_argument("--learning-rates", default="1e-4", help="comma-separated learning rates to try")
    _scale(p)
    p.add_argument("--channels", choices=("y", "rgb"), default="y")
    _lr_size(p)
    p.add_argument("--patch-size", type=int, default=96)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--steps", type=int, default=1000, help="training steps per trial")
    p.add_argument("--val-fraction", type=float, default=0.2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_tune)

    p = sub.add_parser("visualize", help="figures of basis kernels, weight maps and per-pixel kernels")
    p.add_argument("model", help="a saved degradation model (.keras or its training folder)")
    p.add_argument("--image", help="photo to show weight maps and per-pixel kernels on (default: scikit-image's astronaut)")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=_visualize)


def _add_demo(sub):
    p = sub.add_parser("demo", help="run the main job on bundled photos and write a summary")
    p.add_argument("--out", default="dml_demo", help="output folder (default ./dml_demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", help="folder with the shipped models (default: ./saved_models or the checkout's)")
    p.add_argument("--image", help="also upscale this photo of yours with the shipped SR model")
    p.set_defaults(handler=_demo)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dml",
        description="Learn a real camera's degradation from a few HR/LR photo pairs (DML, ACCV 2020), "
        "synthesize realistic SR training pairs, train and evaluate SR networks.",
    )
    from dml_keras import __version__

    parser.add_argument("--version", action="version", version=f"dml-keras {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up logs (hidden unless TF_CPP_MIN_LOG_LEVEL is set)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_train_degradation(sub)
    _add_evaluate_degradation(sub)
    _add_later_commands(sub)
    _add_demo(sub)
    return parser


def _print_scores(scores, json_path):
    print(json.dumps({k: v for k, v in scores.items() if k != "per_image"}, indent=2))
    if json_path:
        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w") as handle:
            json.dump(scores, handle, indent=2)


def _train_degradation(args):
    from dml_keras.training import train_degradation

    model_kwargs = {}
    if args.model == "dml":
        model_kwargs = dict(
            basis_initializer=args.basis_init,
            basis_constraint=None if args.basis_constraint == "none" else args.basis_constraint,
            tone_offset=args.tone_offset,
            weight_init=args.weight_init,
            unit_sum_kernels=args.unit_sum_kernels,
        )
    train_degradation(
        args.pairs, args.out, model=args.model, scale=args.scale, num_basis=args.basis,
        kernel_size=args.kernel_size, channels=args.channels, lr_size=args.lr_size,
        patch_size=args.patch_size, batch_size=args.batch_size, steps=args.steps,
        steps_per_epoch=args.steps_per_epoch, learning_rate=args.learning_rate,
        val_pairs=args.val, val_fraction=args.val_fraction, seed=args.seed,
        verbose=2 if args.quiet else "auto", strategy=args.strategy, mixed_precision=args.mixed_precision,
        jit_compile=True if args.jit_compile else "auto", **model_kwargs,
    )
    _report_saved(args)
    return 0


def _report_saved(args):
    from dml_keras.distribute import writes_outputs

    path = os.path.join(args.out, "model.keras")
    print(f"Saved {path}" if writes_outputs(args.strategy) else f"Done; the first worker saves {path}")


def _evaluate_degradation(args):
    from dml_keras.evaluation import evaluate_degradation, load_degradation_model

    model = load_degradation_model(args.model, scale=args.scale, lr_size=args.lr_size)
    crop = getattr(model, "kernel_size", 15) // 2 if args.crop_border is None else args.crop_border
    scale, lr_size = getattr(model, "scale", args.scale), getattr(model, "lr_size", args.lr_size)
    scores = evaluate_degradation(model, args.pairs, scale=scale, lr_size=lr_size, crop_border=crop)
    _print_scores(scores, args.json)
    return 0


def _synthesize(args):
    from dml_keras.data.synthesis import parse_shard, synthesize_folder
    from dml_keras.evaluation import load_degradation_model

    model = load_degradation_model(args.model, scale=args.scale, lr_size=args.lr_size, noise=args.noise_model)
    names = synthesize_folder(
        model, args.hr_dir, args.out, noise_sigma=_noise_sigma(args.noise_sigma), seed=args.seed,
        shard=parse_shard(args.shard), quantize=not args.no_quantize, tile_size=args.tile,
        noise_resolution=args.noise_resolution,
    )
    print(f"{len(names)} pairs in {os.path.abspath(args.out)}")
    return 0


def _load_sr(path, exported_ok=True):
    """A saved SR model: `.keras` (or a training folder), or with `exported_ok` an exported SavedModel/TFLite/ONNX."""
    import keras

    import dml_keras.models  # noqa: F401  (registers the classes)
    from dml_keras.data.errors import DataError
    from dml_keras.export import ExportedModel, exported_format

    if exported_format(path):
        if not exported_ok:
            raise DataError(f"'{path}' is already an exported model; give the .keras file it was exported from.")
        return ExportedModel(path, kind="sr")
    path = os.path.join(path, "model.keras") if os.path.isdir(path) else path
    if not os.path.isfile(path):
        raise DataError(f"SR model '{path}' does not exist. Give a .keras file written by `dml train-sr` (or its --out folder).")
    return keras.models.load_model(path)


def _train_sr(args):
    from dml_keras.sr import train_sr

    if args.pairs_or_synth is None and args.degradation is None:
        print("error: give real pairs (PAIRS_OR_SYNTH), or --degradation MODEL with --hr-dir, or both", file=sys.stderr)
        return 2
    train_sr(
        args.out, pairs=args.pairs_or_synth, degradation=args.degradation, hr_dir=args.hr_dir,
        synthetic_pairs=args.synthetic_pairs,
        synthetic_fraction=args.synthetic_fraction, arch=args.arch, scale=args.scale, channels=args.channels,
        lr_size=args.lr_size, patch_size=args.patch_size, batch_size=args.batch_size, steps=args.steps,
        steps_per_epoch=args.steps_per_epoch, learning_rate=args.learning_rate,
        noise_sigma=_noise_sigma(args.noise_sigma), noise_model=args.noise_model, noise_resolution=args.noise_resolution,
        val_pairs=args.val, seed=args.seed,
        verbose=2 if args.quiet else "auto", depth=args.depth, filters=args.filters, num_groups=args.groups,
        num_blocks=args.blocks, strategy=args.strategy, mixed_precision=args.mixed_precision,
        crops_per_image=args.crops_per_image, jit_compile=True if args.jit_compile else "auto",
    )
    _report_saved(args)
    return 0


def _evaluate_sr(args):
    from dml_keras.sr import evaluate_sr

    model = _load_sr(args.model)
    scores = evaluate_sr(model, args.pairs, scale=model.scale, crop_border=args.crop_border,
                         lpips_net=args.lpips, tile_size=args.tile)
    _print_scores(scores, args.json)
    return 0


def _upscale(args):
    from pathlib import Path

    from tqdm.auto import tqdm

    from dml_keras.data.io import is_image_file, read_image, write_image
    from dml_keras.sr import super_resolve

    model = _load_sr(args.model)
    files = []
    for item in args.inputs:
        path = Path(item)
        files += sorted(p for p in path.iterdir() if is_image_file(p.name)) if path.is_dir() else [path]
    for path in tqdm(files, desc="upscale", unit="image"):
        target = os.path.join(args.out, path.stem + ".png")
        write_image(target, super_resolve(model, read_image(path), tile_size=args.tile))
    print(f"{len(files)} images in {os.path.abspath(args.out)}")
    return 0


def _export(args):
    from dml_keras.export import export_model

    model = _load_sr(args.model, exported_ok=False)
    report = export_model(model, args.out, args.format, args.quantize)
    print(json.dumps(report, indent=2))
    return 0


def _numbers(text, kind):
    return [kind(v) for v in text.split(",") if v.strip()]


def _tune(args):
    from dml_keras.tuning import format_table, tune_degradation

    rows = tune_degradation(
        args.pairs, args.out, num_basis=_numbers(args.basis, int), kernel_sizes=_numbers(args.kernel_sizes, int),
        learning_rates=_numbers(args.learning_rates, float), scale=args.scale, channels=args.channels,
        lr_size=args.lr_size, patch_size=args.patch_size, batch_size=args.batch_size, steps=args.steps,
        val_fraction=args.val_fraction, seed=args.seed, verbose=1,
    )
    table = format_table(rows)
    with open(os.path.join(args.out, "tuning.md"), "w") as handle:
        handle.write(table + "\n")
    print(table)
    return 0


def _visualize(args):
    from dml_keras.data.io import read_image
    from dml_keras.evaluation import load_degradation_model
    from dml_keras.models import DegradationBase
    from dml_keras.visualization import visualize

    model = load_degradation_model(args.model)
    if not isinstance(model, DegradationBase):
        print(f"error: '{args.model}' is a built-in baseline; visualize needs a learned model", file=sys.stderr)
        return 2
    if args.image:
        image = read_image(args.image)
    else:
        from dml_keras.demo import demo_photos

        image = demo_photos(["astronaut"])["astronaut"]
    for name, path in visualize(model, image, args.out).items():
        print(f"{name}: {path}")
    return 0


def _demo(args):
    from dml_keras.demo import run_demo

    summary = run_demo(args.out, seed=args.seed, models_dir=args.models, image=args.image)
    print(open(os.path.join(args.out, "summary.md")).read())
    print(f"Wrote {summary['count']} photo pairs and summary.md to {os.path.abspath(args.out)}")
    return 0


def _wrapped_data_error(error):
    text = str(error)
    marker = "DataError: "
    if marker not in text:
        return None
    return text.split(marker, 1)[1].splitlines()[0].strip()


def _import_tensorflow_quietly():
    """Import TensorFlow and find its devices with stderr muted: no screen of C++ start-up logs
    (oneDNN, CUDA probing, absl) before the work. Kept when `TF_CPP_MIN_LOG_LEVEL` is set or with `--verbose`."""
    if "TF_CPP_MIN_LOG_LEVEL" in os.environ or "tensorflow" in sys.modules:
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                import tensorflow as tf

                tf.config.list_physical_devices()
            except ImportError:
                pass  # reported where it is needed, with stderr back
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def main(argv=None):
    """Entry point of the `dml` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    if not args.verbose:
        _import_tensorflow_quietly()
    from dml_keras.data.errors import DataError

    try:
        return args.handler(args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except ImportError as error:  # an optional extra that is not installed says how to get it
        if "pip install" not in str(error):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # a DataError raised inside a tf.data pipeline arrives wrapped
        message = _wrapped_data_error(error)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
