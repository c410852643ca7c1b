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


@contextlib.contextmanager
def atomic_folder(path):
    """`with atomic_folder(path) as temp: write(temp)` builds a folder beside `path` and renames it to `path` once
    the block ends without error (otherwise removes it): a reader finds the old folder or the new one, never a
    half-written one. A folder already at `path` is replaced."""
    import shutil

    path = os.path.abspath(path)
    parent, name = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    token = uuid.uuid4().hex
    temp_path, old_path = (os.path.join(parent, f".{name}.{token}.{kind}") for kind in ("tmp", "old"))
    try:
        yield temp_path
        replacing = os.path.isdir(path)
        if replacing:
            os.replace(path, old_path)
        try:
            os.replace(temp_path, path)
        except OSError:
            if replacing:
                os.replace(old_path, path)
            raise
    finally:
        for leftover in (temp_path, old_path):
            shutil.rmtree(leftover, ignore_errors=True)


def write_json(path, content):
    """Write `content` as indented JSON, atomically."""
    with atomic_file(path, "w") as handle:
        json.dump(content, handle, indent=2)


@contextlib.contextmanager
def folder_lock(folder, name=".dml.lock"):
    """Hold `folder/name` for this process while the block runs, so that a second writer of the same output
    folder is refused instead of mixing its files with ours.

    The lock file holds the owner's process id; one left by a process that no longer runs (killed) is taken over.

    Raises:
        DataError: another running process holds the lock.
    """
    from dml_keras.errors import DataError

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, name)
    for _ in range(2):
        try:
            handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
            break
        except FileExistsError:
            owner = _lock_owner(path)
            if owner is None and _age(path) < 10:  # just created: its owner is writing its pid
                owner = -1
            if owner is not None and owner != os.getpid() and (owner == -1 or _running(owner)):
                who = f" (pid {owner})" if owner > 0 else ""
                raise DataError(f"'{folder}' is being written by another dml process{who}. Wait for it to finish, "
                                "or give another --out.") from None
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)  # left by a process that was killed
    else:
        raise DataError(f"'{folder}' is being written by another dml process. Wait for it, or give another --out.")
    with os.fdopen(handle, "w") as out:
        out.write(str(os.getpid()))
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _age(path):
    import time

    try:
        return time.time() - os.path.getmtime(path)
    except OSError:
        return 0.0


def _lock_owner(path):
    try:
        with open(path) as handle:
            return int(handle.read().strip() or 0) or None
    except (OSError, ValueError):
        return None


def _running(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a process of another user
        return True
    try:  # a killed process its parent has not reaped yet (a zombie) runs no more
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
