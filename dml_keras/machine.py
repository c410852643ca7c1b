"""What a run or a timing ran on: the CPU, its vector extensions, the cores this process may use, and the versions
of the libraries (no Keras import: it reads what is installed)."""

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version

EXTENSIONS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def machine():
    """`{"cpu", "cores", "extensions"}`: the CPU model, the cores this process may use, and which of `EXTENSIONS`
    the CPU reports (Linux's /proc/cpuinfo; elsewhere the platform's processor name).

    The model carries its family and model numbers where a virtual machine names it only by its brand ("AMD
    EPYC (family 26, model 2)"): two generations of one brand time very differently (benchmarks/README.md).
    """
    model, flags, generation = platform.processor() or platform.machine(), set(), {}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() == "flags":
                    flags = set(value.split())
                elif key.strip() in ("cpu family", "model"):
                    generation.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if len(generation) == 2 and not any(character.isdigit() for character in model):
        model = f"{model} (family {generation['cpu family']}, model {generation['model']})"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    extensions = [x for x in EXTENSIONS if x in flags]
    return {"cpu": model, "cores": cores, "extensions": " ".join(extensions) or "none reported"}


def versions(packages=("dml-keras", "keras", "tensorflow", "jax", "numpy")):
    """The installed version of each of `packages` that is installed, and Python's."""
    found = {"python": sys.version.split()[0]}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            pass
    return found
