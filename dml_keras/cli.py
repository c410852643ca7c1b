"""The `dml` command line: argument parsing only; the work is done by the library."""

import argparse
import json
import os
import sys

NOT_YET = "is not available in this version of dml-keras yet"


def _scale(parser):
    parser.add_argument("--scale", type=int, default=4, help="SR factor of the pairs (default 4)")


def _json_out(parser):
    parser.add_argument("--json", metavar="FILE", help="also write the scores as JSON (DESIGN.md §5 format)")


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
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=lambda a: _not_yet("train-degradation"))


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
    p.add_argument("model")
    p.add_argument("hr_dir")
    p.add_argument("--out", required=True)
    p.add_argument("--noise-sigma", type=float, default=5.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard", default="0/1", help="I/N: process the I-th of N shards")
    p.set_defaults(handler=lambda a: _not_yet("synthesize"))

    p = sub.add_parser("train-sr", help="train VDSR or RCAN on real, synthetic or mixed pairs")
    p.add_argument("pairs_or_synth")
    p.add_argument("--out", required=True)
    p.add_argument("--arch", choices=("vdsr", "rcan"), default="vdsr")
    _scale(p)
    p.set_defaults(handler=lambda a: _not_yet("train-sr"))

    p = sub.add_parser("evaluate-sr", help="PSNR/SSIM/LPIPS of an SR model on real test pairs")
    p.add_argument("model")
    p.add_argument("pairs")
    _scale(p)
    p.add_argument("--crop-border", type=int, default=None)
    p.add_argument("--lpips", choices=("alex", "vgg", "none"), default="alex")
    _json_out(p)
    p.set_defaults(handler=lambda a: _not_yet("evaluate-sr"))

    p = sub.add_parser("upscale", help="super-resolve real photos of any size")
    p.add_argument("model")
    p.add_argument("inputs", nargs="+")
    p.add_argument("--out", required=True)
    p.add_argument("--tile", type=int, default=256)
    p.set_defaults(handler=lambda a: _not_yet("upscale"))

    p = sub.add_parser("export", help="write a SavedModel, TFLite or ONNX file")
    p.add_argument("model")
    p.add_argument("--format", choices=("savedmodel", "tflite", "onnx"), required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--quantize", choices=("none", "float16", "dynamic"), default="none")
    p.set_defaults(handler=lambda a: _not_yet("export"))

    p = sub.add_parser("tune", help="search the number of basis kernels with keras-tuner")
    p.add_argument("pairs")
    p.add_argument("--basis", default="4,8,16")
    p.set_defaults(handler=lambda a: _not_yet("tune"))

    p = sub.add_parser("visualize", help="figures of basis kernels, weight maps and per-pixel kernels")
    p.add_argument("model")
    p.add_argument("--image")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=lambda a: _not_yet("visualize"))


def _add_demo(sub):
    p = sub.add_parser("demo", help="run the main job on bundled photos and write a summary")
    p.add_argument("--out", default="dml_demo", help="output folder (default ./dml_demo)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_demo)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dml",
        description="Learn a real camera's degradation from a few HR/LR photo pairs (DML, ACCV 2020), "
        "synthesize realistic SR training pairs, train and evaluate SR networks.",
    )
    from dml_keras import __version__

    parser.add_argument("--version", action="version", version=f"dml-keras {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_train_degradation(sub)
    _add_evaluate_degradation(sub)
    _add_later_commands(sub)
    _add_demo(sub)
    return parser


def _not_yet(command):
    print(f"dml {command} {NOT_YET}.", file=sys.stderr)
    return 2


def _print_scores(scores, json_path):
    print(json.dumps({k: v for k, v in scores.items() if k != "per_image"}, indent=2))
    if json_path:
        os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
        with open(json_path, "w") as handle:
            json.dump(scores, handle, indent=2)


def _evaluate_degradation(args):
    from dml_keras.evaluation import evaluate_degradation
    from dml_keras.models import BUILTIN_BASELINES

    if args.model not in BUILTIN_BASELINES:
        return _not_yet("evaluate-degradation on saved models")
    model = BUILTIN_BASELINES[args.model](scale=args.scale, lr_size=args.lr_size)
    crop = 7 if args.crop_border is None else args.crop_border
    scores = evaluate_degradation(model, args.pairs, scale=args.scale, lr_size=args.lr_size, crop_border=crop)
    _print_scores(scores, args.json)
    return 0


def _demo(args):
    from dml_keras.demo import run_demo

    summary = run_demo(args.out, seed=args.seed)
    print(open(os.path.join(args.out, "summary.md")).read())
    print(f"Wrote {summary['count']} photo pairs and summary.md to {os.path.abspath(args.out)}")
    return 0


def main(argv=None):
    """Entry point of the `dml` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    from dml_keras.data.errors import DataError

    try:
        return args.handler(args)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
