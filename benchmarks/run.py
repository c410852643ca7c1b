"""Benchmarks that print ratios measured side by side in one run.

    python -m benchmarks [--quick] [--json FILE]

Each case runs in a fresh subprocess so its peak memory (ru_maxrss) is its
own; times are the median of several repetitions after a warm-up. Keys of
the JSON output (all floats):

- `filter_forward_conv_ms`, `filter_forward_patches_ms`, `filter_forward_speedup`:
  basis filter (conv form) vs extract_patches form, forward, 16×192²×1, M=8, K=15
- `filter_forward_conv_peak_mb`, `filter_forward_patches_peak_mb`, `filter_forward_memory_ratio`:
  peak resident memory above the process baseline for the same
- `train_step_192_ms`, `train_step_96_ms`: DegradationModel training step, batch 16, 192² and 96²
- `degrade_12mp_mps`, `degrade_12mp_peak_mb`: `degrade()` on a 4000×3000 RGB photo
- `synthesis_pairs_per_s`, `vdsr_step_pairs_per_s`, `synthesis_to_training_ratio`:
  on-the-fly synthesis (DML, 16×48²) alone vs the full VDSR training step alone
- `vdsr_fit_synthetic_ms`, `vdsr_fit_in_memory_ms`, `pipeline_slowdown`: `model.fit` step
  time fed by on-the-fly synthesis vs by one batch held in memory, sharing the
  same cores (1.0 = the pipeline is never the bottleneck)
- `latency_{dml,vdsr}_{runtime}_ms_per_mp`, `latency_{dml,vdsr}_{runtime}_vs_keras`: one 512² RGB
  photo through the shipped DML / VDSR model in each runtime (`keras` = tf.function,
  `savedmodel`, `tflite`, `tflite_float16`, `tflite_dynamic`, `onnx` when installed),
  ms per megapixel and as a ratio to Keras (< 1 = faster)
"""

import argparse
import json
import os
import subprocess
import sys
import textwrap

CASES = {
    "baseline": "",
    "filter_conv": """
        x = np.random.default_rng(0).random((16, 192, 192, 1)).astype("float32")
        basis = np.random.default_rng(1).random((15, 15, 8)).astype("float32")
        w = np.random.default_rng(2).random((16, 192, 192, 8)).astype("float32")
        f = tf.function(lambda x, w: basis_filter(x, basis, w))
        result = timed(lambda: f(x, w).numpy())
    """,
    "filter_patches": """
        x = np.random.default_rng(0).random((16, 192, 192, 1)).astype("float32")
        basis = np.random.default_rng(1).random((15, 15, 8)).astype("float32")
        w = np.random.default_rng(2).random((16, 192, 192, 8)).astype("float32")
        f = tf.function(lambda x, w: per_pixel_filter(x, basis_to_pixel_kernels(basis, w), 15))
        result = timed(lambda: f(x, w).numpy())
    """,
    "train_step_192": """
        result = train_step_ms(192)
    """,
    "train_step_96": """
        result = train_step_ms(96)
    """,
    "degrade_12mp": """
        model = DegradationModel(seed=0)
        photo = np.random.default_rng(0).random((3000, 4000, 3)).astype("float32")
        result = timed(lambda: model.degrade(photo), repeat=1)
    """,
    "synthesis": """
        it = iter(synthetic_pairs())
        result = timed(lambda: next(it), repeat=20)
    """,
    "vdsr_step": """
        from dml_keras.models import VDSR
        model = VDSR()
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
        x = np.random.default_rng(0).random((16, 48, 48, 1)).astype("float32")
        model.train_on_batch(x, x)
        result = timed(lambda: model.train_on_batch(x, x))
    """,
    "vdsr_fit_synthetic": """
        result = vdsr_fit_ms(synthetic_pairs())
    """,
    "vdsr_fit_in_memory": """
        lr, hr = next(iter(synthetic_pairs()))
        result = vdsr_fit_ms(tf.data.Dataset.from_tensors((lr, hr)).repeat())
    """,
    "latency_dml": """
        result = export_latency("saved_models/dml_realsr_x4.keras")
    """,
    "latency_vdsr": """
        result = export_latency("saved_models/vdsr_x4_real_syndml.keras")
    """,
}

PRELUDE = """
import json, os, resource, statistics, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, tensorflow as tf, keras
from dml_keras.ops.filtering import basis_filter, basis_to_pixel_kernels, per_pixel_filter
from dml_keras.models import DegradationModel

def timed(fn, repeat=5):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0

def train_step_ms(size):
    model = DegradationModel(seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4))
    x = np.random.default_rng(0).random((16, size, size, 1)).astype("float32")
    model.train_on_batch(x, x)
    return timed(lambda: model.train_on_batch(x, x))

def synthetic_pairs():
    import tempfile
    from dml_keras.data import write_image
    from dml_keras.data.sr_pipeline import synthetic_sr_dataset
    folder = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    for i in range(8):
        write_image(f"{folder}/{i}.png", rng.random((480, 640, 3)))
    return synthetic_sr_dataset(DegradationModel(seed=0), folder, patch_size=48, batch_size=16, seed=0)

def vdsr_fit_ms(dataset, steps=10):
    from dml_keras.models import VDSR
    model = VDSR()
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
    model.fit(dataset, steps_per_epoch=2, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(dataset, steps_per_epoch=steps, epochs=1, verbose=0)
    return (time.perf_counter() - start) / steps * 1000.0

def export_latency(keras_file, size=512):
    # ms per megapixel of one RGB photo through each runtime, measured side by side
    import importlib.util, tempfile
    import dml_keras.models
    from dml_keras.export import ExportedModel, export_model, rgb_forward
    model = keras.models.load_model(keras_file)
    photo = np.random.default_rng(0).random((1, size, size, 3)).astype("float32")
    forward = tf.function(rgb_forward(model))
    runners = {"keras": lambda x: forward(x).numpy()}
    folder = tempfile.mkdtemp()
    formats = [("savedmodel", "none", "sm"), ("tflite", "none", "f.tflite"), ("tflite", "float16", "h.tflite"),
               ("tflite", "dynamic", "d.tflite")]
    if importlib.util.find_spec("tf2onnx") and importlib.util.find_spec("onnxruntime"):
        formats.append(("onnx", "none", "m.onnx"))
    for fmt, quantize, name in formats:
        export_model(model, f"{folder}/{name}", fmt, quantize)
        runners[fmt if quantize == "none" else f"{fmt}_{quantize}"] = ExportedModel(f"{folder}/{name}")
    megapixels = size * size / 1e6
    return {key: timed(lambda: run(photo), repeat=3) / megapixels for key, run in runners.items()}

result = None
"""

# os._exit: a tf.data iterator over an endless dataset with py functions can
# deadlock the interpreter's shutdown; the figures are printed by then.
POSTLUDE = """
print(json.dumps({"ms": result, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}), flush=True)
os._exit(0)
"""


def run_case(name):
    code = PRELUDE + textwrap.dedent(CASES[name]) + POSTLUDE
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if out.returncode != 0:
        raise RuntimeError(f"benchmark case {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", metavar="FILE", help="write every figure under its key")
    parser.add_argument("--quick", action="store_true", help="skip the 12-megapixel and 192² training cases")
    parser.add_argument("--only", help="comma-separated groups: filter, train, degrade, synthesis, latency")
    args = parser.parse_args(argv)
    groups = {"filter": ("filter_conv", "filter_patches"), "train": ("train_step_192", "train_step_96"),
              "degrade": ("degrade_12mp",), "synthesis": ("synthesis", "vdsr_step", "vdsr_fit_synthetic", "vdsr_fit_in_memory"),
              "latency": ("latency_dml", "latency_vdsr")}
    wanted = {c for g in args.only.split(",") for c in groups[g]} if args.only else set(CASES)
    names = [n for n in CASES if n in wanted | {"baseline"} and not (args.quick and n in ("degrade_12mp", "train_step_192"))]
    raw = {}
    for name in names:
        raw[name] = run_case(name)
        print(f"  measured {name}: {raw[name]}", file=sys.stderr)
    base = raw["baseline"]["peak_mb"]
    figures = {}
    if "filter_conv" in raw:
        figures["filter_forward_conv_ms"] = raw["filter_conv"]["ms"]
        figures["filter_forward_patches_ms"] = raw["filter_patches"]["ms"]
        figures["filter_forward_conv_peak_mb"] = raw["filter_conv"]["peak_mb"] - base
        figures["filter_forward_patches_peak_mb"] = raw["filter_patches"]["peak_mb"] - base
        figures["filter_forward_speedup"] = figures["filter_forward_patches_ms"] / figures["filter_forward_conv_ms"]
        figures["filter_forward_memory_ratio"] = figures["filter_forward_patches_peak_mb"] / max(figures["filter_forward_conv_peak_mb"], 1.0)
    if "train_step_96" in raw:
        figures["train_step_96_ms"] = raw["train_step_96"]["ms"]
    if "synthesis" in raw:
        figures["synthesis_pairs_per_s"] = 16 / (raw["synthesis"]["ms"] / 1000.0)
        figures["vdsr_step_pairs_per_s"] = 16 / (raw["vdsr_step"]["ms"] / 1000.0)
        figures["synthesis_to_training_ratio"] = figures["synthesis_pairs_per_s"] / figures["vdsr_step_pairs_per_s"]
    if "vdsr_fit_synthetic" in raw:
        figures["vdsr_fit_synthetic_ms"] = raw["vdsr_fit_synthetic"]["ms"]
        figures["vdsr_fit_in_memory_ms"] = raw["vdsr_fit_in_memory"]["ms"]
        figures["pipeline_slowdown"] = figures["vdsr_fit_synthetic_ms"] / figures["vdsr_fit_in_memory_ms"]
    for model in ("dml", "vdsr"):
        if f"latency_{model}" in raw:
            per_runtime = raw[f"latency_{model}"]["ms"]
            for runtime, ms in per_runtime.items():
                figures[f"latency_{model}_{runtime}_ms_per_mp"] = ms
                figures[f"latency_{model}_{runtime}_vs_keras"] = ms / per_runtime["keras"]
    if "train_step_192" in raw:
        figures["train_step_192_ms"] = raw["train_step_192"]["ms"]
    if "degrade_12mp" in raw:
        figures["degrade_12mp_mps"] = 12.0 / (raw["degrade_12mp"]["ms"] / 1000.0)
        figures["degrade_12mp_peak_mb"] = raw["degrade_12mp"]["peak_mb"] - base
    print(f"{'figure':44s} value")
    for key in sorted(figures):
        print(f"{key:44s} {figures[key]:.3f}")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(figures, handle, indent=2, sort_keys=True)
    return 0
