"""Reading and writing images.

`read_image` accepts what users have: PNG/JPEG/BMP/TIFF/WebP, 8- or 16-bit,
greyscale, RGB or RGBA; EXIF orientation is honoured; the alpha channel is
**dropped** (colour values are kept as stored, not composited on a
background). It returns float32 RGB `(H, W, 3)` in `[0, 1]`.

`write_image` writes PNG (8-bit, or 16-bit on request) atomically: a
temporary file in the same folder, then a rename, so an interrupted run never
leaves a half-written image behind.
"""

import io
import os

import cv2
import numpy as np
from PIL import Image

from dml_keras.errors import DataError
from dml_keras.data.files import atomic_file
from dml_keras.data.records import record_ref

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

# EXIF orientation tag value → (number of 90° counter-clockwise turns, flip left-right first)
_ORIENTATIONS = {2: (0, True), 3: (2, False), 4: (2, True), 5: (3, True), 6: (3, False), 7: (1, True), 8: (1, False)}


def is_image_file(path):
    """Whether `path` has an image extension this package reads."""
    return str(path).lower().endswith(IMAGE_EXTENSIONS)


def image_files(items, folders_only=False):
    """The image files of `items` (files, and folders: their image files in name order), one line naming what
    is missing or empty otherwise.

    Raises:
        DataError: an item does not exist (or, with `folders_only`, is not a folder), or a folder holds no image.
    """
    from pathlib import Path

    files = []
    for item in items:
        path = Path(item)
        if not path.exists():
            raise DataError(f"'{path}' does not exist: give {'a folder' if folders_only else 'image files or folders'}"
                            " of photos.")
        if folders_only and not path.is_dir():
            raise DataError(f"'{path}' is a file; give a folder of photos.")
        found = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p.name)) if path.is_dir() else [path]
        if not found:
            raise DataError(f"'{path}' holds no image files (PNG, JPEG, BMP, TIFF or WebP).")
        files += found
    return files


def _exif_orientation(path):
    try:
        with Image.open(path) as img:
            return int(img.getexif().get(0x0112, 1))
    except Exception:  # no EXIF, or a format PIL does not parse: nothing to rotate
        return 1


def _apply_orientation(array, orientation):
    turns, flip = _ORIENTATIONS.get(orientation, (0, False))
    if flip:
        array = array[:, ::-1]
    return np.ascontiguousarray(np.rot90(array, turns)) if turns or flip else array


def _looks_truncated(path, data):
    if str(path).lower().endswith((".jpg", ".jpeg")):
        return not data.rstrip(b"\x00").endswith(b"\xff\xd9")
    if str(path).lower().endswith(".png"):
        return b"IEND" not in data[-64:]
    return False


def read_image(path, with_format=False):
    """Read an image file as float32 RGB `(H, W, 3)` in `[0, 1]`.

    With `with_format=True`, returns `(image, (greyscale, bit_depth))` from the
    same decode: whether the file has one colour channel and 8 or 16 bits.

    Raises:
        DataError: the file is missing, unreadable, truncated or not an image.

    Example:
    >>> import skimage, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "cat.png")
    >>> write_image(path, skimage.data.chelsea() / 255.0)
    >>> read_image(path).shape
    (300, 451, 3)
    """
    path = os.fspath(path)
    ref = record_ref(path)
    if ref is not None:  # an image inside a TFRecord shard (dml synthesize --format tfrecord): PNG bytes
        data = ref.read()
    else:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as error:
            raise DataError(f"Cannot read image '{path}': {error.strerror}. Check the path exists and is readable.") from None
    try:
        decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED) if data else None
    except cv2.error as error:  # OpenCV refuses a header claiming more than CV_IO_MAX_IMAGE_PIXELS (1 Gpx)
        limit = "more pixels than OpenCV decodes" if "MAX_IMAGE_PIXELS" in str(error) else "a header OpenCV refuses"
        raise DataError(f"'{path}' declares {limit}. Give a smaller image (or split it into tiles), "
                        "or remove it from the folder.") from None
    if decoded is None or _looks_truncated(path if ref is None else ".png", data):
        raise DataError(
            f"'{path}' is not a readable image (empty, truncated or an unsupported format). "
            "Re-export it as PNG or JPEG, or remove it from the folder."
        )
    image = _to_rgb_float(decoded, path)
    if ref is None:  # shards hold the PNGs dml writes, which carry no EXIF
        image = _apply_orientation(image, _exif_orientation(path))
    if not with_format:
        return image
    greyscale = decoded.ndim == 2 or decoded.shape[2] in (1, 2)
    return image, (greyscale, 16 if decoded.dtype == np.uint16 else 8)


def _to_rgb_float(decoded, path):
    if decoded.dtype == np.uint8:
        image = decoded.astype(np.float32) / 255.0
    elif decoded.dtype == np.uint16:
        image = decoded.astype(np.float32) / 65535.0
    elif np.issubdtype(decoded.dtype, np.floating):
        image = np.clip(decoded.astype(np.float32), 0.0, 1.0)
    else:
        raise DataError(f"'{path}' has pixel type {decoded.dtype}; expected 8- or 16-bit integers or float.")
    if image.ndim == 2:
        return np.repeat(image[:, :, None], 3, axis=2)
    channels = image.shape[2]
    if channels in (1, 2):  # grey, grey + alpha
        return np.repeat(image[:, :, :1], 3, axis=2)
    if channels in (3, 4):  # BGR, BGRA: alpha dropped
        return np.ascontiguousarray(image[:, :, 2::-1])
    raise DataError(f"'{path}' has {channels} channels; expected 1 (grey), 3 (RGB) or 4 (RGBA).")


def image_format(path):
    """`(greyscale, bit_depth)` of an image file as stored (`read_image(path, with_format=True)`).

    Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.png")
    >>> write_image(path, np.full((4, 4), 0.5), bit_depth=16)
    >>> image_format(path)
    (True, 16)
    """
    return read_image(path, with_format=True)[1]


def image_size(path):
    """`(height, width)` of an image file after EXIF orientation, reading only its header when possible."""
    path = os.fspath(path)
    ref = record_ref(path)
    recorded = ref.size() if ref is not None else None
    if recorded is not None:  # a shard's sidecar records the sizes: nothing to read
        return recorded
    try:
        with Image.open(io.BytesIO(ref.read()) if ref is not None else path) as img:
            width, height = img.size
            orientation = int(img.getexif().get(0x0112, 1))
        return (width, height) if orientation in (5, 6, 7, 8) else (height, width)
    except FileNotFoundError:
        raise DataError(f"Image '{path}' does not exist. Check the path.") from None
    except Exception:  # a format PIL cannot parse: decode it fully
        return read_image(path).shape[:2]


def write_image(path, image, bit_depth=8):
    """Write an image in `[0, 1]` as PNG, atomically.

    Args:
        path: destination; its folder is created if needed.
        image: `(H, W)`, `(H, W, 1)` or `(H, W, 3)` RGB float in `[0, 1]`
            (values outside are clipped), or a tensor of that shape.
        bit_depth: 8 or 16.

    Example:
    >>> import numpy as np, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "grey.png")
    >>> write_image(path, np.full((4, 4), 0.5), bit_depth=16)
    >>> round(float(read_image(path)[0, 0, 0]), 4)
    0.5
    """
    encoded = encode_png(image, bit_depth)
    with atomic_file(path) as out:
        out.write(encoded)


def encode_png(image, bit_depth=8):
    """PNG bytes of an image in `[0, 1]` (`(H, W)`, `(H, W, 1)` or `(H, W, 3)` RGB; clipped, rounded to
    `bit_depth` 8 or 16): what `write_image` writes."""
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16. Received: bit_depth={bit_depth}")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 3:
        image = image[:, :, ::-1]  # RGB → BGR for OpenCV
    elif image.ndim != 2:
        raise ValueError(f"write_image expects (H, W), (H, W, 1) or (H, W, 3). Received shape {image.shape}")
    peak, dtype = (255.0, np.uint8) if bit_depth == 8 else (65535.0, np.uint16)
    pixels = np.round(np.clip(image, 0.0, 1.0) * peak).astype(dtype)
    ok, encoded = cv2.imencode(".png", pixels)
    if not ok:
        raise OSError("OpenCV could not encode a PNG")
    return encoded.tobytes()
