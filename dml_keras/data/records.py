"""Pairs in sharded TFRecord files: the format `dml synthesize --format tfrecord` writes.

Each record is a `tf.train.Example` with the features

- `hr`, `lr`: the images as lossless PNG bytes (the files `--format png` would write),
- `name`: the pair's file name (`img_001.png`),
- `seed`: the stateless key its noise was drawn with (`image_seed(run seed, photo file name)`),
- `scale`: the degradation's factor,
- `degradation`: which degradation made it (`degradation_id`).

A shard `pairs-00003-of-00010.tfrecord` is written whole and atomically; its
sidecar `pairs-00003-of-00010.tfrecord.json` (names, record offsets, image sizes,
count, SHA-256, the run's id) appears once it is complete, and `manifest.json` lists the run's
settings and its complete shards (`docs/scaling.md`).

The codec is plain Python (TFRecord framing with masked CRC-32C, the Example
protobuf's wire format), so writers and readers need no TensorFlow: Beam
workers and JAX runs use it as they are. TensorFlow reads the same files
(`tf.data.TFRecordDataset`, `tfrecord_dataset` here).

Readers: a shard folder, a glob (`"out/pairs-*.tfrecord"`) or one shard file
is a pair source like a pair folder (`discover_pairs`): each pair's `hr` and
`lr` are `RecordRef`s (`SHARD::OFFSET::hr`) that `read_image` and `image_size`
resolve, so every command and pipeline reads shards as it reads folders.
"""

import functools
import glob
import hashlib
import json
import os
import struct
from pathlib import Path

from dml_keras.data.files import atomic_file
from dml_keras.data.image_pair import ImagePair
from dml_keras.errors import DataError

SUFFIX = ".tfrecord"
MANIFEST = "manifest.json"
FORMAT = "dml-keras pairs (TFRecord of tf.train.Example) 1"
_REF = "::"


# --- CRC-32C (Castagnoli), as TFRecord frames use it -------------------------------------------

def _crc_table():
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc_table()


def _crc32c_python(data):
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


try:  # the C implementation when installed (the [beam] extra brings it); the same values
    import google_crc32c

    def crc32c(data):
        """CRC-32C of `data`.

        >>> hex(crc32c(b"123456789"))
        '0xe3069283'
        """
        return google_crc32c.value(bytes(data))
except ImportError:  # pragma: no cover - depends on the environment
    crc32c = _crc32c_python


def masked_crc(data):
    """TFRecord's masked CRC-32C of `data`."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(payload):
    """One TFRecord: length, its masked CRC, the payload, its masked CRC."""
    length = struct.pack("<Q", len(payload))
    return length + struct.pack("<I", masked_crc(length)) + payload + struct.pack("<I", masked_crc(payload))


# --- tf.train.Example wire format ------------------------------------------------------------

def _varint(value):
    value &= (1 << 64) - 1  # int64 as protobuf writes it: two's complement, 10 bytes when negative
    out = bytearray()
    while True:
        bits = value & 0x7F
        value >>= 7
        if value:
            out.append(bits | 0x80)
        else:
            out.append(bits)
            return bytes(out)


def _field(number, payload):
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _feature(value):
    if isinstance(value, (bytes, str)):
        value = value.encode() if isinstance(value, str) else value
        return _field(1, _field(1, value))  # BytesList
    if isinstance(value, int):
        return _field(3, _field(1, _varint(value)))  # Int64List, packed
    raise TypeError(f"example features are bytes, str or int. Received: {type(value).__name__}")


def encode_example(features):
    """A serialized `tf.train.Example` of `features` (`{name: bytes | str | int}`), keys in sorted order
    (deterministic: the same features give the same bytes)."""
    entries = b"".join(_field(1, _field(1, key.encode()) + _field(2, _feature(features[key])))
                       for key in sorted(features))
    return _field(1, entries)


def _fields(data):
    """`(number, wire_type, value)` of each field in a protobuf message."""
    position, end = 0, len(data)
    while position < end:
        key, position = _read_varint(data, position)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, position = _read_varint(data, position)
        elif wire == 2:
            length, position = _read_varint(data, position)
            value, position = data[position:position + length], position + length
        elif wire == 5:
            value, position = data[position:position + 4], position + 4
        elif wire == 1:
            value, position = data[position:position + 8], position + 8
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _read_varint(data, position):
    result = shift = 0
    while True:
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def decode_example(data):
    """`{name: bytes | int | float}` from a serialized `tf.train.Example` (one value per feature)."""
    features = {}
    for _, _, message in _fields(data):  # Example.features
        for _, _, entry in _fields(message):  # Features.feature map entries
            key, value = None, None
            for number, _, part in _fields(entry):
                if number == 1:
                    key = bytes(part).decode()
                elif number == 2:
                    value = _decode_feature(part)
            features[key] = value
    return features


def _decode_feature(data):
    for kind, _, message in _fields(data):
        values = []
        for _, wire, item in _fields(message):
            if kind == 1:
                values.append(bytes(item))
            elif kind == 3 and wire == 2:  # packed int64s
                position = 0
                while position < len(item):
                    value, position = _read_varint(item, position)
                    values.append(_signed(value))
            elif kind == 3:
                values.append(_signed(item))
            else:
                values.extend(struct.unpack(f"<{len(item) // 4}f", item) if wire == 2 else struct.unpack("<f", item))
        return values[0] if len(values) == 1 else values
    return None


# --- shard files -----------------------------------------------------------------------------

def shard_name(index, count, prefix="pairs"):
    """`pairs-00003-of-00010.tfrecord`."""
    return f"{prefix}-{index:05d}-of-{count:05d}{SUFFIX}"


def write_shard(path, payloads):
    """Write serialized examples as one TFRecord file, atomically; returns their byte offsets and the file's SHA-256."""
    offsets, digest, position = [], hashlib.sha256(), 0
    with atomic_file(path) as out:
        for payload in payloads:
            record = frame(payload)
            out.write(record)
            digest.update(record)
            offsets.append(position)
            position += len(record)
    return offsets, digest.hexdigest()


def record_offsets(path):
    """Byte offsets of the records in a TFRecord file (reads only their length fields)."""
    offsets, position, size = [], 0, os.path.getsize(path)
    with open(path, "rb") as handle:
        while position < size:
            header = handle.read(12)
            if len(header) < 12:
                raise DataError(f"'{path}' ends inside a record (truncated at byte {position}). Write the shard again.")
            if struct.unpack("<I", header[8:])[0] != masked_crc(header[:8]):
                raise DataError(f"'{path}' has a corrupt record length at byte {position}. Write the shard again.")
            (length,) = struct.unpack("<Q", header[:8])
            offsets.append(position)
            position += 12 + length + 4
            handle.seek(position)
    if position != size:
        raise DataError(f"'{path}' ends inside a record (truncated at byte {size}). Write the shard again.")
    return offsets


@functools.lru_cache(maxsize=32)
def read_record(path, offset):
    """The payload of the record at byte `offset` of a TFRecord file, its CRCs checked (the last 32 are cached:
    a pair's HR and LR come from one read)."""
    with open(path, "rb") as handle:
        handle.seek(offset)
        header = handle.read(12)
        # the length is trusted only once its CRC checks out, and never beyond the file's end (a corrupt length
        # would otherwise ask for gigabytes)
        intact = len(header) == 12 and struct.unpack("<I", header[8:])[0] == masked_crc(header[:8])
        length = struct.unpack("<Q", header[:8])[0] if intact else -1
        if length > os.fstat(handle.fileno()).st_size - offset - 16:
            length = -1
        payload = handle.read(length + 4) if length >= 0 else b""
    if length < 0 or len(payload) != length + 4 or struct.unpack("<I", payload[-4:])[0] != masked_crc(payload[:-4]):
        raise DataError(f"'{path}' has no intact record at byte {offset} (truncated or corrupt). "
                        "Write the shard again (dml synthesize --format tfrecord resumes at missing shards).")
    return payload[:-4]


class RecordRef(str):
    """An image inside a pair shard, standing where the path of an image file goes: `SHARD::OFFSET::FIELD`.

    It is a `str` whose text is that reference, so it travels as a path does (through `tf.data`, CSV files,
    Beam), and `record_ref` turns such text back into one. It knows its `shard`, `offset` and `field`,
    reads its image's PNG bytes (`read`) and, from the shard's sidecar, its size (`size`).
    """

    __slots__ = ()

    def __new__(cls, shard, offset, field):
        return super().__new__(cls, f"{os.fspath(shard)}{_REF}{int(offset)}{_REF}{field}")

    def _parts(self):
        shard, offset, field = self.rsplit(_REF, 2)
        return shard, int(offset), field

    def __getnewargs__(self):  # pickled (Beam, multiprocessing) and copied by its parts
        return self._parts()

    @property
    def shard(self):
        return self._parts()[0]

    @property
    def offset(self):
        return self._parts()[1]

    @property
    def field(self):
        return self._parts()[2]

    def read(self):
        """The PNG bytes of the image."""
        shard, offset, field = self._parts()
        example = decode_example(read_record(shard, offset))
        if field not in example:
            raise DataError(f"Record {offset} of '{shard}' has no '{field}' feature; expected a dml-keras pair shard.")
        return example[field]

    def size(self):
        """`(height, width)` of the image from its shard's sidecar (no image read), or `None` when the sidecar
        does not record it."""
        shard, offset, field = self._parts()
        return _index(shard)[2].get(offset, {}).get(field)


def record_ref(path):
    """The `RecordRef` that `path` (a path, a `RecordRef`, or its text) names, or `None` for a file's path."""
    if isinstance(path, RecordRef):
        return path
    text = os.fspath(path)
    text = text.decode() if isinstance(text, bytes) else text
    if text.count(_REF) < 2:
        return None
    shard, offset, field = text.rsplit(_REF, 2)
    return RecordRef(shard, offset, field) if offset.isdigit() else None


def sidecar(shard):
    """The path of a shard's sidecar JSON (written once the shard is complete)."""
    return f"{shard}.json"


def read_sidecar(shard):
    """The content of a shard's sidecar, or `None` while the shard is incomplete."""
    try:
        with open(sidecar(shard)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


@functools.lru_cache(maxsize=64)
def _index(shard):
    """`(names, offsets, {offset: {"hr": (h, w), "lr": (h, w)}})` of a shard, read once per process: from its
    sidecar, or else by reading every record (no sizes then)."""
    content = read_sidecar(shard)
    if content is None:
        offsets = record_offsets(shard)
        return [decode_example(read_record(shard, offset))["name"].decode() for offset in offsets], offsets, {}
    sizes = {offset: {"hr": tuple(hr), "lr": tuple(lr)}
             for offset, (hr, lr) in zip(content["offsets"], content.get("sizes", []))}
    return content["names"], content["offsets"], sizes


def shard_files(source):
    """The shard files of a source: a folder holding `*.tfrecord`, a glob, or one `.tfrecord` file; `[]` if none."""
    text = os.fspath(source)
    if any(c in text for c in "*?["):
        return sorted(p for p in glob.glob(text) if p.endswith(SUFFIX))
    path = Path(text)
    if path.is_file() and path.name.endswith(SUFFIX):
        return [str(path)]
    if path.is_dir():
        return sorted(str(p) for p in path.glob(f"*{SUFFIX}"))
    return []


def shard_pairs(source):
    """The pairs held by the shards of `source` (`shard_files`), as `ImagePair`s with record references,
    sorted by name like a pair folder's."""
    pairs = []
    for shard in shard_files(source):
        names, offsets, _ = _index(shard)
        pairs += [ImagePair(Path(name).stem, RecordRef(shard, offset, "hr"), RecordRef(shard, offset, "lr"))
                  for name, offset in zip(names, offsets)]
    return sorted(pairs, key=lambda pair: pair.name)


def tfrecord_dataset(source, channels="rgb", num_parallel_reads=None):
    """A `tf.data.Dataset` of `(hr, lr, name)` streamed from the shards of `source` in file order
    (float32 RGB in `[0, 1]`, or Y with `channels="y"`): TensorFlow's reader, for pipelines of your own.

    For the training pipelines, give the shard folder or glob where a pair folder goes instead.
    """
    import tensorflow as tf

    from dml_keras.ops.color import rgb_to_y

    files = shard_files(source)
    if not files:
        raise DataError(f"No {SUFFIX} shards in '{source}'. Give a folder written by `dml synthesize --format tfrecord` "
                        "or a glob such as 'out/pairs-*.tfrecord'.")
    spec = {"hr": tf.io.FixedLenFeature([], tf.string), "lr": tf.io.FixedLenFeature([], tf.string),
            "name": tf.io.FixedLenFeature([], tf.string)}
    autotune = tf.data.AUTOTUNE

    def png(data):  # 8- or 16-bit (byte 24 of a PNG holds its bit depth)
        return tf.cond(tf.equal(tf.strings.substr(data, 24, 1), b"\x10"),
                       lambda: tf.cast(tf.io.decode_png(data, channels=3, dtype=tf.uint16), tf.float32) / 65535.0,
                       lambda: tf.cast(tf.io.decode_png(data, channels=3), tf.float32) / 255.0)

    def decode(serialized):
        example = tf.io.parse_single_example(serialized, spec)
        images = []
        for key in ("hr", "lr"):
            image = png(example[key])
            images.append(rgb_to_y(image) if channels == "y" else image)
        return images[0], images[1], example["name"]

    dataset = tf.data.TFRecordDataset(files, num_parallel_reads=num_parallel_reads or autotune)
    return dataset.map(decode, num_parallel_calls=autotune)
