"""Stateless image math: colour conversion and MATLAB-compatible resizing."""

from dml_keras.ops.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from dml_keras.ops.resize import imresize, shrink_enlarged

__all__ = ["rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb", "imresize", "shrink_enlarged"]
