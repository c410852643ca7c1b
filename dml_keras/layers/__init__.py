"""Keras layers of DML: basis kernel bank, spatially variant filter, weight predictor."""

from dml_keras.layers.basis_kernels import BasisKernels, UnitSumNonNegative
from dml_keras.layers.spatially_variant_filter import SpatiallyVariantFilter
from dml_keras.layers.weight_predictor import WeightPredictor

__all__ = ["BasisKernels", "SpatiallyVariantFilter", "UnitSumNonNegative", "WeightPredictor"]
