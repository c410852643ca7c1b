"""The error raised for bad input data: it names the file and the fix."""


class DataError(ValueError):
    """Bad input data (missing partner, wrong size, unreadable file, bad CSV…).

    The message says which file, what was expected and how to fix it.
    """
