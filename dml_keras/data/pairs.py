"""Finding aligned HR/LR photo pairs on disk and loading them with the right geometry.

Layouts accepted as they are (docs/data.md):

- RealSR: ``<root>/<Camera>/<Train|Test>/<scale>/<Camera>_<NNN>_HR.png`` with
  ``<Camera>_<NNN>_LR<scale>.png`` beside it (any folder depth, also flat);
- a folder holding ``hr/`` and ``lr/`` with files of the same names;
- City100: ``NNNH.PNG`` and ``NNNL.PNG`` in one folder;
- a CSV file with columns ``hr,lr`` (paths relative to the CSV);
- TFRecord shards written by ``dml synthesize --format tfrecord`` (their folder,
  a glob or one file; `dml_keras.data.records`).

LR may be the same size as HR or smaller by the integer `scale`.
"""

import csv
import dataclasses
import os
import re
from pathlib import Path

import numpy as np

from dml_keras.data.image_pair import ImagePair
from dml_keras.data.io import image_size, is_image_file, read_image
from dml_keras.errors import DataError
from dml_keras.names import LR_SIZES
from dml_keras.ops.resize import imresize, shrink_enlarged


def _listing(folder):
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_image_file(p.name))


def _unmatched_error(kind, other, names, where):
    shown = ", ".join(sorted(names)[:5]) + (" …" if len(names) > 5 else "")
    return DataError(
        f"{len(names)} {kind} image(s) in '{where}' have no {other} partner: {shown}. "
        f"Add the missing {other} files or remove these {kind} files."
    )


def _match(hr_by_key, lr_by_key, where):
    missing_lr = set(hr_by_key) - set(lr_by_key)
    if missing_lr:
        raise _unmatched_error("HR", "LR", missing_lr, where)
    missing_hr = set(lr_by_key) - set(hr_by_key)
    if missing_hr:
        raise _unmatched_error("LR", "HR", missing_hr, where)
    return [ImagePair(key, str(hr_by_key[key]), str(lr_by_key[key])) for key in sorted(hr_by_key)]


def _subfolder(root, name):
    for child in root.iterdir():
        if child.is_dir() and child.name.lower() == name:
            return child
    return None


def _from_hr_lr_folders(root, hr_dir, lr_dir):
    hr_files = {p.stem: p for p in _listing(hr_dir)}
    lr_files = {p.stem: p for p in _listing(lr_dir)}
    return _match(hr_files, lr_files, root)


_REALSR_HR = re.compile(r"^(?P<stem>.+)_HR$", re.IGNORECASE)
_REALSR_LR = re.compile(r"^(?P<stem>.+)_LR(?P<scale>\d+)$", re.IGNORECASE)


def _from_realsr(root, scale, split):
    hr_files, lr_files = {}, {}
    for path in sorted(root.rglob("*")):
        if not (path.is_file() and is_image_file(path.name)):
            continue
        parts = {part.lower() for part in path.relative_to(root).parts[:-1]}
        if split is not None and split.lower() not in parts:
            continue
        if scale is not None and path.parent.name.isdigit() and int(path.parent.name) != scale:
            continue
        key_dir = str(path.parent.relative_to(root))
        hr_match, lr_match = _REALSR_HR.match(path.stem), _REALSR_LR.match(path.stem)
        if hr_match:
            hr_files[(key_dir, hr_match["stem"])] = path
        elif lr_match and (scale is None or int(lr_match["scale"]) == scale):
            lr_files[(key_dir, lr_match["stem"])] = path
    pairs = _match(hr_files, lr_files, root)
    return [dataclasses.replace(pair, name=pair.name[1]) for pair in pairs]


def _from_city100(root, files):
    hr_files, lr_files = {}, {}
    for path in files:
        if path.stem[-1:] in "Hh":
            hr_files[path.stem[:-1]] = path
        elif path.stem[-1:] in "Ll":
            lr_files[path.stem[:-1]] = path
    return _match(hr_files, lr_files, root)


def _from_csv(csv_path):
    base = csv_path.parent
    with open(csv_path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = [c.strip().lower() for c in (reader.fieldnames or [])]
        if "hr" not in columns or "lr" not in columns:
            raise DataError(
                f"CSV '{csv_path}' has columns {columns}; expected a header row with 'hr' and 'lr' "
                "(paths relative to the CSV), e.g. 'hr,lr'."
            )
        rows = [{k.strip().lower(): (v or "").strip() for k, v in row.items() if k} for row in reader]
    pairs = []
    for line, row in enumerate(rows, start=2):
        hr, lr = (base / row["hr"]) if row["hr"] else None, (base / row["lr"]) if row["lr"] else None
        for kind, path in (("hr", hr), ("lr", lr)):
            if path is None:
                raise DataError(f"CSV '{csv_path}' line {line} gives no {kind} path: every row needs an hr and an "
                                "lr path, separated by a comma.")
            if not path.is_file():
                raise DataError(
                    f"CSV '{csv_path}' line {line}: {kind} file '{row[kind]}' does not exist "
                    f"(looked for '{path}'). Paths are relative to the CSV's folder."
                )
        pairs.append(ImagePair(Path(row["hr"]).stem, str(hr), str(lr)))
    return pairs


def discover_pairs(source, scale=None, split=None):
    """Find the HR/LR pairs in `source` (a folder of any accepted layout, a CSV, or TFRecord shards).

    Args:
        source: folder or CSV file path; or TFRecord shards of pairs (`dml synthesize --format
            tfrecord`): their folder, a glob like `"out/pairs-*.tfrecord"`, or one shard file.
        scale: keep only RealSR pairs of this factor (ignored by other layouts).
        split: for RealSR, keep only files under a folder of this name, e.g. `"Train"`.

    Returns:
        list of `ImagePair`, sorted by name.

    Raises:
        DataError: the source is missing or empty, or an HR has no LR (or vice versa).

    Example:
    >>> pairs = discover_pairs("../shared/data/realsr_x4")  # doctest: +SKIP
    >>> pairs[0].name, len(pairs)  # doctest: +SKIP
    ('Canon_001', 50)
    """
    from dml_keras.data.records import shard_files, shard_pairs

    if shard_files(source):  # TFRecord shards (dml synthesize --format tfrecord): a folder, a glob or a file
        return shard_pairs(source)
    root = Path(os.fspath(source))
    if any(c in str(root) for c in "*?[") and not root.exists():
        raise DataError(f"No .tfrecord shards match '{root}'. Give a glob such as 'out/pairs-*.tfrecord', "
                        "a folder of shards, or a folder of HR/LR pairs.")
    if not root.exists():
        raise DataError(f"Pair source '{root}' does not exist. Give a folder of HR/LR pairs or a CSV with columns hr,lr.")
    if root.is_file():
        if root.suffix.lower() != ".csv":
            raise DataError(f"Pair source '{root}' is a file but not a CSV. Give a folder or a CSV with columns hr,lr.")
        pairs = _from_csv(root)
    else:
        hr_dir, lr_dir = _subfolder(root, "hr"), _subfolder(root, "lr")
        if hr_dir is not None and lr_dir is not None:
            pairs = _from_hr_lr_folders(root, hr_dir, lr_dir)
        elif any(_REALSR_HR.match(p.stem) for p in root.rglob("*") if is_image_file(p.name)):
            pairs = _from_realsr(root, scale, split)
        else:
            pairs = _from_city100(root, _listing(root))
    if not pairs:
        raise DataError(
            f"No image pairs found in '{root}'. Expected one of: RealSR files '<name>_HR.png' + "
            "'<name>_LR<scale>.png'; folders 'hr/' and 'lr/' with the same file names; City100 "
            "'NNNH.png' + 'NNNL.png'; or a CSV with columns hr,lr."
        )
    return pairs


def pair_geometry(pair, scale, lr_size="same"):
    """Check a pair's sizes from the file headers and return `(hr_size, lr_size)` as `(h, w)`.

    The HR is cropped at the bottom/right to `lr * scale` when the LR is smaller
    and the HR is not a multiple of `scale` (the usual "modcrop"). Same-size
    pairs (RealSR v3, City100) read with `lr_size="native"` are cropped to a
    multiple of `scale` too: `load_pair` takes their LR back to the capture size.

    Raises:
        DataError: the LR is neither the same size as HR nor 1/`scale` of it.
    """
    if lr_size not in LR_SIZES:
        raise ValueError(f"lr_size must be one of {LR_SIZES}. Received: lr_size={lr_size!r}")
    (hr_h, hr_w), (lr_h, lr_w) = image_size(pair.hr), image_size(pair.lr)
    if (lr_h, lr_w) == (hr_h, hr_w):
        if lr_size == "native":
            if not scale or hr_h < scale or hr_w < scale:
                raise DataError(f"lr image '{pair.lr}' is the same size as its hr ({hr_h}×{hr_w}); "
                                f"lr_size='native' needs the pairs' --scale (scale={scale}).")
            return (hr_h // scale * scale, hr_w // scale * scale), (hr_h // scale, hr_w // scale)
        return (hr_h, hr_w), (lr_h, lr_w)
    if scale and (lr_h, lr_w) == (hr_h // scale, hr_w // scale) and lr_h > 0 and lr_w > 0:
        hr_crop = (lr_h * scale, lr_w * scale)
        return hr_crop, (hr_crop if lr_size == "same" else (lr_h, lr_w))
    raise DataError(
        f"lr image '{Path(pair.lr).name}' is {lr_h}×{lr_w} but hr '{Path(pair.hr).name}' is {hr_h}×{hr_w}; "
        f"expected the same size or 1/{scale} (scale={scale}). Check --scale or the files."
    )


def load_pair(pair, scale, lr_size="same", geometry=None):
    """Read a pair as float32 RGB arrays with the geometry of `lr_size`.

    `"same"`: LR smaller than HR is enlarged to HR size with MATLAB bicubic (the
    paper's geometry). `"native"`: LR stays `1/scale` of HR; an LR stored at HR
    size (an enlarged capture) is taken back to `1/scale` by the exact inverse
    of the bicubic enlargement (`shrink_enlarged`), as `dml synthesize
    --lr-size native` does with a same-size model's output.

    `geometry`: `pair_geometry(pair, scale, lr_size)` if already known (saves reading the headers).

    Returns:
        `(hr, lr)`: `(H, W, 3)` and `(H, W, 3)` or `(H/scale, W/scale, 3)`.
    """
    (hr_h, hr_w), (lr_h, lr_w) = geometry or pair_geometry(pair, scale, lr_size)
    hr, lr = read_image(pair.hr)[:hr_h, :hr_w], read_image(pair.lr)
    if lr.shape[:2] != (lr_h, lr_w) and lr.shape[0] > lr_h:  # an enlarged capture read at native size
        lr = np.clip(shrink_enlarged(lr[:hr_h, :hr_w], scale), 0.0, 1.0)
    elif lr.shape[:2] != (lr_h, lr_w):
        lr = np.clip(imresize(lr, output_size=(lr_h, lr_w)), 0.0, 1.0)
    return hr, lr


def split_pairs(pairs, val_fraction):
    """Hold out evenly spaced pairs (every `round(1 / val_fraction)`-th) for validation.

    Returns:
        `(train_pairs, val_pairs)`.

    Example:
    >>> train, val = split_pairs(list(range(10)), 0.2)
    >>> val
    [4, 9]
    """
    if not val_fraction:
        return list(pairs), []
    every = max(2, round(1 / val_fraction))
    val = [p for i, p in enumerate(pairs) if i % every == every - 1]
    train = [p for i, p in enumerate(pairs) if i % every != every - 1]
    return train, val


def resolve_pairs(pairs, scale=4):
    """Pairs given as a folder, a CSV or a list: always a non-empty list of `ImagePair` (a path is discovered with
    `discover_pairs`; an empty list is a `DataError`)."""
    if isinstance(pairs, (str, bytes, os.PathLike)):
        return discover_pairs(pairs, scale=scale)
    pairs = list(pairs)
    if not pairs:
        raise DataError("The list of pairs is empty; give a folder or CSV of HR/LR pairs.")
    return pairs
