"""Benchmarks that print ratios measured side by side in one run.

    python -m benchmarks [--quick] [--only GROUP,...] [--json FILE]

Each case runs in a fresh subprocess so its peak memory (ru_maxrss) is its
own; times are the median of several repetitions after a warm-up. Groups:
filter, filter2048, train, flops, degrade, synthesis, sr, latency, startup, shards (`--quick`
leaves out the 2048² filter, the 192² training step, the patches-form
training step and the 12-megapixel photo). Keys of the JSON output (floats):

- `filter_{forward,train}_{conv,patches}_ms`, `..._peak_mb`: the spatially variant filter
  (M = 8, K = 15) on 16×192²×1, conv form vs extract_patches form; `train` = forward
  + gradients for the image and the weights. Times: the four run alternately in one
  process (medians of 9); peak resident memory above the process baseline: each alone
- `filter_{forward,train}_speedup`, `filter_{forward,train}_memory_ratio`: patches / conv
- `filter_forward_{conv,patches}_2048_ms` (+ `_peak_mb`), `filter_forward_2048_speedup`,
  `filter_forward_2048_memory_ratio`: the same on one 2048² image
- `filter_train_conv_2048_ms`, `filter_train_conv_16x512_ms`, `filter_train_2048_tiles_speedup`:
  gradient on one 2048² image vs the same pixels as a batch of 16 tiles of 512²
- `train_step_192_ms`, `train_step_96_ms`, `train_step_96_xla_ms`, `train_step_96_jax_ms`:
  DegradationModel (paper settings) training step, batch 16, 192² and 96²; 96² with
  `jit_compile=True` (XLA), and under `KERAS_BACKEND=jax` (jit; when JAX is installed)
- `cli_step_96_ms`, `cli_step_vs_train_step`: a step of `train_degradation` (what `dml
  train-degradation PAIRS --patch-size 96 --batch-size 16` runs: crops from 8 PNG pairs, the
  weight average, logs) with TensorFlow, median of steps 11-40 timed at each batch's end, and its
  ratio to `train_step_96_ms` (> 1: the share of the input pipeline and the callbacks);
  `cli_step_96_jax_ms`, `cli_step_jax_vs_train_step`: the same under JAX (its crops: a PyDataset)
- `predictor_flops_per_pixel`, `filter_flops_per_pixel`: forward FLOPs per HR pixel (TF's
  profiler: a multiply-add counts 2) of the weight predictor and of the filter
- `machine_conv_gflops`: this machine's measured throughput on a plain 3×3, 64→64 convolution
- `train_step_gflops`, `train_step_fraction_of_machine`: the 192² (or, with --quick, 96²)
  training step's arithmetic rate (forward × 3 for forward + backward) and its share of the above
- `degrade_12mp_mps`, `degrade_12mp_peak_mb`: `degrade()` on a 4000×3000 RGB photo
- `synthesis_pairs_per_s`, `vdsr_step_pairs_per_s`, `synthesis_to_training_ratio`:
  on-the-fly synthesis (DML, 16×48², from 16 full-HD PNGs) alone vs the full VDSR training
  step alone; `synthesis_4crops_*`: the same with `crops_per_image=4`
- `vdsr_fit_synthetic_ms`, `vdsr_fit_in_memory_ms`, `pipeline_slowdown`: `model.fit` step
  time fed by on-the-fly synthesis vs by one batch held in memory, sharing the
  same cores (1.0 = the pipeline is never the bottleneck); `vdsr_fit_synthetic_4crops_ms`,
  `pipeline_slowdown_4crops`: the same with `crops_per_image=4`; `synthesis_pydataset_4crops_pairs_per_s`,
  `synthesis_pydataset_vs_tf_data`: the TensorFlow-free `PyDataset` of the same batches (one thread,
  what the trainers use without TensorFlow) and its rate as a share of `tf.data`'s;
  `vdsr_fit_in_step_4crops_ms`, `in_step_vs_pipeline_4crops`: the `model.fit` step with the DML
  degradation inside the training step (`--synthesis in-step`, clean crops from the PyDataset) and its
  ratio to the step fed by `tf.data` synthesis (`vdsr_fit_synthetic_4crops_ms`)
- `sr_untiled_mps`, `sr_tiled_mps`, `sr_tiled_vs_untiled`: the shipped VDSR on a 1024² Y image
  in one call vs in tiles of 512 (the default; 32 px context)
- `startup_help_ms`, `startup_presets_ms`, `startup_one_step_ms`, `startup_help_vs_one_step`: wall time of
  `dml --help`, `dml presets` (neither imports Keras) and `dml evaluate-degradation bicubic` on one 64² pair
  (imports Keras and TensorFlow), each a fresh process
- `latency_{dml,vdsr}_{runtime}_ms_per_mp`, `latency_{dml,vdsr}_{runtime}_vs_keras`: one 512² RGB
  photo through the shipped DML / VDSR model in each runtime (`keras` = tf.function,
  `savedmodel`, `tflite`, `tflite_float16`, `tflite_dynamic`, `onnx` when installed),
  ms per megapixel and as a ratio to Keras (< 1 = faster)

- `read_png_folder_pairs_per_s`, `read_tfrecord_pairs_per_s`, `tfrecord_vs_png_read`: pairs (HR 512²,
  native LR 128², 64 of them, 8 passes; median of 3 alternating rounds) read and decoded by `tf.data` from a PNG pair folder vs from the
  TFRecord shards of the same pairs (`dml_keras.data.records.tfrecord_dataset`), page cache warm
- `synthesize_tfrecord_pairs_per_s`, `beam_direct_pairs_per_s`, `beam_direct_pairs_per_s_per_core`,
  `beam_vs_single_process`, `beam_same_bytes`: `dml synthesize --format tfrecord` with the shipped DML
  model on 32 photos of 512² in this process (TensorFlow uses every core) vs the Beam pipeline on the
  DirectRunner with one worker process per core (start-up included), and whether their shards are
  byte-identical (1.0); `beam_direct_steady_pairs_per_s`, `beam_steady_vs_single_process`: the
  pipeline's rate from its first finished shard to its last (its workers started)

Every run first prints the machine (CPU model, cores this process may use, vector
extensions, TensorFlow/Keras versions) and its measured convolution rate
(`machine_conv_gflops`, always measured), so that each timing is read beside
the machine it came from; `--json` writes them under `machine`.

GPU figures (JAX backend, no TensorFlow needed) come from `benchmarks/gpu_jax.py`.
"""

import argparse
import importlib.util
import json
import math
import os
import subprocess
import sys

from benchmarks.cases import CASES

SLOW = {"filter_forward_conv_2048", "filter_forward_patches_2048", "filter_train_conv_2048", "filter_train_conv_16x512",
        "filter_train_patches", "train_step_192", "degrade_12mp"}

def run_case(name):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if name.endswith("_jax"):
        if importlib.util.find_spec("jax") is None:
            return None
        env["KERAS_BACKEND"] = "jax"
    out = subprocess.run([sys.executable, "-m", "benchmarks.cases", name], capture_output=True, text=True, env=env,
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if out.returncode != 0:
        print(f"  case {name} failed (exit {out.returncode}): {out.stderr.strip().splitlines()[-1:]} ", file=sys.stderr)
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def figures_from(raw):
    """Every figure that the measured cases allow, under the keys documented above."""
    base = raw["baseline"]["peak_mb"]
    figures = {}

    def ms(name):
        return raw[name]["ms"] if raw.get(name) else math.nan

    def peak(name):
        return raw[name]["peak_mb"] - base if raw.get(name) else math.nan

    side = raw.get("filter_side_by_side") or {}
    for kind in ("forward", "train"):
        for form in ("conv", "patches"):
            if f"filter_{kind}_{form}" in raw:
                figures[f"filter_{kind}_{form}_ms"] = side.get("ms", {}).get(f"{kind}_{form}", math.nan)
                figures[f"filter_{kind}_{form}_peak_mb"] = peak(f"filter_{kind}_{form}")
        if f"filter_{kind}_patches" in raw and f"filter_{kind}_conv" in raw:
            figures[f"filter_{kind}_speedup"] = figures[f"filter_{kind}_patches_ms"] / figures[f"filter_{kind}_conv_ms"]
            figures[f"filter_{kind}_memory_ratio"] = figures[f"filter_{kind}_patches_peak_mb"] / max(figures[f"filter_{kind}_conv_peak_mb"], 1.0)
    if "filter_forward_conv_2048" in raw:
        for form in ("conv", "patches"):
            figures[f"filter_forward_{form}_2048_ms"] = ms(f"filter_forward_{form}_2048")
            figures[f"filter_forward_{form}_2048_peak_mb"] = peak(f"filter_forward_{form}_2048")
        figures["filter_forward_2048_speedup"] = figures["filter_forward_patches_2048_ms"] / figures["filter_forward_conv_2048_ms"]
        figures["filter_forward_2048_memory_ratio"] = figures["filter_forward_patches_2048_peak_mb"] / max(figures["filter_forward_conv_2048_peak_mb"], 1.0)
        figures["filter_train_conv_2048_ms"] = ms("filter_train_conv_2048")
        figures["filter_train_conv_16x512_ms"] = ms("filter_train_conv_16x512")
        figures["filter_train_2048_tiles_speedup"] = figures["filter_train_conv_2048_ms"] / figures["filter_train_conv_16x512_ms"]
    for name in ("train_step_192", "train_step_96", "train_step_96_xla", "train_step_96_jax", "cli_step_96",
                 "cli_step_96_jax"):
        if name in raw:
            figures[f"{name}_ms"] = ms(name)
    if raw.get("cli_step_96") and raw.get("train_step_96"):
        figures["cli_step_vs_train_step"] = ms("cli_step_96") / ms("train_step_96")
    if raw.get("cli_step_96_jax") and raw.get("train_step_96_jax"):
        figures["cli_step_jax_vs_train_step"] = ms("cli_step_96_jax") / ms("train_step_96_jax")
    if raw.get("conv_rate"):
        figures["machine_conv_gflops"] = raw["conv_rate"]["ms"]
    if raw.get("flops"):
        flops = raw["flops"]["ms"]
        figures["predictor_flops_per_pixel"] = flops["predictor"]
        figures["filter_flops_per_pixel"] = flops["filter"]
        size, step = (192, figures.get("train_step_192_ms")) if "train_step_192" in raw else (96, figures.get("train_step_96_ms"))
        if step:
            per_step = 3 * 16 * size * size * (flops["predictor"] + flops["filter"])
            figures["train_step_gflops"] = per_step / (step / 1000.0) / 1e9
            figures["train_step_fraction_of_machine"] = figures["train_step_gflops"] / flops["machine_gflops"]
    if "degrade_12mp" in raw:
        figures["degrade_12mp_mps"] = 12.0 / (ms("degrade_12mp") / 1000.0)
        figures["degrade_12mp_peak_mb"] = peak("degrade_12mp")
    if "synthesis" in raw:
        figures["synthesis_pairs_per_s"] = 16 / (ms("synthesis") / 1000.0)
        figures["vdsr_step_pairs_per_s"] = 16 / (ms("vdsr_step") / 1000.0)
        figures["synthesis_to_training_ratio"] = figures["synthesis_pairs_per_s"] / figures["vdsr_step_pairs_per_s"]
        figures["vdsr_fit_synthetic_ms"] = ms("vdsr_fit_synthetic")
        figures["vdsr_fit_in_memory_ms"] = ms("vdsr_fit_in_memory")
        figures["pipeline_slowdown"] = figures["vdsr_fit_synthetic_ms"] / figures["vdsr_fit_in_memory_ms"]
        figures["synthesis_4crops_pairs_per_s"] = 16 / (ms("synthesis_4crops") / 1000.0)
        figures["synthesis_4crops_to_training_ratio"] = figures["synthesis_4crops_pairs_per_s"] / figures["vdsr_step_pairs_per_s"]
        figures["vdsr_fit_synthetic_4crops_ms"] = ms("vdsr_fit_synthetic_4crops")
        figures["pipeline_slowdown_4crops"] = figures["vdsr_fit_synthetic_4crops_ms"] / figures["vdsr_fit_in_memory_ms"]
        figures["synthesis_pydataset_4crops_pairs_per_s"] = 16 / (ms("synthesis_pydataset_4crops") / 1000.0)
        figures["vdsr_fit_in_step_4crops_ms"] = ms("vdsr_fit_in_step_4crops")
        figures["in_step_vs_pipeline_4crops"] = figures["vdsr_fit_in_step_4crops_ms"] / figures["vdsr_fit_synthetic_4crops_ms"]
        figures["synthesis_pydataset_vs_tf_data"] = (figures["synthesis_pydataset_4crops_pairs_per_s"]
                                                     / figures["synthesis_4crops_pairs_per_s"])
    if "sr_tiled" in raw:
        figures["sr_untiled_mps"] = 1024 * 1024 / 1e6 / (ms("sr_untiled") / 1000.0)
        figures["sr_tiled_mps"] = 1024 * 1024 / 1e6 / (ms("sr_tiled") / 1000.0)
        figures["sr_tiled_vs_untiled"] = figures["sr_tiled_mps"] / figures["sr_untiled_mps"]
    for model in ("dml", "vdsr"):
        if raw.get(f"latency_{model}"):
            per_runtime = raw[f"latency_{model}"]["ms"]
            for runtime, value in per_runtime.items():
                figures[f"latency_{model}_{runtime}_ms_per_mp"] = value
                figures[f"latency_{model}_{runtime}_vs_keras"] = value / per_runtime["keras"]
    if raw.get("shard_read"):
        rates = raw["shard_read"]["ms"]
        figures["read_png_folder_pairs_per_s"] = rates["png"]
        figures["read_tfrecord_pairs_per_s"] = rates["tfrecord"]
        figures["tfrecord_vs_png_read"] = rates["tfrecord"] / rates["png"]
    if raw.get("beam_direct"):
        beam = raw["beam_direct"]["ms"]
        figures["synthesize_tfrecord_pairs_per_s"] = beam["single"]
        figures["beam_direct_pairs_per_s"] = beam["beam"]
        figures["beam_direct_pairs_per_s_per_core"] = beam["beam"] / beam["cores"]
        figures["beam_vs_single_process"] = beam["beam"] / beam["single"]
        figures["beam_direct_steady_pairs_per_s"] = beam["steady"]
        figures["beam_steady_vs_single_process"] = beam["steady"] / beam["single"]
        figures["beam_same_bytes"] = beam["same_bytes"]
    return figures


def startup_figures(raw):
    """`startup_*`: wall time of `dml --help`, of `dml presets` and of a one-pair `evaluate-degradation`."""
    if not raw.get("startup"):
        return {}
    times = raw["startup"]["ms"]
    figures = {f"startup_{name}_ms": value for name, value in times.items()}
    figures["startup_help_vs_one_step"] = times["help"] / times["one_step"]
    return figures


def machine():
    """What the timings ran on: CPU model, usable cores, vector extensions, library versions."""
    from dml_keras.machine import machine, versions

    return {**machine(), **versions(("tensorflow", "keras", "jax"))}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="FILE", help="write every figure under its key")
    parser.add_argument("--quick", action="store_true", help="leave out the slowest cases (see above)")
    parser.add_argument("--only", help="comma-separated groups: filter, filter2048, train, flops, degrade, synthesis, sr, "
                                       "latency, startup, shards")
    args = parser.parse_args(argv)
    groups = set(args.only.split(",")) if args.only else None
    names = [n for n, (group, _) in CASES.items()
             if not group or ((groups is None or group in groups) and not (args.quick and n in SLOW))]
    about = machine()
    print("machine: " + ", ".join(f"{key} {value}" for key, value in about.items()))
    raw = {}
    for name in names:
        raw[name] = run_case(name)
        print(f"  measured {name}: {raw[name]}", file=sys.stderr)
    figures = {**figures_from(raw), **startup_figures(raw)}
    print(f"{'figure':46s} value")
    for key in sorted(figures):
        print(f"{key:46s} {figures[key]:.4g}")
    print(f"measured on: {about['cpu']} ({about['cores']} cores, {about['extensions']}), "
          f"plain convolution {figures.get('machine_conv_gflops', math.nan):.0f} GFLOP/s")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({**figures, "machine": about}, handle, indent=2, sort_keys=True)
    return 0
