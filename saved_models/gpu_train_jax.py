"""Train a degradation model on a GPU with the JAX backend: no TensorFlow needed.

    KERAS_BACKEND=jax python saved_models/gpu_train_jax.py PAIRS.csv OUT_DIR [--val VAL.csv] \\
        [--model dml] [--recipe large] [--steps N] [--patch-size P] [--batch-size B] \\
        [--learning-rate R] [--ema-steps N] [--augment dihedral] [--max-minutes M] [--filters N] [--seed 0]

For machines that have JAX and Keras but no TensorFlow (the `tf.data` pipeline
of `dml train-degradation` needs it). It trains a recipe of
`dml train-degradation` (`--recipe large` by default: 6000 steps of 16 × 192²
crops, Adam 1e-4, weights averaged over the last 1000, a 64-channel network; any flag overrides one
value) on aligned random crops of the pairs' Y channel, LR at HR size, both
oriented alike as the recipe's `augment` says.

Every epoch (the recipe's `steps_per_epoch`) it saves `OUT_DIR/model.keras`
(the weight average; the weights themselves without averaging) and
`OUT_DIR/model_raw.keras` (that step's weights), and appends `steps, seconds,
loss` and, with `--val`, the PSNR of both on the held-out pairs (Y, crop 7,
as `dml evaluate-degradation` scores) to `OUT_DIR/log.csv`.
It stops after `--steps`, or at the first save after `--max-minutes`: the
files then hold the final checkpoint.
"""

import argparse
import csv
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def crop_stream(pairs, patch_size, batch_size, seed, augment="dihedral"):
    """Batches `(hr, lr)` of aligned random crops `(B, P, P, C)` of `(H, W, C)` pairs, oriented alike:
    `augment` as `paired_dataset`'s ("dihedral", "flips" or "none")."""
    import numpy as np

    rng = np.random.default_rng(seed)
    while True:
        hr_batch, lr_batch = [], []
        for index in rng.integers(len(pairs), size=batch_size):
            hr, lr = pairs[index]
            top = rng.integers(hr.shape[0] - patch_size + 1)
            left = rng.integers(hr.shape[1] - patch_size + 1)
            hr = hr[top:top + patch_size, left:left + patch_size]
            lr = lr[top:top + patch_size, left:left + patch_size]
            turns, flip = rng.integers(4), rng.integers(2)
            if augment == "dihedral":
                hr, lr = np.rot90(hr, turns), np.rot90(lr, turns)
            elif augment == "flips" and turns >= 2:  # up-down
                hr, lr = hr[::-1], lr[::-1]
            if flip and augment != "none":
                hr, lr = hr[:, ::-1], lr[:, ::-1]
            hr_batch.append(hr)
            lr_batch.append(lr)
        yield np.stack(hr_batch), np.stack(lr_batch)


def read_y(csv_path):
    """The ×4 pairs a CSV lists, as `(hr, lr)` float32 Y arrays `(H, W, 1)`, LR at HR size."""
    import numpy as np

    from dml_keras.data.pairs import discover_pairs, load_pair
    from dml_keras.ops.color import rgb_to_y

    return [tuple(np.asarray(rgb_to_y(x), np.float32) for x in load_pair(p, 4)) for p in discover_pairs(csv_path, 4)]


def _val_psnr(model, val_pairs):
    import numpy as np

    from dml_keras.metrics import psnr

    return float(np.mean([psnr(np.asarray(model.degrade(hr[None]))[0], lr, crop_border=7) for hr, lr in val_pairs]))


def _save_and_score(model, optimizer, out_dir, val_pairs):
    """Save the raw weights and the weight average (`model_raw.keras`, `model.keras`); their validation PSNRs.

    Without averaging, `model.keras` holds the raw weights and there is one score.
    """
    from dml_keras.callbacks import averaging_optimizer

    def score():
        return [_val_psnr(model, val_pairs)] if val_pairs else []

    averaging = averaging_optimizer(optimizer)
    if averaging is None:
        model.save(os.path.join(out_dir, "model.keras"))
        return score()
    raw = [v.numpy() for v in averaging._trainable_variables]
    model.save(os.path.join(out_dir, "model_raw.keras"))
    raw_scores = score()
    for variable, average in zip(averaging._trainable_variables, averaging._model_variables_moving_average):
        variable.assign(average)
    model.save(os.path.join(out_dir, "model.keras"))
    scores = score() + raw_scores
    for variable, value in zip(averaging._trainable_variables, raw):
        variable.assign(value)
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", help="CSV of HR/LR pairs (columns hr, lr)")
    parser.add_argument("out_dir")
    parser.add_argument("--val", metavar="VAL.csv", help="held-out pairs scored at each save")
    parser.add_argument("--model", default="dml", choices=("dml", "directnet", "directkpn"))
    parser.add_argument("--recipe", default="large", choices=("default", "large", "paper"))  # workflows/recipes.py
    parser.add_argument("--steps", type=int)
    parser.add_argument("--patch-size", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--ema-steps", type=int)
    parser.add_argument("--augment", choices=("dihedral", "flips", "none"))
    parser.add_argument("--max-minutes", type=float, default=None)
    parser.add_argument("--filters", type=int, help="channels of the model's network (the recipe's)")
    parser.add_argument("--residual-on", choices=("blur", "hr"), help="directnet's start (the recipe's; hr: the paper's)")
    parser.add_argument("--kernel-init", choices=("gaussian", "random"),
                        help="directkpn's start (the recipe's; random: the paper's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    os.environ.setdefault("KERAS_BACKEND", "jax")  # before Keras is imported
    import keras
    import numpy as np

    from dml_keras.errors import SetupError
    from dml_keras.models import DEGRADATION_MODELS
    from dml_keras.workflows.fit import averaging_adam
    from dml_keras.workflows.recipes import resolve_recipe

    try:  # first: an option the model does not take is refused before any work
        recipe = resolve_recipe(args.recipe, args.model, patch_size=args.patch_size, batch_size=args.batch_size,
                                steps=args.steps, learning_rate=args.learning_rate, ema_steps=args.ema_steps,
                                augment=args.augment, filters=args.filters, residual_on=args.residual_on,
                                kernel_init=args.kernel_init)
    except SetupError as error:
        parser.error(str(error))
    if keras.backend.backend() != "jax":
        raise SystemExit("Run with KERAS_BACKEND=jax.")
    start = time.perf_counter()

    pairs, val_pairs = read_y(args.pairs), read_y(args.val) if args.val else []
    steps, save_every = recipe.pop("steps"), recipe.pop("steps_per_epoch")
    patch_size, batch_size = recipe.pop("patch_size"), recipe.pop("batch_size")
    rate, schedule = recipe.pop("learning_rate"), recipe.pop("lr_schedule")
    augment = recipe.pop("augment")
    if schedule == "cosine":
        rate = keras.optimizers.schedules.CosineDecay(rate, steps)
    optimizer = averaging_adam(rate, recipe.pop("ema_steps"))
    keras.utils.set_random_seed(args.seed)
    dml_only = dict(num_basis=8, seed=args.seed) if args.model == "dml" else {}
    model = DEGRADATION_MODELS[args.model](kernel_size=15, scale=4, channels="y", lr_size="same", **dml_only, **recipe)
    model.compile(optimizer=optimizer, jit_compile=True)
    os.makedirs(args.out_dir, exist_ok=True)
    log_path = os.path.join(args.out_dir, "log.csv")
    with open(log_path, "w", newline="") as handle:
        scored = ["val_psnr", "val_psnr_raw"] if optimizer.use_ema else ["val_psnr"]
        csv.writer(handle).writerow(["steps", "seconds", "loss"] + (scored if val_pairs else []))
    stream = crop_stream(pairs, patch_size, batch_size, args.seed, augment)
    losses = []
    for step in range(1, steps + 1):
        hr, lr = next(stream)
        losses.append(float(model.train_on_batch(hr, lr, return_dict=True)["loss"]))
        if step % save_every == 0 or step == steps:
            seconds = time.perf_counter() - start
            loss, losses = float(np.mean(losses)), []
            scores = _save_and_score(model, optimizer, args.out_dir, val_pairs)
            with open(log_path, "a", newline="") as handle:
                csv.writer(handle).writerow([step, f"{seconds:.1f}", f"{loss:.6g}"] + [f"{x:.4f}" for x in scores])
            shown = " / ".join(f"{x:.2f}" for x in scores)
            print(f"{args.model} step {step}: {seconds:.0f} s, loss {loss:.4g}, val PSNR {shown}", flush=True)
            if args.max_minutes is not None and seconds > 60 * args.max_minutes:
                break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
