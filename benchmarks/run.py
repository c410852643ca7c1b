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
import textwrap

CASES = {
    "baseline": ("", ""),
    "filter_side_by_side": ("filter", "result = filter_side_by_side()"),
    "filter_forward_conv": ("filter", "result = filter_case('conv', 16, 192, train=False)"),
    "filter_forward_patches": ("filter", "result = filter_case('patches', 16, 192, train=False)"),
    "filter_train_conv": ("filter", "result = filter_case('conv', 16, 192, train=True)"),
    "filter_train_patches": ("filter", "result = filter_case('patches', 16, 192, train=True)"),
    "filter_forward_conv_2048": ("filter2048", "result = filter_case('conv', 1, 2048, train=False, repeat=3)"),
    "filter_forward_patches_2048": ("filter2048", "result = filter_case('patches', 1, 2048, train=False, repeat=1)"),
    "filter_train_conv_2048": ("filter2048", "result = filter_case('conv', 1, 2048, train=True, repeat=1)"),
    "filter_train_conv_16x512": ("filter2048", "result = filter_case('conv', 16, 512, train=True, repeat=1)"),
    "train_step_192": ("train", "result = train_step_ms(192)"),
    "train_step_96": ("train", "result = train_step_ms(96)"),
    "train_step_96_xla": ("train", "result = train_step_ms(96, jit_compile=True)"),
    "train_step_96_jax": ("train", "result = train_step_ms(96, jit_compile=True)"),  # run with KERAS_BACKEND=jax
    "cli_step_96": ("train", "result = cli_step_ms(96)"),
    "cli_step_96_jax": ("train", "result = cli_step_ms(96)"),  # run with KERAS_BACKEND=jax
    "conv_rate": ("", "result = conv_gflops()"),
    "flops": ("flops", "result = flops_case()"),
    "degrade_12mp": ("degrade", """
        model = DegradationModel(seed=0)
        photo = np.random.default_rng(0).random((3000, 4000, 3)).astype("float32")
        result = timed(lambda: model.degrade(photo), repeat=1)
    """),
    "synthesis": ("synthesis", """
        it = iter(synthetic_pairs())
        result = timed(lambda: next(it), repeat=20)
    """),
    "vdsr_step": ("synthesis", """
        from dml_keras.models import VDSR
        model = VDSR()
        model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
        x = np.random.default_rng(0).random((16, 48, 48, 1)).astype("float32")
        model.train_on_batch(x, x)
        result = timed(lambda: model.train_on_batch(x, x))
    """),
    "vdsr_fit_synthetic": ("synthesis", "result = vdsr_fit_ms(synthetic_pairs())"),
    "vdsr_fit_synthetic_4crops": ("synthesis", "result = vdsr_fit_ms(synthetic_pairs(crops_per_image=4))"),
    "synthesis_4crops": ("synthesis", """
        it = iter(synthetic_pairs(crops_per_image=4))
        result = timed(lambda: next(it), repeat=20)
    """),
    "synthesis_pydataset_4crops": ("synthesis", """
        data = synthetic_pairs(crops_per_image=4, pydataset=True)
        it = iter(range(10**6))
        result = timed(lambda: data[next(it)], repeat=20)
    """),
    "vdsr_fit_in_step_4crops": ("synthesis", "result = vdsr_fit_ms(synthetic_pairs(crops_per_image=4, in_step=True), in_step=True)"),
    "vdsr_fit_in_memory": ("synthesis", """
        lr, hr = next(iter(synthetic_pairs()))
        result = vdsr_fit_ms(tf.data.Dataset.from_tensors((lr, hr)).repeat())
    """),
    "sr_untiled": ("sr", "result = sr_case(tile_size=4096)"),
    "sr_tiled": ("sr", "result = sr_case(tile_size=512)"),
    "latency_dml": ("latency", "result = export_latency('saved_models/dml_realsr_x4.keras')"),
    "latency_vdsr": ("latency", "result = export_latency('saved_models/vdsr_x4_real_syndml.keras')"),
    "startup": ("startup", "result = startup_case()"),
    "shard_read": ("shards", "result = shard_read_case()"),
    "beam_direct": ("shards", "result = beam_case()"),
}
SLOW = {"filter_forward_conv_2048", "filter_forward_patches_2048", "filter_train_conv_2048", "filter_train_conv_16x512",
        "filter_train_patches", "train_step_192", "degrade_12mp"}

PRELUDE = """
import dataclasses, json, os, resource, statistics, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, keras
if keras.backend.backend() == "tensorflow":
    import tensorflow as tf
from dml_keras.ops.filtering import basis_filter, basis_to_pixel_kernels, per_pixel_filter
from dml_keras.models import DegradationModel

def timed(fn, repeat=5):
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0

def filter_case(form, batch, size, train, repeat=15):
    return timed(filter_fn(form, batch, size, train), repeat)

def filter_fn(form, batch, size, train):
    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((batch, size, size, 1)).astype("float32"))
    basis = tf.constant(rng.random((15, 15, 8)).astype("float32"))
    w = tf.constant(rng.random((batch, size, size, 8)).astype("float32"))
    if form == "conv":
        apply = lambda x, w: basis_filter(x, basis, w)
    else:
        apply = lambda x, w: per_pixel_filter(x, basis_to_pixel_kernels(basis, w), 15)
    if not train:
        f = tf.function(apply)
        return lambda: f(x, w).numpy()
    @tf.function
    def step(x, w):
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            loss = tf.reduce_sum(apply(x, w) ** 2)
        return tape.gradient(loss, [x, w])
    return lambda: [g.numpy() for g in step(x, w)]

def filter_side_by_side(repeat=9):
    # both forms alternately in one process, so a noisy neighbour slows both alike
    runs = {(kind, form): filter_fn(form, 16, 192, kind == "train") for kind in ("forward", "train") for form in ("conv", "patches")}
    times = {key: [] for key in runs}
    for fn in runs.values():
        fn()
    for _ in range(repeat):
        for key, fn in runs.items():
            start = time.perf_counter(); fn(); times[key].append(time.perf_counter() - start)
    return {f"{kind}_{form}": statistics.median(t) * 1000.0 for (kind, form), t in times.items()}

def train_step_ms(size, jit_compile=False):
    model = DegradationModel(seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit_compile)
    x = np.random.default_rng(0).random((16, size, size, 1)).astype("float32")
    model.train_on_batch(x, x)
    return timed(lambda: model.train_on_batch(x, x))

def cli_step_ms(size, steps=40, warm=10):
    # the median time between batch ends of a `train_degradation` run, after `warm` steps
    import tempfile
    from dml_keras.data import write_image
    from dml_keras.workflows.degradation import train_degradation
    folder = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    for i in range(8):
        photo = rng.random((384, 384, 3)).astype("float32")
        write_image(f"{folder}/hr/{i}.png", photo)
        write_image(f"{folder}/lr/{i}.png", photo)

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ends = []

        def on_train_batch_end(self, batch, logs=None):
            self.ends.append(time.perf_counter())

    clock = Clock()
    train_degradation(folder, tempfile.mkdtemp(), patch_size=size, batch_size=16, steps=steps,
                      steps_per_epoch=steps, verbose=0, callbacks=[clock])
    return statistics.median(np.diff(clock.ends[warm:])) * 1000.0

def conv_gflops():
    # this machine's rate on a plain 3x3, 64->64 convolution of 16 x 96² x 64 with TensorFlow, GFLOP/s
    x = tf.constant(np.random.default_rng(0).random((16, 96, 96, 64)).astype("float32"))
    k = tf.constant(np.random.default_rng(1).random((3, 3, 64, 64)).astype("float32"))
    conv = tf.function(lambda x: tf.nn.conv2d(x, k, 1, "SAME"))
    return 2 * 16 * 96 * 96 * 64 * 64 * 9 / (timed(lambda: conv(x).numpy()) / 1000.0) / 1e9

def graph_flops(fn, spec):
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2
    frozen = convert_variables_to_constants_v2(tf.function(fn).get_concrete_function(spec))
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph=frozen.graph, options=options).total_float_ops

def flops_case():
    model = DegradationModel(seed=0)
    model(np.zeros((1, 192, 192, 1), "float32"))
    spec = tf.TensorSpec([1, 192, 192, 1], tf.float32)
    pixels = 192 * 192
    predictor = graph_flops(lambda x: model.predictor(x), spec) / pixels
    weights = tf.TensorSpec([1, 192, 192, 8], tf.float32)
    basis = model.basis_kernels
    filt = graph_flops(lambda x: basis_filter(x, basis, tf.ones([1, 192, 192, 8])), spec) / pixels
    return {"predictor": predictor, "filter": filt, "machine_gflops": conv_gflops()}

def synthetic_pairs(crops_per_image=1, size=(1080, 1920), pydataset=False, in_step=False):
    import tempfile
    from dml_keras.data import write_image
    folder = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    for i in range(16):  # full-HD photos, as clean HR sets (DIV2K, Flickr2K) are
        write_image(f"{folder}/{i}.png", rng.random(size + (3,)))
    if pydataset or in_step:  # the TensorFlow-free path (data.synthetic_batches), the same batches
        from dml_keras.data.synthetic_batches import synthetic_batches
        return synthetic_batches(DegradationModel(seed=0), folder, patch_size=48, batch_size=16, seed=0,
                                 crops_per_image=crops_per_image, in_step=in_step)
    from dml_keras.data.sr_pipeline import synthetic_sr_dataset
    return synthetic_sr_dataset(DegradationModel(seed=0), folder, patch_size=48, batch_size=16, seed=0,
                                crops_per_image=crops_per_image)

def vdsr_fit_ms(dataset, steps=10, in_step=False):
    # ms per step of the second epoch of one fit (the first fills the pipeline and traces)
    from dml_keras.models import VDSR

    class SecondEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = time.perf_counter() - self.start

    model, clock = VDSR(), SecondEpoch()
    if in_step:  # the degradation in the step: clean crops and noise come in
        from dml_keras.trainers.in_step import InStepSynthesis
        model = InStepSynthesis(model, DegradationModel(seed=0), dataset.margin, 48)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
    model.fit(dataset, steps_per_epoch=steps, epochs=2, verbose=0, callbacks=[clock])
    return clock.seconds / steps * 1000.0

def sr_case(tile_size, size=1024):
    import dml_keras.models
    from dml_keras.models.sr_base import run_tiled
    model = keras.models.load_model("saved_models/vdsr_x4_real_syndml.keras")
    image = np.random.default_rng(0).random((size, size, 1)).astype("float32")
    return timed(lambda: run_tiled(model, image, tile_size=tile_size), repeat=3)

def startup_case(repeat=3):
    # median wall time (ms) of `python -m dml_keras --help`, `presets` and `evaluate-degradation bicubic` on one
    # 64x64 pair: what answering takes, without and with Keras/TensorFlow imported
    import subprocess, sys, tempfile
    from dml_keras.data.io import write_image
    folder = tempfile.mkdtemp()
    photo = np.random.default_rng(0).random((64, 64, 3)).astype("float32")
    write_image(os.path.join(folder, "hr", "a.png"), photo)
    write_image(os.path.join(folder, "lr", "a.png"), photo[::4, ::4])
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    def wall(*args):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-m", "dml_keras", *args], capture_output=True, check=True, env=env,
                           cwd=tempfile.gettempdir())
            times.append((time.perf_counter() - start) * 1000)
        return statistics.median(times)
    return {"help": wall("--help"), "presets": wall("presets"),
            "one_step": wall("evaluate-degradation", "bicubic", folder)}


def clean_photos(count, size=512):
    # `count` distinct size² crops of scikit-image's photos (flipped and shifted): real image content, so the PNGs
    # compress as photos do
    import tempfile, skimage.data
    from dml_keras.data import write_image
    folder = tempfile.mkdtemp()
    sources = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee(), skimage.data.rocket()]
    for i in range(count):
        photo = np.asarray(sources[i % 4], np.float32) / 255.0
        photo = np.tile(photo[:, ::-1] if (i // 4) % 2 else photo, (3, 3, 1))
        y, x = (i * 37) % (photo.shape[0] - size), (i * 53) % (photo.shape[1] - size)
        write_image(f"{folder}/photo_{i:03d}.png", photo[y:y + size, x:x + size])
    return folder

def shard_read_case(count=64, passes=8):
    # pairs per second read and decoded by tf.data: from a PNG pair folder (two files a pair) vs from the
    # TFRecord shards of the same pairs (dml synthesize --format tfrecord); HR 512², native LR 128²
    import tempfile
    from dml_keras.workflows.shards import SynthesisSpec, synthesize_shards
    from dml_keras.data.synthesis import synthesize_folder
    from dml_keras.data.records import tfrecord_dataset
    from dml_keras.loading import load_model
    photos, out = clean_photos(count), tempfile.mkdtemp()
    model = load_model("bicubic", lr_size="native")
    synthesize_folder(model, photos, f"{out}/png", progress=False)
    synthesize_shards(SynthesisSpec("bicubic", photos, f"{out}/tfrecord", lr_size="native", examples_per_shard=16),
                      progress=False)
    names = sorted(os.listdir(f"{out}/png/hr"))
    autotune = tf.data.AUTOTUNE
    def load(hr, lr):
        decode = lambda path: tf.cast(tf.io.decode_png(tf.io.read_file(path), channels=3), tf.float32) / 255.0
        return decode(hr), decode(lr)
    png = tf.data.Dataset.from_tensor_slices(([f"{out}/png/hr/{n}" for n in names], [f"{out}/png/lr/{n}" for n in names]))
    datasets = {"png": png.map(load, num_parallel_calls=autotune), "tfrecord": tfrecord_dataset(f"{out}/tfrecord")}
    rates = {kind: [] for kind in datasets}
    for round in range(4):  # alternately; the first round warms the page cache and is not counted
        for kind, dataset in datasets.items():
            start = time.perf_counter()
            seen = sum(1 for _ in dataset.repeat(passes).prefetch(autotune))
            rates[kind].append(seen / (time.perf_counter() - start))
    return {kind: statistics.median(values[1:]) for kind, values in rates.items()}

def beam_case(count=32):
    # pairs per second of `dml synthesize --format tfrecord` (the shipped DML model, 512² photos, 1 per shard)
    # in this process vs the Beam pipeline on the DirectRunner with one worker process per core
    import subprocess, sys, tempfile
    from dml_keras.workflows.shards import SynthesisSpec, synthesize_shards
    photos, out = clean_photos(count), tempfile.mkdtemp()
    spec = SynthesisSpec("dml_realsr_x4", photos, f"{out}/single", examples_per_shard=1)
    model = spec.load()
    synthesize_shards(dataclasses.replace(spec, out_dir=f"{out}/warm"), progress=False, model=model)
    start = time.perf_counter()
    synthesize_shards(spec, progress=False, model=model)
    single = count / (time.perf_counter() - start)
    cores = len(os.sched_getaffinity(0))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dml_keras.beam", "dml_realsr_x4", photos, "--out", f"{out}/beam",
                    "--examples-per-shard", "1", "--beam-args",
                    f"--direct_num_workers {cores} --direct_running_mode multi_processing"],
                   check=True, capture_output=True)
    beam = count / (time.perf_counter() - start)
    done = sorted(os.path.getmtime(f"{out}/beam/{f}") for f in os.listdir(f"{out}/beam") if f.endswith(".tfrecord.json"))
    steady = (len(done) - 1) / (done[-1] - done[0])  # after the workers have started: first to last shard
    same = all(open(f"{out}/single/{f}", "rb").read() == open(f"{out}/beam/{f}", "rb").read()
               for f in os.listdir(f"{out}/single") if f.endswith(".tfrecord"))
    return {"single": single, "beam": beam, "steady": steady, "cores": cores, "same_bytes": float(same)}


def export_latency(keras_file, size=512):
    # ms per megapixel of one RGB photo through each runtime, measured side by side
    import importlib.util, tempfile
    import dml_keras.models
    from dml_keras.export import export_model, rgb_forward
    from dml_keras.runtime import ExportedModel
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
    code = PRELUDE + textwrap.dedent(CASES[name][1]) + POSTLUDE
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    if name.endswith("_jax"):
        if importlib.util.find_spec("jax") is None:
            return None
        env["KERAS_BACKEND"] = "jax"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
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
    import platform
    from importlib.metadata import PackageNotFoundError, version

    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
    except OSError:
        pass
    extensions = [x for x in ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile") if x in flags]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    versions = {}
    for package in ("tensorflow", "keras", "jax"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            pass
    return {"cpu": model, "cores": cores, "extensions": " ".join(extensions) or "none reported", **versions}


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
