"""dml-keras: learn a real camera's degradation from a few photo pairs (DML, ACCV 2020).

The subpackages are imported on demand so that `import dml_keras` stays light:

>>> import dml_keras
>>> from dml_keras import metrics, data, ops
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
