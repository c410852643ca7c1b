"""Image I/O, HR/LR pair discovery and `tf.data` pipelines.

`tf.data` pipelines live in `dml_keras.data.pipeline` (imports TensorFlow).
"""

from dml_keras.errors import DataError
from dml_keras.data.io import image_size, read_image, write_image
from dml_keras.data.pairs import ImagePair, discover_pairs, load_pair, pair_geometry

__all__ = ["DataError", "ImagePair", "discover_pairs", "image_size", "load_pair", "pair_geometry", "read_image", "write_image"]
