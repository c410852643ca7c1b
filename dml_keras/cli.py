"""The `dml` command line: argument parsing only; the work is done by the library."""

import argparse
import json
import os
import sys

from dml_keras.names import (AUGMENTATIONS, BUILTIN_DEGRADATIONS, CHANNELS, DEGRADATION_MODELS, SR_ARCHS, SR_LOSSES,
                             STRATEGIES)
from dml_keras.ops.tiling import TILE_MARGIN
from dml_keras.specs.recipes import FINETUNE, RECIPES, SR_BATCH_SIZES, SR_RECIPES, TUNE_TRIAL

_SR_DEFAULT, _SR_PAPER = SR_RECIPES["default"].settings(), SR_RECIPES["paper"].settings()
_DEFAULT, _LARGE, _PAPER = (RECIPES[name].settings() for name in ("default", "large", "paper"))


def _rate(value):
    """A learning rate as people write it: 1e-4, 2e-4."""
    return f"{value:.0e}".replace("e-0", "e-")


def _scale_out(parser):
    parser.add_argument("--strategy", choices=STRATEGIES, default="default",
                        help="mirrored: all local GPUs (or logical CPUs); --batch-size is the global batch. "
                             "multiworker: several processes or machines under KERAS_BACKEND=jax, cluster in TF_CONFIG "
                             "(docs/scaling.md)")
    parser.add_argument("--mixed-precision", action=argparse.BooleanOptionalAction, default=None,
                        help="compute in float16 (GPU) or bfloat16 (CPU), keep float32 weights; the saved model is "
                             "float32. Default: off, but when fine-tuning a published generator on a CPU, on where "
                             "bfloat16 measures 1.25x faster than float32 on this machine (about a second to measure)")
    parser.add_argument("--jit-compile", action="store_true",
                        help="compile the training step with XLA (one device only; slower on CPU here; try it on GPU)")


def _config(parser):
    parser.add_argument("--config", metavar="SPEC_JSON",
                        help="replay a run: every setting (data included) from the spec.json (or training.json) a "
                             "run wrote; flags given as well override single values. --out a new folder (the same "
                             "one resumes)")
    parser.add_argument("--set", action="append", metavar="PATH=VALUE",
                        help="set one setting of the run spec by its path in spec.json or its name, after --config "
                             "and the flags: --set crops.patch_size=96 --set schedule.steps=500 (repeatable; "
                             "docs/specs.md)")


# The training commands' flags whose dest is not the name of their setting in the run spec (`specs.*.PATHS`);
# every other flag of the command is the setting of its name, but for _NOT_SETTINGS, which say how to run
_SPEC_FLAGS = {
    "train-sr": {"pairs_or_synth": "pairs", "val": "val_pairs", "groups": "num_groups", "blocks": "num_blocks"},
    "train-degradation": {"val": "val_pairs", "basis": "num_basis", "basis_init": "basis_initializer"},
    "synthesize": {"out": "out_dir", "tile": "tile_size"},
}
# flags that say how to run, not what: for synthesize, the format and the split of the work (the pairs are the same)
_NOT_SETTINGS = {"command", "handler", "verbose", "out", "config", "set", "quiet", "format", "shard", "runner",
                 "beam_args"}
# the training.json of runs from before spec.json (still replayed): keys that a flag of another name sets, per
# command; the other keys are flags of the same name
_CONFIG_FLAGS = {command: {**{setting: dest for dest, setting in flags.items()}, "val_source": "val"}
                 for command, flags in _SPEC_FLAGS.items() if command.startswith("train-")}
_CONFIG_FLAGS["train-degradation"]["pairs_source"] = "pairs"
# keys that record how a run went, not what to do: read back as below or not at all
_CONFIG_RECORDS = {"train_pairs", "val_pairs", "replicas", "workers", "solver", "val_psnr", "precision", "backend"}


def _spec_class(command):
    from dml_keras.specs import DegradationRun, SRRun, SynthesisRun

    return {"train-sr": SRRun, "train-degradation": DegradationRun, "synthesize": SynthesisRun}[command]


def _spec_of(args):
    """The run spec of a command's parsed flags (`_SPEC_FLAGS`)."""
    flags = _SPEC_FLAGS[args.command]
    settings = {flags.get(dest, dest): value for dest, value in vars(args).items()
                if dest not in _NOT_SETTINGS or dest in flags}
    if "jit_compile" in settings:
        settings["jit_compile"] = True if args.jit_compile else "auto"
    if "noise_sigma" in settings:  # text, from the flag, --config or --set
        settings["noise_sigma"] = _noise_sigma(settings["noise_sigma"])
    return _spec_class(args.command).of(**settings)


def _config_defaults(command, dests, path):
    """The flag values that replay the run recorded in `path` (a run's spec.json or training.json); `dests`: the
    command's options."""
    from dml_keras.errors import DataError, SetupError

    try:
        with open(path) as handle:
            recorded = json.load(handle)
    except (OSError, ValueError) as error:
        raise DataError(f"Cannot read run settings '{path}': {error}. Give the spec.json or training.json a run "
                        "wrote.") from None
    names, records = _CONFIG_FLAGS.get(command, {}), _CONFIG_RECORDS  # a training.json's flag names and run records
    if isinstance(recorded, dict) and "spec" in recorded:
        try:
            recorded = _spec_class(command).from_dict(recorded, where=f"'{path}'").flat()
        except SetupError as error:
            raise DataError(str(error)) from None
        if "jit_compile" in recorded:
            recorded["jit_compile"] = recorded["jit_compile"] is True
        names, records = {setting: dest for dest, setting in _SPEC_FLAGS[command].items()}, set()
    elif command not in _CONFIG_FLAGS:
        raise DataError(f"'{path}' is not a {command} spec: give the spec.json a dml {command} run wrote.")
    family_key = "arch" if command == "train-sr" else "model"
    if not isinstance(recorded, dict) or family_key not in recorded:
        other = "train-sr" if command == "train-degradation" else "train-degradation"
        raise DataError(f"'{path}' is not the training.json of a {command} run (use it with dml {other}).")
    defaults = {}
    for key, value in recorded.items():
        if key == "precision":
            defaults["mixed_precision"] = value not in (None, "float32")
            continue
        if key in records or value is None:
            continue
        dest = names.get(key, key)
        if dest not in dests:
            raise DataError(f"'{path}': key '{key}' is not a setting of dml {command}. Remove it, or fix its name.")
        defaults[dest] = ",".join(str(v) for v in value) if isinstance(value, (list, tuple)) else (
            str(value) if dest == "noise_sigma" else value)
    return defaults


def _apply_sets(args):
    """`--set PATH=VALUE` (a spec path such as crops.patch_size, or a setting's flat name) onto the parsed flags,
    which are then checked as if given; a one-line message for a bad one, else `None`."""
    from dml_keras.specs.base import parse_value

    paths = _spec_class(args.command).PATHS
    dests = {setting: dest for dest, setting in _SPEC_FLAGS[args.command].items()}
    by_path = {path: name for name, path in paths.items()}
    for item in args.set or ():
        path, equals, text = item.partition("=")
        name = by_path.get(path.strip(), path.strip())
        if not equals or name not in paths:
            return (f"--set {item!r}: give PATH=VALUE with a setting of the run spec, one of: "
                    f"{', '.join(paths.values())}")
        dest = dests.get(name, name)
        if dest in _NOT_SETTINGS:
            return f"--set {item!r}: {name} is not set this way"
        setattr(args, dest, text if dest == "noise_sigma" else parse_value(text))
    return None


def _scale(parser, default=4, help="SR factor of the pairs (default 4)"):
    parser.add_argument("--scale", type=int, default=default, help=help)


def _json_out(parser):
    parser.add_argument("--json", metavar="FILE", help="also write the scores as JSON (format: docs/data.md, score files)")


def _noise_model(parser):
    parser.add_argument("--noise-model", choices=("white", "handcrafted"), default="white",
                        help="white: AWGN of --noise-sigma after the learned degradation (the paper); handcrafted: "
                             "Real-ESRGAN's random Gaussian/Poisson noise and JPEG at capture size after the learned blur")


def _noise_sigma(text):
    """--noise-sigma as a number or a range; None leaves the model's default (`default_noise_sigma`)."""
    from dml_keras.errors import SetupError

    if text is None:
        return None
    try:
        sigma = _numbers(text, float)
    except ValueError:
        sigma = []
    if len(sigma) not in (1, 2) or any(not 0 <= v < float("inf") for v in sigma) or sigma != sorted(sigma):
        raise SetupError(f"--noise-sigma must be a sigma >= 0 (0-255 scale) or a range LOW,HIGH, not {text!r}")
    return sigma[0] if len(sigma) == 1 else tuple(sigma)


def _lr_size(parser):
    parser.add_argument("--lr-size", choices=("same", "native"), default="same",
                        help="'same': LR enlarged to HR size (the paper); 'native': LR stays 1/scale")


def _add_train_degradation(sub):
    p = sub.add_parser("train-degradation", help="learn a camera's degradation from real HR/LR pairs")
    p.add_argument("pairs", nargs="?", help="RealSR root, folder with hr/ and lr/, City100 folder, or CSV (hr,lr); "
                                            "optional with --config")
    p.add_argument("--out", required=True, help="output folder (checkpoints, logs, model.keras)")
    _config(p)
    _scale(p)
    p.add_argument("--model", choices=DEGRADATION_MODELS, default="dml")
    p.add_argument("--recipe", choices=tuple(RECIPES), default="default",
                   help=f"'default': the best measured on held-out real pairs ({_DEFAULT['steps']} steps of "
                        f"{_DEFAULT['batch_size']} x {_DEFAULT['patch_size']}² crops, Adam {_rate(_DEFAULT['learning_rate'])}, "
                        f"weights averaged over the last {_DEFAULT['steps'] // 6} steps, Gaussian basis, weights "
                        f"starting at 1/M, a {_DEFAULT['filters']}-channel network); 'large': for a GPU "
                        f"({_LARGE['steps']} steps of {_LARGE['batch_size']} x {_LARGE['patch_size']}², averaged over "
                        f"the last {_LARGE['steps'] // 6}, {_LARGE['filters']} channels); 'paper': the authors' setting "
                        f"({_PAPER['steps']} steps of {_PAPER['batch_size']} x {_PAPER['patch_size']}², no averaging, "
                        "flips only, uniform basis, weights starting at 0.5). The flags below override single values")
    p.add_argument("--basis", type=int, default=None, help="dml: number of basis kernels M (default 8)")
    p.add_argument("--kernel-size", type=int, default=15, help="basis kernel size K, odd (default 15)")
    p.add_argument("--channels", choices=CHANNELS, default="y")
    _lr_size(p)
    p.add_argument("--patch-size", type=int, default=None,
                   help=f"HR crop size (recipe: {_DEFAULT['patch_size']}; paper {_PAPER['patch_size']})")
    p.add_argument("--batch-size", type=int, default=None,
                   help=f"crops per step (recipe: {_DEFAULT['batch_size']}; paper {_PAPER['batch_size']})")
    p.add_argument("--steps", type=int, default=None,
                   help=f"optimisation steps (recipe: {_DEFAULT['steps']}; paper {_PAPER['steps']})")
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help=f"steps between logs/validation/checkpoints (recipe: {_DEFAULT['steps_per_epoch']}; "
                        f"paper {_PAPER['steps_per_epoch']})")
    p.add_argument("--learning-rate", type=float, default=None,
                   help=f"Adam learning rate (recipe: {_rate(_DEFAULT['learning_rate'])}; paper {_rate(_PAPER['learning_rate'])})")
    p.add_argument("--lr-schedule", choices=("constant", "cosine"), default=None,
                   help="keep the learning rate, or decay it to 0 over --steps (cosine)")
    p.add_argument("--ema-steps", type=int, default=None,
                   help="average the weights over about this many last steps (exponential moving average), "
                        "validate and save the average; 0: off (recipe: a sixth of --steps; paper: off)")
    p.add_argument("--augment", choices=AUGMENTATIONS, default=None,
                   help="orient each training crop (HR and LR alike) at random: 'dihedral', all 8 orientations "
                        "(recipe); 'flips', left-right and up-down only, which keeps the camera's horizontal "
                        "and vertical blur apart (paper); 'none'")
    p.add_argument("--filters", type=int, default=None,
                   help="channels of the model's network: DML's weight network, all of DirectNet and DirectKPN "
                        f"(recipe: {_DEFAULT['filters']}; large: {_LARGE['filters']})")
    p.add_argument("--val", metavar="PAIRS", help="held-out validation pairs")
    p.add_argument("--val-fraction", type=float, default=0.0,
                   help="hold out every round(1/f)-th pair of PAIRS for validation instead of --val")
    p.add_argument("--basis-init", choices=("uniform", "gaussian"), default=None,
                   help="dml: basis initialisation, a Gaussian family (recipe) or random uniform kernels (paper)")
    p.add_argument("--basis-constraint", choices=("none", "simplex"), default=None,
                   help="dml: 'simplex' keeps each basis kernel non-negative with unit sum")
    p.add_argument("--weight-init", choices=("uniform_mix", "half"), default=None,
                   help="dml: start per-pixel weights at 1/M, the kernel summing to 1 (recipe), "
                        "or at 0.5 as the authors' code (paper)")
    p.add_argument("--kernel-init", choices=("gaussian", "random"), default=None,
                   help="directkpn: start every pixel's kernel as DML's starting blur (recipe) or from a random "
                        "last layer (paper)")
    p.add_argument("--residual-on", choices=("blur", "hr"), default=None,
                   help="directnet: learn LR as a correction of DML's starting blur of HR, starting at that blur "
                        "(recipe), or of HR itself, starting at random (paper)")
    p.add_argument("--unit-sum-kernels", action="store_true", default=None,
                   help="dml: every per-pixel kernel sums to 1 (softmax weights over unit-sum basis kernels)")
    p.add_argument("--tone-offset", action="store_true", default=None,
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
    p.epilog = ("Prints PSNR/SSIM (Y) of the generated LR against the real LR, beside plain bicubic downscaling's "
                "on the same pairs ('bicubic'), and warns when the model does worse than that.")


def _add_later_commands(sub):
    p = sub.add_parser("synthesize", help="degrade clean HR photos into realistic LR, to disk")
    p.add_argument("model", nargs="?", help="a saved degradation model (.keras, or exported: SavedModel folder, .tflite, "
                                            ".onnx), or a built-in: identity, bicubic, handcrafted (Real-ESRGAN's random "
                                            "second-order degradation)")
    p.add_argument("hr_dir", nargs="?", help="folder of clean photos (any size)")
    p.add_argument("--out", required=True, help="writes OUT/hr and OUT/lr with the same file names "
                                                "(--format tfrecord: OUT/pairs-*.tfrecord and OUT/manifest.json)")
    p.add_argument("--format", choices=("png", "tfrecord"), default="png",
                   help="png: a pair folder; tfrecord: sharded TFRecord files of PNG-encoded pairs with a manifest, "
                        "for sets of 100 000s of pairs (every pair source option reads both; docs/scaling.md)")
    p.add_argument("--examples-per-shard", type=int, default=256, help="tfrecord: photos per shard file (default 256)")
    p.add_argument("--runner", default=None,
                   help="tfrecord: run as an Apache Beam pipeline on this runner (direct, flink, spark or any Beam "
                        "runner name; workers must share --out's filesystem; needs the [beam] extra); default: this process")
    p.add_argument("--beam-args", default="", help='further Beam pipeline options, e.g. "--direct_num_workers 2"')
    p.add_argument("--noise-sigma", default=None,
                   help="AWGN sigma on the 0-255 scale, or a range LOW,HIGH drawn per image "
                        "(default 5 as the paper; 0 for degradations that add their own noise)")
    _noise_model(p)
    _lr_size(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shard", default="0/1", help="I/N: this process makes the I-th of N parts (png: files at positions "
                                                  "i %% N == I; tfrecord: shard files k %% N == I)")
    p.add_argument("--noise-resolution", choices=("native", "output"), default="output",
                   help="white noise at the LR's size (default, the paper), or drawn at capture size and enlarged")
    p.add_argument("--quantize", action=argparse.BooleanOptionalAction, default=True,
                   help="8-bit LR (default), or --no-quantize: 16-bit")
    p.add_argument("--tile", type=int, default=512, help="tile size for large photos")
    _scale(p, default=None, help="the built-in degradations' factor (default 4); a learned model has its own, and a "
                                 "different --scale is refused")
    _config(p)
    p.set_defaults(handler=_synthesize)

    p = sub.add_parser("train-sr", help="train VDSR, RCAN or RRDBNet (Real-ESRGAN's L1 and GAN stages) on real, "
                                        "synthetic or mixed pairs")
    p.add_argument("pairs_or_synth", nargs="?",
                   help="real pairs, or the output of `dml synthesize` (any pair layout); optional with --degradation")
    p.add_argument("synthetic_pairs", nargs="?",
                   help="also: synthesized pairs (`dml synthesize` output) mixed with the first at --synthetic-fraction")
    p.add_argument("--out", required=True)
    _config(p)
    p.add_argument("--recipe", choices=tuple(SR_RECIPES), default="default",
                   help=f"'default': the best measured ({_SR_DEFAULT['depth']}-layer VDSR on the small LR, "
                        f"{_SR_DEFAULT['patch_size']}² crops, Adam {_rate(_SR_DEFAULT['learning_rate'])}, "
                        f"{_SR_DEFAULT['steps']} steps); 'paper': the authors' ({_SR_PAPER['depth']}-layer VDSR on LR "
                        f"enlarged to HR size, {_SR_PAPER['patch_size']}² crops, Adam {_rate(_SR_PAPER['learning_rate'])}, "
                        f"{_SR_PAPER['steps']} steps). The flags below override single values")
    p.add_argument("--arch", choices=SR_ARCHS, default="vdsr",
                   help="vdsr, rcan, or rrdb: ESRGAN's generator, trained with Real-ESRGAN's recipe (sharpened "
                        "ground truth, EMA of the weights, Adam beta 0.9/0.99); default lr-size native, channels rgb")
    p.add_argument("--loss", choices=SR_LOSSES, default="auto",
                   help="auto: L2 for vdsr, L1 otherwise; gan: Real-ESRGAN's second stage, L1 + VGG perceptual "
                        "x1 + GAN x0.1 against a U-Net discriminator (RGB), usually with --init from an L1 run")
    p.add_argument("--init", metavar="MODEL",
                   help="start the network from a trained SR model: a run folder or .keras of the same --arch and "
                        "sizes, or a published generator (realesrgan_x4plus, whose sizes it takes). With --loss gan "
                        f"this fine-tunes it: {FINETUNE['steps']} steps of {FINETUNE['batch_size']} crops of "
                        f"{FINETUNE['patch_size']}², unless the flags below say otherwise")
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
    p.add_argument("--synthesis", choices=("pipeline", "in-step"), default="pipeline",
                   help="on-the-fly synthesis: make the pairs in the input pipeline (default; CPU), or run the "
                        "learned degradation inside the training step (for a GPU; the same pairs)")
    p.add_argument("--channels", choices=CHANNELS, default=None, help="default: rgb for rrdb and --loss gan, y otherwise")
    p.add_argument("--lr-size", choices=("same", "native"), default=None,
                   help=f"'native': LR stays 1/scale (recipe: {_SR_DEFAULT['lr_size']}; paper: {_SR_PAPER['lr_size']}); "
                        "'same': LR enlarged to HR size. rrdb takes native only")
    p.add_argument("--patch-size", type=int, default=None,
                   help=f"HR crop size (recipe: {_SR_DEFAULT['patch_size']}; paper: {_SR_PAPER['patch_size']})")
    p.add_argument("--batch-size", type=int, default=None,
                   help="default " + ", ".join(f"{size} for {arch}" for arch, size in SR_BATCH_SIZES.items()))
    p.add_argument("--steps", type=int, default=None,
                   help=f"optimisation steps (recipe: {_SR_DEFAULT['steps']}; paper: {_SR_PAPER['steps']})")
    p.add_argument("--steps-per-epoch", type=int, default=None,
                   help=f"steps between logs/validation/checkpoints (both recipes: {_SR_DEFAULT['steps_per_epoch']})")
    p.add_argument("--learning-rate", type=float, default=None,
                   help=f"Adam's rate (recipe: {_rate(_SR_DEFAULT['learning_rate'])}; paper: {_rate(_SR_PAPER['learning_rate'])}; "
                        "rrdb and gan: Real-ESRGAN's 2e-4 for L1, 1e-4 for gan)")
    p.add_argument("--depth", type=int,
                   help=f"VDSR: number of convolutions (recipe: {_SR_DEFAULT['depth']}; paper: {_SR_PAPER['depth']})")
    p.add_argument("--filters", type=int, help="channels of hidden layers (64)")
    p.add_argument("--groups", type=int, help="RCAN: residual groups (5)")
    p.add_argument("--blocks", type=int, help="RCAN: blocks per group (10); RRDB: RRDB blocks (23)")
    p.add_argument("--growth", type=int, help="RRDB: channels each dense convolution adds (32)")
    p.add_argument("--d-filters", type=int, default=64,
                   help="--loss gan: the U-Net discriminator's first-layer channels (64, as Real-ESRGAN)")
    p.add_argument("--ema-decay", type=float, default=None,
                   help="rrdb and gan: the generator's weight average moves by 1 - this per step; the average is "
                        "validated and saved (0.999 as Real-ESRGAN; it spans about 1/(1 - decay) steps, so shorter "
                        f"runs want less, e.g. 0.995 for a few thousand steps; fine-tuning: {FINETUNE['ema_decay']})")
    p.add_argument("--d-warmup", type=int, default=None, metavar="N",
                   help="--loss gan: train the discriminator alone for the first N steps (the generator and its "
                        f"average stay as they are; fine-tuning: {FINETUNE['d_warmup']})")
    p.add_argument("--init-d", metavar="FILE",
                   help="--loss gan: start the discriminator from a .keras file or Real-ESRGAN's "
                        "RealESRGAN_x4plus_netD.pth instead of from scratch")
    p.add_argument("--color-weight", type=float, default=None,
                   help="rrdb and gan: weight of an L1 term between 8x8 averages of output and ground truth, against "
                        f"colour drift (fine-tuning: {FINETUNE['color_weight']}; otherwise 0)")
    p.add_argument("--tune-blocks", type=int, default=None, metavar="N",
                   help="rrdb: train only the last N RRDB blocks and the upsampler "
                        f"(fine-tuning: {FINETUNE['tune_blocks']}; otherwise all)")
    p.add_argument("--sharpen", action=argparse.BooleanOptionalAction, default=None,
                   help="rrdb and gan: --sharpen compares L1 and perceptual losses with the unsharp-masked ground "
                        "truth, as Real-ESRGAN does (the default from scratch); --no-sharpen with the truth as it is "
                        f"(the fine-tuning recipe's: {'--sharpen' if FINETUNE['sharpen'] else '--no-sharpen'}; the "
                        "sharpened truth makes outputs sharper than it, docs/finetune.md)")
    p.add_argument("--collapse-drop", type=float, default=2.0, metavar="DB",
                   help="with --val: stop when validation PSNR falls this many dB below its best, keeping the best "
                        "weights (0: never)")
    p.add_argument("--keep-checkpoints", action="store_true",
                   help="keep each epoch's network as checkpoints/step-N.keras (to score a run along its course)")
    p.add_argument("--val", metavar="PAIRS", help="real validation pairs (PSNR/SSIM each epoch)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    _scale_out(p)
    p.set_defaults(handler=_train_sr)

    p = sub.add_parser("evaluate-sr", help="PSNR/SSIM/LPIPS of an SR model on real test pairs")
    p.add_argument("model", help="a saved SR model (.keras or its training folder), an exported one (SavedModel, .tflite, "
                                 ".onnx), or a folder of another upscaler's outputs named as the pairs (with --scale)")
    p.add_argument("pairs")
    _scale(p)
    p.add_argument("--crop-border", type=int, default=None, help="default: scale")
    p.add_argument("--lpips", choices=("alex", "vgg", "none"), default="alex")
    p.add_argument("--tile", type=int, default=512, help=f"tile size in input pixels (each runs with {TILE_MARGIN} px of context)")
    _json_out(p)
    p.set_defaults(handler=_evaluate_sr)

    p = sub.add_parser("upscale", help="super-resolve real photos of any size (PNG out; greyscale stays "
                                       "greyscale, 16-bit stays 16-bit)")
    p.add_argument("model", help="a saved SR model (.keras or its training folder), or an exported one (SavedModel, .tflite, .onnx)")
    p.add_argument("inputs", nargs="+", help="image files or folders")
    p.add_argument("--out", required=True)
    p.add_argument("--tile", type=int, default=512, help=f"tile size in input pixels (each runs with {TILE_MARGIN} px of context)")
    p.set_defaults(handler=_upscale)

    p = sub.add_parser("compare", help="side-by-side crops LR | model A | model B | ... | HR, to judge SR by eye")
    p.add_argument("models", nargs="+", help="SR models (.keras, run folders, exported files), or folders of another "
                                             "upscaler's outputs named as the photos (e.g. Real-ESRGAN's)")
    p.add_argument("--pairs", help="test pairs (any layout): HR is the last panel")
    p.add_argument("--images", nargs="+", default=(), help="photos without ground truth (files or folders)")
    p.add_argument("--out", required=True, help="one PNG per photo")
    p.add_argument("--labels", help="comma-separated names of the models (default: file or folder names)")
    p.add_argument("--crop", type=int, default=192, help="crop side in output pixels, placed where the photo has the "
                                                         "most detail (default 192)")
    _scale(p)
    p.add_argument("--tile", type=int, default=512, help="tile size in input pixels")
    p.set_defaults(handler=_compare)

    p = sub.add_parser("export", help="write a SavedModel, TFLite or ONNX file")
    p.add_argument("model", help="a saved degradation or SR model (.keras or its training folder)")
    p.add_argument("--format", choices=("savedmodel", "tflite", "onnx"), required=True)
    p.add_argument("--out", required=True, help="folder (savedmodel) or file (.tflite, .onnx)")
    p.add_argument("--quantize", choices=("none", "float16", "dynamic"), default="none", help="TFLite weights")
    p.set_defaults(handler=_export)

    p = sub.add_parser("tune", help="search DML's number of basis kernels (and kernel size, learning rate): one "
                                    "train-degradation run per choice, ranked by validation PSNR")
    p.add_argument("pairs")
    p.add_argument("--out", default="dml_tuning",
                   help="folder of the trials (one run folder each; a stopped search goes on) and tuning.json/.md")
    p.add_argument("--basis", default="4,8,16", help="comma-separated numbers of basis kernels to try")
    p.add_argument("--kernel-sizes", default="15", help="comma-separated odd kernel sizes to try")
    p.add_argument("--learning-rates", default="1e-4", help="comma-separated learning rates to try")
    _scale(p)
    p.add_argument("--channels", choices=CHANNELS, default="y")
    _lr_size(p)
    p.add_argument("--patch-size", type=int, default=None, help="HR crop size (default: the recipe's, 64)")
    p.add_argument("--batch-size", type=int, default=None, help="crops a step (default: the recipe's, 8)")
    p.add_argument("--steps", type=int, default=TUNE_TRIAL["steps"], help="training steps per trial")
    p.add_argument("--val", default=None, help="held-out pairs to score the trials on (default: --val-fraction)")
    p.add_argument("--val-fraction", type=float, default=TUNE_TRIAL["val_fraction"])
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(handler=_tune)

    p = sub.add_parser("visualize", help="figures of basis kernels, weight maps and per-pixel kernels")
    p.add_argument("model", help="a saved degradation model (.keras or its training folder)")
    p.add_argument("--image", help="photo to show weight maps and per-pixel kernels on (default: scikit-image's astronaut)")
    p.add_argument("--out", required=True)
    p.set_defaults(handler=_visualize)


def _add_presets(sub):
    p = sub.add_parser("presets", help="list the pretrained models that install with the package, with their scores")
    p.set_defaults(handler=_presets)

    p = sub.add_parser("import", help="convert a published Real-ESRGAN network to a .keras file (no PyTorch needed)")
    p.add_argument("path", help="RealESRGAN_x4plus.pth, RealESRNet_x4plus.pth or RealESRGAN_x4plus_netD.pth (BasicSR "
                                "state dicts, zip format), or an ncnn .param with its .bin beside it")
    p.add_argument("--out", required=True, metavar="FILE.keras", help="the Keras file to write")
    p.set_defaults(handler=_import)


def _add_demo(sub):
    p = sub.add_parser("demo", help="run the main job on bundled photos and write a summary")
    p.add_argument("--out", default="dml_demo", help="output folder (default ./dml_demo)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--models", help="a saved_models/ folder to take the models from instead of the presets that "
                                    "install with the package (dml presets)")
    p.add_argument("--image", help="also upscale this photo of yours with the shipped SR model")
    p.set_defaults(handler=_demo)


def _add_align(sub):
    from dml_keras.workflows.align import MAX_RESIDUAL, MOTIONS, TILE

    p = sub.add_parser("align", help="make aligned HR/LR pairs from two captures of each scene (or refine pairs "
                                     "that are aligned already), with a report per pair")
    p.add_argument("captures", help="folder with hr/ and lr/ of matching names (HR: long focal length or close "
                                    "shot; LR: short or far), a CSV with columns hr,lr, or any pair layout")
    p.add_argument("--out", required=True, help="writes OUT/hr, OUT/lr, OUT/reports/NAME.json, OUT/figures/NAME.png "
                                                "and OUT/alignment.json")
    _scale(p)
    p.add_argument("--refine", action="store_true",
                   help="the pairs are aligned already (RealSR, City100): re-estimate a sub-pixel transform per pair "
                        "and report how far each was off")
    p.add_argument("--local", action="store_true",
                   help="also correct what the tiles still measure with a smooth shift field")
    p.add_argument("--motion", choices=tuple(MOTIONS), default=None,
                   help="transform ECC fits (default homography for captures, affine with --refine)")
    p.add_argument("--lr-size", choices=("same", "native"), default=None,
                   help="'native': LR 1/scale of HR (default for captures); 'same': LR enlarged to HR size by "
                        "MATLAB bicubic. With --refine, pairs keep their layout unless this is given")
    p.add_argument("--resample", choices=("lr", "hr"), default="lr",
                   help="lr: resample the LR capture onto the HR's 1/scale grid (default); hr: resample the HR onto "
                        "the LR capture's grid and keep the LR pixels as the camera wrote them")
    p.add_argument("--match-exposure", action="store_true",
                   help="apply the fitted global gain/offset of the luminance to the LR (always measured and "
                        "reported; off by default: docs/align.md says what it did to trained models)")
    p.add_argument("--camera", metavar="JSON",
                   help="OpenCV camera parameters to undistort with first: {\"camera_matrix\": 3x3, "
                        "\"dist_coeffs\": [...]}, or {\"hr\": {...}, \"lr\": {...}}")
    p.add_argument("--max-residual", type=float, default=MAX_RESIDUAL,
                   help=f"leave out pairs whose tiles' 95th-percentile misalignment is above this, in LR pixels "
                        f"(default {MAX_RESIDUAL})")
    p.add_argument("--tile", type=int, default=TILE, help=f"tile side in LR pixels for that measure (default {TILE})")
    p.add_argument("--no-figures", action="store_true", help="skip the overlay/difference figure per pair")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=_align)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dml",
        description="Learn a real camera's degradation from a few HR/LR photo pairs (DML, ACCV 2020), "
        "synthesize realistic SR training pairs, train and evaluate SR networks.",
    )
    from dml_keras._version import __version__

    parser.add_argument("--version", action="version", version=f"dml-keras {__version__}")
    parser.add_argument("--verbose", action="store_true",
                        help="show TensorFlow's start-up logs (hidden unless TF_CPP_MIN_LOG_LEVEL is set), and the "
                             "traceback behind an error: line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    parser.commands = sub.choices  # name → its parser (--config sets that parser's defaults)
    sub.required = True
    _add_train_degradation(sub)
    _add_evaluate_degradation(sub)
    _add_later_commands(sub)
    _add_align(sub)
    _add_presets(sub)
    _add_demo(sub)
    return parser


def _check_json_target(json_path):
    """Refuse, before any work, a --json FILE that cannot be written (so the scores are not lost at the end)."""
    from dml_keras.errors import DataError

    problem = _check_out(json_path, file=True, flag="--json")
    if problem:
        raise DataError(problem)


def _print_scores(scores, json_path):
    print(json.dumps({k: v for k, v in scores.items() if k != "per_image"}, indent=2))
    if json_path:
        from dml_keras.data.files import write_json

        write_json(json_path, scores)


def _train_degradation(args):
    from dml_keras.workflows.degradation import train_degradation

    if args.basis_constraint == "none":
        args.basis_constraint = None
    train_degradation(out_dir=args.out, spec=_spec_of(args), verbose=2 if args.quiet else "auto")
    _report_saved(args)
    return 0


def _report_saved(args):
    from dml_keras.distribute import writes_outputs

    path = os.path.join(args.out, "model.keras")
    print(f"Saved {path}" if writes_outputs(args.strategy) else f"Done; the first worker saves {path}")


def _evaluate_degradation(args):
    from dml_keras.loading import load_model
    from dml_keras.workflows.degradation import default_crop_border, evaluate_degradation

    _check_json_target(args.json)
    model = load_model(args.model, kind="degradation", scale=args.scale, lr_size=args.lr_size)
    crop_border = default_crop_border(model) if args.crop_border is None else args.crop_border
    scores = evaluate_degradation(model, args.pairs, crop_border=crop_border)
    if args.model != "bicubic":  # the reference every learned model must beat, on the same pairs and crop
        bicubic = load_model("bicubic", kind="degradation", scale=model.scale, lr_size=model.lr_size)
        reference = evaluate_degradation(bicubic, args.pairs, crop_border=crop_border, progress=False)
        scores["bicubic"] = {"psnr": reference["psnr"], "ssim": reference["ssim"]}
        if scores["psnr"] < reference["psnr"]:
            print(f"Warning: {args.model} scores {scores['psnr']:.2f} dB, below plain bicubic downscaling "
                  f"({reference['psnr']:.2f} dB) on these pairs: they are not from the camera (or the optics) "
                  "it was trained on, or it trained too briefly. Train it on pairs of this camera "
                  "(docs/degradation.md).", file=sys.stderr)
    _print_scores(scores, args.json)
    return 0


def _synthesize(args):
    from dml_keras.data.files import write_json
    from dml_keras.data.synthesis import parse_shard, synthesize_folder
    from dml_keras.errors import DataError, SetupError
    from dml_keras.workflows import shards

    shard = parse_shard(args.shard)
    spec = _spec_of(args).resolved()  # what decides the pairs, in one place for both formats
    if args.runner and args.format != "tfrecord":
        raise SetupError("--runner writes TFRecord shards: add --format tfrecord.")
    if args.runner and shard != (0, 1):
        raise SetupError("--shard splits the work by hand; a Beam --runner spreads the shards itself. Drop one.")
    model = shards.load_degradation(spec)  # once, for every format
    if spec.source.model not in BUILTIN_DEGRADATIONS:  # a learned model degrades at its own factor
        if args.scale and model.scale != args.scale:
            raise DataError(f"'{spec.source.model}' degrades ×{model.scale}; --scale {args.scale} does not apply "
                            "to it. Drop --scale, or give a model learned at that factor.")
        spec = spec.set("scale", model.scale)
    if args.format == "tfrecord":
        shards.check_out_dir(spec)
    else:
        shards.check_png_folder(spec)
    write_json(os.path.join(args.out, "spec.json"), spec.to_dict())  # `--config OUT/spec.json` replays it
    if args.format == "tfrecord":
        import shlex

        if args.runner:
            manifest = shards.run_pipeline(spec, args.runner, shlex.split(args.beam_args))
        else:
            manifest = shards.synthesize_shards(spec, shard, model=model)
        done = sum(1 for _ in manifest["shards"])
        print(f"{manifest['examples']} pairs in {done} of {manifest['shard_count']} shards in {os.path.abspath(args.out)}"
              + ("" if manifest["complete"] else " (other --shard parts still to run)"))
        return 0
    noise, output = spec.noise, spec.output
    names = synthesize_folder(model, spec.source.hr_dir, output.out_dir,
                              noise_sigma=noise.noise_sigma, seed=noise.seed, shard=shard, quantize=output.quantize,
                              tile_size=output.tile_size, noise_resolution=noise.noise_resolution)
    print(f"{len(names)} pairs in {os.path.abspath(args.out)}")
    return 0


def _train_sr(args):
    from dml_keras.workflows.sr import train_sr

    train_sr(args.out, _spec_of(args), verbose=2 if args.quiet else "auto")
    _report_saved(args)
    return 0


def _evaluate_sr(args):
    from dml_keras.loading import load_model
    from dml_keras.workflows.sr import evaluate_sr

    if _is_outputs_folder(args.model):  # another upscaler's outputs, scored as they are
        model, scale = args.model, args.scale
    else:
        model = load_model(args.model, kind="sr")
        scale = model.scale
    _check_json_target(args.json)
    scores = evaluate_sr(model, args.pairs, scale=scale, crop_border=args.crop_border,
                         lpips_net=args.lpips, tile_size=args.tile)
    _print_scores(scores, args.json)
    return 0


def _is_outputs_folder(path):
    from dml_keras.runtime import exported_format

    return os.path.isdir(path) and not os.path.exists(os.path.join(path, "model.keras")) and not exported_format(path)


def _upscale(args):
    from dml_keras.loading import load_model
    from dml_keras.workflows.sr import upscale_files

    written = upscale_files(load_model(args.model, kind="sr"), args.inputs, args.out, tile_size=args.tile)
    print(f"{len(written)} images in {os.path.abspath(args.out)}")
    return 0


def _compare(args):
    from dml_keras.workflows.sr import compare_models

    labels = [label.strip() for label in args.labels.split(",")] if args.labels else None
    written = compare_models(args.models, args.out, pairs=args.pairs, images=args.images, labels=labels,
                             crop=args.crop, scale=args.scale, tile_size=args.tile)
    print(f"{len(written)} figures in {os.path.abspath(args.out)}")
    return 0


def _export(args):
    from dml_keras.export import export_model
    from dml_keras.loading import load_model

    report = export_model(load_model(args.model), args.out, args.format, args.quantize)
    print(json.dumps(report, indent=2))
    return 0


def _numbers(text, kind):
    return [kind(v) for v in text.split(",") if v.strip()]


def _tune(args):
    from dml_keras.workflows.tuning import format_table, tune_degradation

    shared = {name: getattr(args, name) for name in ("scale", "channels", "lr_size", "patch_size", "batch_size",
                                                       "steps", "val_fraction", "seed")}
    rows = tune_degradation(
        args.pairs, args.out, num_basis=_numbers(args.basis, int), kernel_sizes=_numbers(args.kernel_sizes, int),
        learning_rates=_numbers(args.learning_rates, float), val_pairs=args.val, verbose=2, **shared)
    print(format_table(rows))
    return 0


def _visualize(args):
    from dml_keras.data.io import read_image
    from dml_keras.loading import load_model
    from dml_keras.visualization import visualize

    image = read_image(args.image) if args.image else None
    for name, path in visualize(load_model(args.model, kind="degradation"), image, args.out).items():
        print(f"{name}: {path}")
    return 0


def _align(args):
    from dml_keras.workflows.align import align_folder, read_camera

    summary = align_folder(
        args.captures, args.out, args.scale, refine=args.refine, progress=not args.quiet, figures=not args.no_figures,
        local=args.local, motion=args.motion, lr_size=args.lr_size, match_exposure=args.match_exposure,
        resample=args.resample,
        camera=read_camera(args.camera) if args.camera else None, max_residual=args.max_residual, tile=args.tile,
    )
    for name, report in summary["left_out"].items():
        print(f"left out {name}: {report['reason']}", file=sys.stderr)
    if not summary["pairs"]:
        print(f"error: no pair of '{args.captures}' could be aligned (reasons above; reports in "
              f"{os.path.join(args.out, 'reports')})", file=sys.stderr)
        return 2
    print(f"{len(summary['pairs'])} aligned pairs in {os.path.abspath(args.out)} "
          f"({len(summary['left_out'])} left out; report: {os.path.join(args.out, 'alignment.json')})")
    return 0


def _import(args):
    from dml_keras.weights.realesrgan import import_model

    if not args.out.endswith(".keras"):
        print(f"error: --out '{args.out}' must end in .keras", file=sys.stderr)
        return 2
    network = import_model(args.path)
    directory = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(directory, exist_ok=True)
    network.save(args.out)
    print(f"Saved {type(network).__name__} ({network.count_params():,} parameters) to {os.path.abspath(args.out)}")
    return 0


def _presets(args):
    from dml_keras.presets import format_presets

    print(format_presets())
    return 0


def _demo(args):
    from dml_keras.demo import run_demo

    summary = run_demo(args.out, seed=args.seed, models_dir=args.models, image=args.image)
    print(open(os.path.join(args.out, "summary.md")).read())
    print(f"Wrote {summary['count']} photo pairs and summary.md to {os.path.abspath(args.out)}")
    return 0


# What each numeric flag may be, checked once the flags (and a replayed --config) are parsed, so that a bad
# value is one line naming the flag instead of a traceback, a hang (negative steps) or a silent default.
# dest: (lowest, whether the lowest is allowed, highest or None, whether the highest is allowed)
_LIMITS = {
    **{dest: (1, True, None, False) for dest in (
        "steps", "steps_per_epoch", "batch_size", "patch_size", "tile", "crop", "examples_per_shard",
        "crops_per_image", "kernel_size", "basis", "filters", "depth", "groups", "blocks", "growth", "d_filters")},
    **{dest: (0, True, None, False) for dest in ("crop_border", "d_warmup", "tune_blocks", "ema_steps")},
    "scale": (2, True, None, False),
    "learning_rate": (0, False, None, False),
    "val_fraction": (0, True, 1, False),
    "synthetic_fraction": (0, True, 1, True),
    "ema_decay": (0, True, 1, False),
    "color_weight": (0, True, None, False),
    "collapse_drop": (0, True, None, False),
    "max_residual": (0, False, None, False),
}


def _check_numbers(args):
    """The first numeric flag outside its range (`_LIMITS`), as a one-line message; `None` when all are in range."""
    import math

    for dest, (low, low_ok, high, high_ok) in _LIMITS.items():
        value = getattr(args, dest, None)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or (isinstance(value, float) and math.isinf(value)):
            continue  # unset, or a list given as text (tune's --basis 2,4)
        below = value < low or (value == low and not low_ok)
        above = high is not None and (value > high or (value == high and not high_ok))
        if below or above or value != value:  # NaN too
            flag = "--" + dest.replace("_", "-")
            bounds = f"{'at least' if low_ok else 'above'} {low}" + (
                f" and {'at most' if high_ok else 'below'} {high}" if high is not None else "")
            return f"{flag} must be {bounds}, not {value}"
    return None


# commands whose --out is a file (or an exported SavedModel folder) rather than a folder of results
_OUT_FILE_COMMANDS = ("export", "import")


def _check_out(out, file, flag="--out"):
    """Why `out` (the value of `flag`) cannot be written, before any work (a file where a folder is meant, a folder
    where a file is, a read-only place); `None` when it can."""
    if out is None:
        return None
    target = os.path.abspath(out)
    if not file and os.path.exists(target) and not os.path.isdir(target):
        return f"{flag} '{out}' is a file; give a folder (it is created if missing)"
    if file and os.path.isdir(target) and not os.path.exists(os.path.join(target, "saved_model.pb")):
        return f"{flag} '{out}' is a folder; give a file path"
    existing = os.path.dirname(target) if file else target
    while not os.path.exists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        return f"{flag} '{out}' cannot be created: '{existing}' is a file, not a folder"
    if file and os.path.isfile(target) and not os.access(target, os.W_OK):
        return f"{flag} '{out}' cannot be written: no write access to it. Choose another place"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{flag} '{out}' cannot be written: no write access to '{existing}'. Choose another place"
    return None


def _lock_name(args):
    """The lock file a command holds in its --out while it writes there (`None`: it takes none). Hand-split
    synthesis parts (--shard I/N) write one folder together by design: each holds a lock of its own part."""
    if args.command not in ("train-degradation", "train-sr", "synthesize", "align") or getattr(args, "runner", None):
        return None
    if getattr(args, "strategy", None) == "multiworker":  # the workers of one run share its --out: one lock each
        try:
            index = json.loads(os.environ.get("TF_CONFIG") or "{}").get("task", {}).get("index", 0)
        except (ValueError, AttributeError):
            index = 0
        return f".dml-worker-{index}.lock"
    shard = getattr(args, "shard", None)
    return f".dml-{shard.replace('/', '-of-')}.lock" if shard and shard != "0/1" else ".dml.lock"


def _remove_if_empty(folder):
    """Remove an --out folder a failed run created, when it holds no result: only the settings it recorded
    (`synthesis.json`, `training.json`, `spec.json`, `run_info.json`), an empty `history.csv` and TensorBoard's
    `logs/`."""
    import shutil

    if not os.path.isdir(folder):
        return
    for root, _, files in os.walk(folder):
        if os.path.relpath(root, folder).split(os.sep)[0] == "logs":
            continue
        for name in files:
            path = os.path.join(root, name)
            if root == folder and name in ("synthesis.json", "training.json", "spec.json", "run_info.json"):
                continue
            if root == folder and name == "history.csv" and os.path.getsize(path) < 512:
                with open(path) as handle:
                    if len(handle.read().splitlines()) <= 1:  # a header, no epoch
                        continue
            return
    shutil.rmtree(folder, ignore_errors=True)


def _own_argument_error(error):
    """The message of a `ValueError` this package raised for an argument it refuses (a check in its own
    code, which names the setting), as opposed to one from deeper down, which is a bug and keeps its traceback."""
    import traceback

    if type(error) is not ValueError or error.__traceback__ is None:
        return None
    raised_in = traceback.extract_tb(error.__traceback__)[-1].filename
    package = os.path.dirname(os.path.abspath(__file__))
    return str(error).splitlines()[0] if os.path.abspath(raised_in).startswith(package + os.sep) else None


def _parse(argv):
    """The parsed flags of a command line, a `--config` run's settings as the defaults (the flags given still
    win); a `DataError` for a --config file that cannot be replayed."""
    parser = build_parser()
    args = parser.parse_args(argv)  # Keras is imported later, by the command that needs it
    if getattr(args, "config", None):
        command = parser.commands[args.command]
        command.set_defaults(**_config_defaults(args.command, set(vars(args)), args.config))
        args = parser.parse_args(argv)
    return args


def spec_of_command(argv):
    """The resolved run spec (`specs.SRRun`, `DegradationRun` or `SynthesisRun`) that a `dml train-sr`,
    `train-degradation` or `synthesize` command line runs, --config and --set included, without running it:
    `spec_of_command(["train-sr", "--config", "runs/a/spec.json", "--out", "runs/b"])`. A bad setting is a
    `SetupError` or `DataError`. (A synthesis spec's factor is filled from a learned model when it runs.)"""
    from dml_keras.errors import SetupError

    args = _parse(argv)
    if args.command not in _SPEC_FLAGS:
        raise SetupError(f"dml {args.command} has no run spec; these commands have: {', '.join(_SPEC_FLAGS)}")
    problem = _apply_sets(args) if args.set else None
    if problem:
        raise SetupError(problem)
    return _spec_of(args).resolved()


def main(argv=None):
    """Entry point of the `dml` console script; returns the exit status."""
    from dml_keras.errors import DataError

    try:
        args = _parse(argv)
    except DataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    problem = _apply_sets(args) if getattr(args, "set", None) else None
    problem = problem or _check_numbers(args)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    if args.verbose:  # TensorFlow's own start-up lines, shown (the first import of Keras mutes them otherwise)
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")

    out = getattr(args, "out", None)
    problem = _check_out(out, file=args.command in _OUT_FILE_COMMANDS)
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    created = out is not None and not os.path.exists(out)
    status = 1
    try:
        lock = _lock_name(args)
        if lock is None:
            status = _run(args)
        else:
            from dml_keras.data.files import folder_lock

            try:
                with folder_lock(out, lock):
                    status = _run(args)
            except DataError as error:  # the lock is held by another process
                print(f"error: {error}", file=sys.stderr)
                status = 2
        return status
    finally:
        if status != 0 and created:
            _remove_if_empty(out)


def _run(args):
    """The command's handler, with every failure a user can fix turned into one line and exit status 2
    (with --verbose, the traceback before it)."""
    import cv2

    from dml_keras.errors import DataError, SetupError, unwrap_data_error

    def say(message):
        if getattr(args, "verbose", False):
            import traceback

            traceback.print_exc()
        print(f"error: {message}", file=sys.stderr)
        return 2

    try:
        return args.handler(args)
    except (DataError, SetupError) as error:
        return say(error)
    except OSError as error:  # the disk or the file system: full, read-only, not a folder, no permission…
        if error.filename is None:
            raise
        where = f"'{error.filename}'" + (f" → '{error.filename2}'" if error.filename2 else "")
        return say(f"{where}: {error.strerror or error}. Check the path, its permissions and the free space.")
    except cv2.error as error:
        return say(f"OpenCV cannot process the input: {str(error).strip().splitlines()[-1]}")
    except ImportError as error:  # an optional extra that is not installed says how to get it
        if "pip install" not in str(error):
            raise
        return say(error)
    except Exception as error:  # a DataError raised inside a tf.data pipeline arrives wrapped
        message = unwrap_data_error(error) or _own_argument_error(error)
        if message is None:
            raise
        return say(message)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
