"""ncnn model files (`.param` graph + `.bin` weights) read without ncnn, checked as they are read.

`read_ncnn(param, bin)` returns the graph's layers in order, each with its
type, name, input and output blobs, parameters and (for convolutions) its
weights as float32 `(out, in, kh, kw)` plus biases. Only the layer types of
an RRDB network are known (`LAYER_TYPES`); anything else, a blob that is not
fp16 or raw float32 (quantized or int8 weights), a weight count that does not
match the layer's parameters, or a `.bin` that is not consumed exactly, is a
`DataError` that names the file.
"""

import dataclasses
import struct

import numpy as np

from dml_keras.errors import DataError

MAGIC = 7767517
FP16_TAG = 0x01306B47
LAYER_TYPES = ("Input", "Convolution", "Split", "Concat", "Eltwise", "BinaryOp", "Interp")


@dataclasses.dataclass
class Layer:
    """One layer of an ncnn graph: `params` maps ncnn's integer keys to numbers or lists."""

    type: str
    name: str
    inputs: list
    outputs: list
    params: dict
    weight: "np.ndarray | None" = None
    bias: "np.ndarray | None" = None


def _value(text):
    return float(text) if any(c in text for c in ".eE") else int(text)


def _parse_params(tokens, where):
    params = {}
    for token in tokens:
        key, sep, value = token.partition("=")
        if not sep:
            raise DataError(f"{where}: parameter '{token}' is not KEY=VALUE")
        key = int(key)
        if key <= -23300:  # an array: -23300 - key, then "count,v1,v2..."
            count, *values = value.split(",")
            if int(count) != len(values):
                raise DataError(f"{where}: array parameter '{token}' announces {count} values, has {len(values)}")
            params[-23300 - key] = [_value(v) for v in values]
        else:
            params[key] = _value(value)
    return params


def _read_blob(data, offset, count, path, layer):
    """`count` weights from `data` at `offset` after ncnn's 4-byte tag (fp16, or raw float32 when 0)."""
    if offset + 4 > len(data):
        raise DataError(f"'{path}' ends at byte {len(data)} before the weights of layer {layer} (a truncated .bin)")
    tag = struct.unpack_from("<I", data, offset)[0]
    offset += 4
    if tag == FP16_TAG:
        size, dtype = 2 * count, "<f2"
        padded = (size + 3) // 4 * 4
    elif tag == 0:
        size, dtype = 4 * count, "<f4"
        padded = size
    else:
        raise DataError(f"'{path}': layer {layer} stores its weights with tag 0x{tag:08X}, not fp16 (0x{FP16_TAG:08X}) "
                        "or float32: quantized or int8 ncnn models are not supported; convert the float model")
    if offset + padded > len(data):
        raise DataError(f"'{path}' ends at byte {len(data)} inside the weights of layer {layer} (a truncated .bin)")
    values = np.frombuffer(data, dtype, count, offset).astype(np.float32)
    return values, offset + padded


def read_ncnn(param_path, bin_path):
    """The layers of an ncnn model, weights attached; see the module's text for what is checked."""
    try:
        lines = [line.split() for line in open(param_path, encoding="ascii").read().splitlines() if line.strip()]
        data = open(bin_path, "rb").read()
    except (OSError, UnicodeDecodeError) as error:
        raise DataError(f"cannot read the ncnn model '{param_path}' / '{bin_path}': {error}") from None
    if not lines or lines[0] != [str(MAGIC)]:
        raise DataError(f"'{param_path}' is not an ncnn .param file (its first line is not {MAGIC})")
    try:
        layer_count, _blob_count = map(int, lines[1])
    except (IndexError, ValueError):
        raise DataError(f"'{param_path}': its second line must be 'LAYERS BLOBS'") from None
    if len(lines) - 2 != layer_count:
        raise DataError(f"'{param_path}' announces {layer_count} layers and holds {len(lines) - 2}")
    layers, offset = [], 0
    for number, tokens in enumerate(lines[2:], start=3):
        where = f"'{param_path}' line {number}"
        if len(tokens) < 4:
            raise DataError(f"{where}: expected 'TYPE NAME INPUTS OUTPUTS ...'")
        kind, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        if kind not in LAYER_TYPES:
            raise DataError(f"{where}: layer type '{kind}' ({name}) is not one this reader knows "
                            f"({', '.join(LAYER_TYPES)}); only Real-ESRGAN's RRDB networks are supported")
        blobs = tokens[4 : 4 + n_in + n_out]
        layer = Layer(kind, name, blobs[:n_in], blobs[n_in:], _parse_params(tokens[4 + n_in + n_out :], where))
        if kind == "Convolution":
            p = layer.params
            out_ch, kernel, count = p.get(0, 0), p.get(1, 1), p.get(6, 0)
            if p.get(8, 0) or p.get(2, 1) != 1 or p.get(3, 1) != 1 or p.get(7, 1) != 1:
                raise DataError(f"{where}: {name} is an int8, dilated, strided or grouped convolution, not supported")
            if count % (out_ch * kernel * kernel):
                raise DataError(f"{where}: {name} has {count} weights, not a multiple of {out_ch}×{kernel}×{kernel}")
            weight, offset = _read_blob(data, offset, count, bin_path, name)
            layer.weight = weight.reshape(out_ch, count // (out_ch * kernel * kernel), kernel, kernel)
            if p.get(5, 0):
                if offset + 4 * out_ch > len(data):
                    raise DataError(f"'{bin_path}' ends inside the biases of layer {name} (a truncated .bin)")
                layer.bias = np.frombuffer(data, "<f4", out_ch, offset).copy()
                offset += 4 * out_ch
        layers.append(layer)
    if offset != len(data):
        raise DataError(f"'{bin_path}' holds {len(data) - offset} bytes after the last layer's weights: "
                        "it does not belong to this .param file")
    return layers
