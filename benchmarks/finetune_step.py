"""One fine-tuning step of Real-ESRGAN x4plus's generator (RRDBNet 23 × 64, growth 32) in Keras and in PyTorch.

    python benchmarks/finetune_step.py [--repeat 5] [--json FILE]

The same L1 step (4 crops of 32² LR → 128² HR, Adam) on the same cores: Keras (TensorFlow) with every layer
trained, with XLA (`jit_compile`), in mixed bfloat16 (`--mixed-precision` on a CPU), with the fine-tuning
recipe's frozen trunk (`--tune-blocks 4`: the last 4 blocks and the upsampler train), and plain PyTorch (eager),
every layer trained and with the same frozen trunk (`torch` is needed here only, it is no dependency of dml-keras);
each Keras step is divided by PyTorch's step that trains the same layers. Prints the median step times, their ratios to PyTorch's, and the machine's
plain 3×3 convolution rate and CPU, to read the times beside, and the bfloat16 speed-up that the fine-tuning
recipe's precision probe measures (`distribute.bfloat16_pays`). Run it alone on the machine.
"""

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

BATCH, LR_SIDE = 4, 32


def conv_gflops(repeat=5):
    """This machine's rate for a plain 3×3 64→64 convolution on 4 × 128² (TensorFlow, float32)."""
    import tensorflow as tf

    x = tf.random.normal((4, 128, 128, 64))
    w = tf.random.normal((3, 3, 64, 64))
    conv = tf.function(lambda: tf.nn.conv2d(x, w, 1, "SAME"))
    conv()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        conv().numpy()
        times.append(time.perf_counter() - start)
    return 2 * 4 * 128 * 128 * 64 * 64 * 9 / min(times) / 1e9


def keras_step_seconds(repeat, jit_compile=False, tune_blocks=None, policy="float32"):
    import keras

    from dml_keras.models import RRDBNet
    from dml_keras.workflows.sr import freeze_rrdb

    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(policy)
    network = RRDBNet(23, 64, 32)
    lr = np.random.default_rng(0).random((BATCH, LR_SIDE, LR_SIDE, 3), dtype=np.float32)
    hr = np.random.default_rng(1).random((BATCH, 4 * LR_SIDE, 4 * LR_SIDE, 3), dtype=np.float32)
    network(lr)
    if tune_blocks is not None:
        freeze_rrdb(network, tune_blocks)
    network.compile(keras.optimizers.Adam(1e-4, beta_1=0.9, beta_2=0.99), loss="mae", jit_compile=jit_compile)
    network.train_on_batch(lr, hr)  # traced, compiled
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        network.train_on_batch(lr, hr)
        times.append(time.perf_counter() - start)
    keras.config.set_dtype_policy("float32")
    return statistics.median(times)


def torch_step_seconds(repeat, tune_blocks=None):
    import torch

    from tests.data.make_pth_fixtures import RRDBNet

    torch.manual_seed(0)
    network = RRDBNet(blocks=23, f=64, g=32)
    if tune_blocks is not None:  # the recipe's frozen trunk: the first convolution and all but the last blocks
        for module in [network.conv_first, *list(network.body)[: len(network.body) - tune_blocks]]:
            module.requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], 1e-4, betas=(0.9, 0.99))
    lr = torch.from_numpy(np.random.default_rng(0).random((BATCH, 3, LR_SIDE, LR_SIDE), dtype=np.float32))
    hr = torch.from_numpy(np.random.default_rng(1).random((BATCH, 3, 4 * LR_SIDE, 4 * LR_SIDE), dtype=np.float32))

    def step():
        optimizer.zero_grad()
        loss = torch.mean(torch.abs(network(lr) - hr))
        loss.backward()
        optimizer.step()

    step()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--json")
    parser.add_argument("--only", help="comma-separated Keras cases to run (keras, keras_xla, keras_bf16, keras_tune4, "
                                       "keras_tune4_bf16); default all")
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from dml_keras.machine import machine

    described = machine()
    result = {"cpu": described["cpu"], "cores": described["cores"], "extensions": described["extensions"],
              "machine_conv_gflops": round(conv_gflops(), 1)}
    from dml_keras.distribute import bfloat16_speedup

    # what `--mixed-precision auto` measures when a fine-tuning run starts: bfloat16 is taken at 1.25x or more
    result["probe_bf16_speedup"] = round(bfloat16_speedup(), 2)
    try:
        import torch

        result["torch"] = torch.__version__
        result["torch_threads"] = torch.get_num_threads()
        result["torch_step_s"] = torch_step_seconds(args.repeat)
        result["torch_tune4_step_s"] = torch_step_seconds(args.repeat, tune_blocks=4)
    except ImportError:
        print("PyTorch is not installed: the ratios to it are left out (pip install torch)", file=sys.stderr)
    cases = {"keras_step_s": {}, "keras_xla_step_s": {"jit_compile": True},
             "keras_bf16_step_s": {"policy": "mixed_bfloat16"}, "keras_tune4_step_s": {"tune_blocks": 4},
             "keras_tune4_bf16_step_s": {"tune_blocks": 4, "policy": "mixed_bfloat16"}}
    for key, value in result.items():
        print(f"{key}: {round(value, 3) if isinstance(value, float) else value}", flush=True)
    only = set(args.only.split(",")) if args.only else None
    for key, kwargs in cases.items():
        if only is not None and key.replace("_step_s", "") not in only:
            continue
        result[key] = keras_step_seconds(args.repeat, **kwargs)
        print(f"{key}: {result[key]:.3f}", flush=True)
        if "torch_step_s" in result:  # each against PyTorch's step that trains the same layers
            reference = "torch_tune4_step_s" if "tune4" in key else "torch_step_s"
            ratio = key.replace("_step_s", "_vs_torch")
            result[ratio] = round(result[key] / result[reference], 3)
            print(f"{ratio}: {result[ratio]}", flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(result, handle, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
