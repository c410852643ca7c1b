"""Degradation models, their baselines and SR networks."""

from dml_keras.models.builtin_baselines import BUILTIN_BASELINES, BicubicDegradation, IdentityDegradation

__all__ = ["BUILTIN_BASELINES", "BicubicDegradation", "IdentityDegradation"]
