"""Degradation models, their baselines and the SR networks; each family by its command-line names.

The contract every kind follows is in `dml_keras.models.contract`.
"""

from dml_keras.models.builtin_baselines import BUILTIN_BASELINES, AtNativeSize, BicubicDegradation, IdentityDegradation
from dml_keras.models.degradation_base import DegradationBase
from dml_keras.models.degradation_model import DegradationModel
from dml_keras.models.direct_kpn import DirectKPN
from dml_keras.models.direct_net import DirectNet
from dml_keras.models.global_kernel import GlobalKernel
from dml_keras.models.handcrafted import HandcraftedDegradation, LearnedBlurWithNoise
from dml_keras.models.discriminator import UNetDiscriminator
from dml_keras.models.rcan import RCAN
from dml_keras.models.rrdb import RRDBNet
from dml_keras.models.sr_base import SuperResolutionBase
from dml_keras.models.vdsr import VDSR
from dml_keras.names import DEGRADATION_MODELS as _DEGRADATION_NAMES, SR_ARCHITECTURES

# The learned degradation models by their command-line names.
DEGRADATION_MODELS = {
    "dml": DegradationModel,
    "directnet": DirectNet,
    "directkpn": DirectKPN,
    "global-kernel": GlobalKernel,
}

assert tuple(DEGRADATION_MODELS) == _DEGRADATION_NAMES, "dml_keras.names names the degradation models"

def _sr_class(path):
    import importlib

    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)


# The SR networks by their command-line names, from their registry lines (`dml_keras.names.SR_ARCHITECTURES`).
SR_MODELS = {name: _sr_class(arch.model) for name, arch in SR_ARCHITECTURES.items()}



def check_arguments(cls, name, kwargs):
    """Refuse, with a `SetupError` that names them, the arguments `cls` does not take.

    Example:
    >>> check_arguments(DirectNet, "directnet", {"num_basis": 8})
    Traceback (most recent call last):
    ...
    dml_keras.errors.SetupError: directnet does not take num_basis. It takes: channels, filters, kernel_size, lr_size, residual_on, scale
    """
    import inspect

    from dml_keras.errors import SetupError

    taken = {n for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self" and p.kind != p.VAR_KEYWORD}
    unknown = sorted(set(kwargs) - taken - {"name", "dtype"})
    if unknown:
        raise SetupError(f"{name} does not take {', '.join(unknown)}. It takes: {', '.join(sorted(taken))}")


def build_strictly(cls, name, **kwargs):
    """`cls(**kwargs)` after `check_arguments`."""
    check_arguments(cls, name, kwargs)
    return cls(**kwargs)


__all__ = [
    "AtNativeSize",
    "BUILTIN_BASELINES",
    "BicubicDegradation",
    "DEGRADATION_MODELS",
    "DegradationBase",
    "DegradationModel",
    "DirectKPN",
    "DirectNet",
    "GlobalKernel",
    "HandcraftedDegradation",
    "IdentityDegradation",
    "LearnedBlurWithNoise",
    "RCAN",
    "RRDBNet",
    "SR_MODELS",
    "SuperResolutionBase",
    "UNetDiscriminator",
    "VDSR",
    "build_strictly",
    "check_arguments",
]
