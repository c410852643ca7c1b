"""GPU figures with the JAX backend: needs only `keras` and `jax` (no TensorFlow).

    KERAS_BACKEND=jax python benchmarks/gpu_jax.py [--quick] [--json FILE]

One run of a few minutes prints:

- `dml_step_{float32,mixed_bfloat16}_ms`: a `DegradationModel` training step with the
  paper's settings (M = 8, K = 15, batch 16 × 192² Y crops, Adam), jit-compiled, after warm-up
- `paper_100k_minutes_{float32,mixed_bfloat16}`: the paper's 100K iterations at that rate
- `degrade_4k_mps`: megapixels per second of a 3840×2160 RGB photo through the model in one
  call (`predict_on_batch`, jit-compiled); `degrade_4k_tiled_mps`: the same with `degrade()`
  in tiles of 1024 (bounded memory)

`--quick` uses small sizes so the script can be checked on a CPU (it runs with only keras,
its own dependencies, JAX and NumPy importable: checked with TensorFlow, OpenCV, Pillow,
scikit-image and tqdm blocked). On a GPU machine that has JAX but not Keras, bring Keras as
wheels and those of its dependencies the machine lacks (from this repository's root):

    echo /.whl/ >> .git/info/exclude
    python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
        --platform manylinux2014_x86_64 -d .whl keras==3.15.1 namex optree rich markdown-it-py mdurl pygments absl-py h5py
    # there, with .whl carried:
    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && \
        PYTHONPATH=/tmp/site KERAS_BACKEND=jax python3 benchmarks/gpu_jax.py --json $OUT/gpu.json
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _median_ms(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000.0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (a CPU check of the script)")
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args(argv)

    import jax
    import keras
    import numpy as np

    from dml_keras.models import DegradationModel

    if keras.backend.backend() != "jax":
        raise SystemExit("Run with KERAS_BACKEND=jax.")
    crop, batch, steps = (48, 4, 5) if args.quick else (192, 16, 50)
    height, width = (270, 480) if args.quick else (2160, 3840)
    rng = np.random.default_rng(0)
    hr = rng.random((batch, crop, crop, 1)).astype("float32")
    lr = (0.9 * hr + 0.05).astype("float32")
    figures = {}

    def report(key, value):  # printed as measured, so a run stopped early still shows what it had
        figures[key] = value
        print(f"{key:34s} {value if isinstance(value, str) else f'{value:.4g}'}", flush=True)

    report("device", str(jax.devices()[0]))
    for policy in ("float32", "mixed_bfloat16"):
        keras.config.set_dtype_policy(policy)
        model = DegradationModel(seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-4), jit_compile=True)
        for _ in range(3):  # compile and warm up
            model.train_on_batch(hr, lr)
        report(f"dml_step_{policy}_ms", _median_ms(lambda: model.train_on_batch(hr, lr), steps))
        report(f"paper_100k_minutes_{policy}", figures[f"dml_step_{policy}_ms"] * 100_000 / 60_000)
    keras.config.set_dtype_policy("float32")
    model = DegradationModel(seed=0)
    photo = rng.random((1, height, width, 3)).astype("float32")
    model.predict_on_batch(photo)
    megapixels = height * width / 1e6
    report("degrade_4k_mps", megapixels / (_median_ms(lambda: model.predict_on_batch(photo), 3) / 1000.0))
    model.degrade(photo[0], tile_size=1024)
    report("degrade_4k_tiled_mps", megapixels / (_median_ms(lambda: model.degrade(photo[0], tile_size=1024), 3) / 1000.0))
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
