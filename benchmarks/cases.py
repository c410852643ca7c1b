"""The benchmark cases, one function each (`CASES`: name → (group, function)); `python -m benchmarks.cases NAME`
runs one in this process and prints `{"ms": ..., "peak_mb": ...}` as the last line (`benchmarks.run` runs each
in a fresh process, so that its peak memory is its own). Times are medians after a warm-up, in ms."""

import json
import os
import resource
import statistics
import sys
import time

import numpy as np

keras = tf = DegradationModel = basis_filter = basis_to_pixel_kernels = per_pixel_filter = None  # set by _load()


def _load():
    """Keras, TensorFlow (when it is the backend) and the package's pieces, imported in a case's own process only
    (`benchmarks.run` reads `CASES` without them)."""
    global keras, tf, DegradationModel, basis_filter, basis_to_pixel_kernels, per_pixel_filter
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    from dml_keras.models import DegradationModel
    from dml_keras.ops.filtering import basis_filter, basis_to_pixel_kernels, per_pixel_filter

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

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
    from dml_keras.specs import SynthesisRun
    from dml_keras.workflows.shards import synthesize_shards
    from dml_keras.data.synthesis import synthesize_folder
    from dml_keras.data.records import tfrecord_dataset
    from dml_keras.loading import load_model
    photos, out = clean_photos(count), tempfile.mkdtemp()
    model = load_model("bicubic", lr_size="native")
    synthesize_folder(model, photos, f"{out}/png", progress=False)
    spec = SynthesisRun.of(model="bicubic", hr_dir=photos, out_dir=f"{out}/tfrecord", lr_size="native",
                           examples_per_shard=16)
    synthesize_shards(spec.resolved(), progress=False)
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
    from dml_keras.specs import SynthesisRun
    from dml_keras.workflows.shards import load_degradation, synthesize_shards
    photos, out = clean_photos(count), tempfile.mkdtemp()
    spec = SynthesisRun.of(model="dml_realsr_x4", hr_dir=photos, out_dir=f"{out}/single", examples_per_shard=1)
    spec = spec.resolved()
    model = load_degradation(spec)
    synthesize_shards(spec.set("out_dir", f"{out}/warm"), progress=False, model=model)
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


def degrade_12mp_case():
    model = DegradationModel(seed=0)
    photo = np.random.default_rng(0).random((3000, 4000, 3)).astype("float32")
    return timed(lambda: model.degrade(photo), repeat=1)


def synthesis_case():
    it = iter(synthetic_pairs())
    return timed(lambda: next(it), repeat=20)


def vdsr_step_case():
    from dml_keras.models import VDSR
    model = VDSR()
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
    x = np.random.default_rng(0).random((16, 48, 48, 1)).astype("float32")
    model.train_on_batch(x, x)
    return timed(lambda: model.train_on_batch(x, x))


def synthesis_4crops_case():
    it = iter(synthetic_pairs(crops_per_image=4))
    return timed(lambda: next(it), repeat=20)


def synthesis_pydataset_4crops_case():
    data = synthetic_pairs(crops_per_image=4, pydataset=True)
    it = iter(range(10**6))
    return timed(lambda: data[next(it)], repeat=20)


def vdsr_fit_in_memory_case():
    lr, hr = next(iter(synthetic_pairs()))
    return vdsr_fit_ms(tf.data.Dataset.from_tensors((lr, hr)).repeat())


CASES = {
    "baseline": ("", lambda: None),
    "filter_side_by_side": ("filter", lambda: filter_side_by_side()),
    "filter_forward_conv": ("filter", lambda: filter_case('conv', 16, 192, train=False)),
    "filter_forward_patches": ("filter", lambda: filter_case('patches', 16, 192, train=False)),
    "filter_train_conv": ("filter", lambda: filter_case('conv', 16, 192, train=True)),
    "filter_train_patches": ("filter", lambda: filter_case('patches', 16, 192, train=True)),
    "filter_forward_conv_2048": ("filter2048", lambda: filter_case('conv', 1, 2048, train=False, repeat=3)),
    "filter_forward_patches_2048": ("filter2048", lambda: filter_case('patches', 1, 2048, train=False, repeat=1)),
    "filter_train_conv_2048": ("filter2048", lambda: filter_case('conv', 1, 2048, train=True, repeat=1)),
    "filter_train_conv_16x512": ("filter2048", lambda: filter_case('conv', 16, 512, train=True, repeat=1)),
    "train_step_192": ("train", lambda: train_step_ms(192)),
    "train_step_96": ("train", lambda: train_step_ms(96)),
    "train_step_96_xla": ("train", lambda: train_step_ms(96, jit_compile=True)),
    "train_step_96_jax": ("train", lambda: train_step_ms(96, jit_compile=True)),
    "cli_step_96": ("train", lambda: cli_step_ms(96)),
    "cli_step_96_jax": ("train", lambda: cli_step_ms(96)),
    "conv_rate": ("", lambda: conv_gflops()),
    "flops": ("flops", lambda: flops_case()),
    "degrade_12mp": ("degrade", degrade_12mp_case),
    "synthesis": ("synthesis", synthesis_case),
    "vdsr_step": ("synthesis", vdsr_step_case),
    "vdsr_fit_synthetic": ("synthesis", lambda: vdsr_fit_ms(synthetic_pairs())),
    "vdsr_fit_synthetic_4crops": ("synthesis", lambda: vdsr_fit_ms(synthetic_pairs(crops_per_image=4))),
    "synthesis_4crops": ("synthesis", synthesis_4crops_case),
    "synthesis_pydataset_4crops": ("synthesis", synthesis_pydataset_4crops_case),
    "vdsr_fit_in_step_4crops": ("synthesis", lambda: vdsr_fit_ms(synthetic_pairs(crops_per_image=4, in_step=True), in_step=True)),
    "vdsr_fit_in_memory": ("synthesis", vdsr_fit_in_memory_case),
    "sr_untiled": ("sr", lambda: sr_case(tile_size=4096)),
    "sr_tiled": ("sr", lambda: sr_case(tile_size=512)),
    "latency_dml": ("latency", lambda: export_latency('saved_models/dml_realsr_x4.keras')),
    "latency_vdsr": ("latency", lambda: export_latency('saved_models/vdsr_x4_real_syndml.keras')),
    "startup": ("startup", lambda: startup_case()),
    "shard_read": ("shards", lambda: shard_read_case()),
    "beam_direct": ("shards", lambda: beam_case()),
}


if __name__ == "__main__":
    _load()
    result = CASES[sys.argv[1]][1]()
    print(json.dumps({"ms": result, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}), flush=True)
    # os._exit: a tf.data iterator over an endless dataset with py functions can deadlock the interpreter's
    # shutdown; the figures are printed by then
    os._exit(0)
