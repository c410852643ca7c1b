"""The layers and models under the JAX backend, on a machine as if it had no TensorFlow."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed (pip install 'dml-keras[jax]')")
def test_ops_layers_models_tests_pass_under_jax_without_tensorflow():
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_ENABLE_X64": "1", "DML_TEST_WITHOUT_TENSORFLOW": "1",
           "JAX_PLATFORMS": "cpu"}
    # Not the tiling tests: tiling is NumPy around the forward pass, whose any-size shapes are tested here,
    # and under JAX every new tile shape compiles anew (7 of the run's 13 minutes, measured).
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", "-m", "not slow",
               "-k", "not tiled and not tiling", "tests/ops", "tests/layers", "tests/models",
               "tests/data/test_crops.py"]
    out = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    failures = [line for line in out.stdout.splitlines() if line.startswith(("FAILED", "ERROR", "E   "))]
    assert out.returncode == 0, "\n".join(failures[:40]) or out.stdout[-4000:]
    passed = int(re.search(r"(\d+) passed", out.stdout).group(1))
    assert passed >= 60, out.stdout[-2000:]
    # a test may skip only because TensorFlow is absent or ../shared/data is not beside the checkout
    reasons = re.findall(r"^SKIPPED \[\d+\] [^:]+:\d+: (.*)$", out.stdout, re.MULTILINE)
    unexpected = [r for r in reasons if "needs TensorFlow" not in r and "../shared/data is not beside" not in r]
    assert not unexpected, unexpected
