"""Typed run specs and the named recipes they are filled from (no Keras here): `SRRun` for `dml train-sr`,
`DegradationRun` for `dml train-degradation` (docs/specs.md)."""

from dml_keras.specs.degradation import DegradationRun
from dml_keras.specs.sr import SRRun

__all__ = ["DegradationRun", "SRRun"]
