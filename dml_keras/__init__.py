"""dml-keras: learn a real camera's degradation from a few photo pairs (DML, ACCV 2020).

Importing the package registers every serializable class with Keras, so
`keras.saving.load_model("saved_models/dml_realsr_x4.keras")` works after
`import dml_keras`; `dml_keras.load_model` loads any model the package runs
(built-in names, `.keras`, SavedModel, TFLite, ONNX). TensorFlow is not
imported until a workflow needs it.

>>> import dml_keras
>>> dml_keras.load_model("bicubic").lr_size
'same'
"""

from dml_keras._version import __version__  # noqa: E402
from dml_keras._quiet import import_backend_quietly  # noqa: E402

import_backend_quietly()

from dml_keras import layers, models  # noqa: E402,F401  (registers the serializable classes)
from dml_keras.workflows.align import align_folder, align_pair  # noqa: E402
from dml_keras.errors import DataError, SetupError  # noqa: E402
from dml_keras.loading import load_model  # noqa: E402

__all__ = ["DataError", "SetupError", "__version__", "align_folder", "align_pair", "load_model"]
