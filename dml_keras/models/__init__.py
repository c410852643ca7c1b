"""Degradation models, their baselines and (later) SR networks."""

from dml_keras.models.builtin_baselines import BUILTIN_BASELINES, AtNativeSize, BicubicDegradation, IdentityDegradation
from dml_keras.models.degradation_base import DegradationBase
from dml_keras.models.degradation_model import DegradationModel
from dml_keras.models.direct_kpn import DirectKPN
from dml_keras.models.direct_net import DirectNet
from dml_keras.models.global_kernel import GlobalKernel
from dml_keras.models.handcrafted import HandcraftedDegradation, LearnedBlurWithNoise
from dml_keras.models.rcan import RCAN
from dml_keras.models.vdsr import VDSR

# The learned degradation models by their command-line names.
DEGRADATION_MODELS = {
    "dml": DegradationModel,
    "directnet": DirectNet,
    "directkpn": DirectKPN,
    "global-kernel": GlobalKernel,
}

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
    "VDSR",
]
