"""Writing files atomically: a reader (or a resumed run) never sees a half-written file."""

import contextlib
import json
import os
import uuid


@contextlib.contextmanager
def atomic_file(path, mode="wb"):
    """`with atomic_file(path) as out: out.write(...)` writes a temporary file beside `path` and renames it to
    `path` once the block ends without error (otherwise removes it).

    The temporary file is created like any file (0666 less the umask; `mkstemp`'s would stay 0600) and its
    name, `.NAME.HEX.tmp`, matches no image or shard pattern, so listings never pick it up.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temp_path = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    handle = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(handle, mode) as out:
            yield out
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise


def write_json(path, content):
    """Write `content` as indented JSON, atomically."""
    with atomic_file(path, "w") as handle:
        json.dump(content, handle, indent=2)
