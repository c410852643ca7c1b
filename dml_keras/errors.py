"""The errors the package raises for what a user can fix: each message names the file or setting and the fix."""


class DataError(ValueError):
    """Bad input data (missing partner, wrong size, unreadable file, bad CSV, not a model of the right kind…).

    The message says which file, what was expected and how to fix it.
    """


class SetupError(ValueError):
    """A run that cannot start as configured (a distribution cluster, XLA with several devices…), and why."""


def unwrap_data_error(error):
    """The message of a `DataError` raised inside a `tf.data` pipeline, which reaches the caller wrapped
    in another exception's text; `None` when `error` carries none."""
    marker = "DataError: "
    text = str(error)
    if marker not in text:
        return None
    return text.split(marker, 1)[1].splitlines()[0].strip()
