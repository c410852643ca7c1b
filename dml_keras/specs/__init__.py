"""Typed run specs and the named recipes they are filled from (no Keras here): `SRRun` for `dml train-sr`,
`DegradationRun` for `dml train-degradation`, `SynthesisRun` for `dml synthesize` (docs/specs.md)."""

import json
import os

from dml_keras.errors import DataError, SetupError
from dml_keras.specs.degradation import DegradationRun
from dml_keras.specs.sr import SRRun
from dml_keras.specs.synthesis import SynthesisRun

__all__ = ["DegradationRun", "SRRun", "SynthesisRun", "read_spec"]


def read_spec(path):
    """The spec of a run: its folder or the `spec.json` it wrote, as an `SRRun`, `DegradationRun` or
    `SynthesisRun`.

    Raises:
        DataError: one line, when there is no readable spec there.

    >>> read_spec("runs/sr").get("crops.patch_size")  # doctest: +SKIP
    96
    """
    path = os.fspath(path)
    file = os.path.join(path, "spec.json") if os.path.isdir(path) else path
    try:
        with open(file) as handle:
            nested = json.load(handle)
        kind = {cls.VERSION: cls for cls in (SRRun, DegradationRun, SynthesisRun)}[nested["spec"]]
        return kind.from_dict(nested, where=f"'{file}'")
    except SetupError as error:
        raise DataError(str(error)) from None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"'{file}' is not a run spec ({type(error).__name__}: {error}). Give a run folder, or "
                        "the spec.json a run wrote.") from None
