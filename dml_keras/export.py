"""Export degradation and SR models for serving (SavedModel) and phones (TFLite / LiteRT).

SavedModel signatures (dynamic batch, height and width; inputs are RGB):

- `serving_default`: float32 `(B, H, W, 3)` in `[0, 1]` → `{"output": float32}`
- `serve_uint8`: uint8 `(B, H, W, 3)` → `{"output": uint8}` (clipped, rounded)
- degradation models also `degrade_with_noise`: float32 images, float32
  `noise_sigma` (0–255 scale) and int32 `seed` `(2,)` → noisy LR.

Y-channel models are wrapped so the exported file still takes and returns
RGB: Y goes through the network, Cb/Cr are carried over (enlarged with
bilinear resizing for native-size SR). The SavedModel needs only TensorFlow
to run, not this package.

TFLite files use builtin operators only (no Flex/Select ops) and keep a
dynamic input shape: `interpreter.resize_tensor_input(0, [1, H, W, 3])`.
ONNX files (`pip install dml-keras[onnx]`) take `images` float32
`(B, H, W, 3)` and return `output`, with every dimension but channels dynamic.

Every exported file records what it is (`kind`: `degradation` or `sr`,
`scale`, `lr_size`, ...) — in `assets.extra/dml_keras.json` of a SavedModel,
in the `dml_keras` metadata entry of a TFLite file, in the metadata
properties of an ONNX file — so `ExportedModel(path)` (and `dml upscale`,
`dml synthesize`, `dml evaluate-sr`) can run it like the Keras model.
"""

import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from dml_keras.data.files import atomic_file, atomic_folder
from dml_keras.errors import DataError
from dml_keras.ops.color import rgb_to_ycbcr, ycbcr_to_rgb
from dml_keras.ops.tiling import TILE_MARGIN
from dml_keras.runtime import METADATA_NAME, ExportedModel, tflite_operators

QUANTIZE = ("none", "float16", "dynamic")
FORMATS = ("savedmodel", "tflite", "onnx")
ONNX_OPSET = 17


def _is_degradation(model):
    from dml_keras.models import DegradationBase

    return isinstance(model, DegradationBase)


def rgb_forward(model):
    """A TF function RGB float32 `(B, H, W, 3)` → RGB float32 output, for any of our models."""
    if _is_degradation(model) or model.channels == "rgb":
        def forward(images):
            return model(images, training=False)

        return forward

    factor = model.scale if model.lr_size == "native" else 1

    def forward_y(images):
        ycbcr = rgb_to_ycbcr(images)
        y = model(ycbcr[..., :1], training=False)
        chroma = ycbcr[..., 1:]
        if factor > 1:
            size = tf.shape(images)[1:3] * factor
            chroma = tf.image.resize(chroma, size, method="bilinear")
        return ycbcr_to_rgb(tf.concat([y, chroma], axis=-1))

    return forward_y


def model_metadata(model):
    """What an exported file needs to be run like `model`: kind, scale, LR size and how far a pixel reaches."""
    from dml_keras._version import __version__

    degradation = _is_degradation(model)
    return {
        "kind": "degradation" if degradation else "sr",
        "architecture": type(model).__name__,
        "scale": int(model.scale),
        "lr_size": model.lr_size,
        "trained_channels": model.channels,
        "context_margin": int(getattr(model, "context_margin", TILE_MARGIN)),
        "kernel_size": int(model.kernel_size) if degradation else None,
        "tile_align": int(2 * model.stride) if degradation else 1,
        "dml_keras_version": __version__,
    }


def _check_images(images):
    # rank and channels first (a clear "expected shape [?,?,?,3]" message), then the sizes;
    # the data and control dependencies make the checks run before the network, not race it
    images = tf.ensure_shape(images, [None, None, None, 3])
    shape = tf.shape(images)
    checks = [
        tf.debugging.assert_positive(shape[1], message="image height must be positive"),
        tf.debugging.assert_positive(shape[2], message="image width must be positive"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(images)


class _Servable(tf.Module):
    # autograph off: the methods have no Python control flow on tensors, and autograph's conversion of a bound
    # method once failed in CI with "'TfMethodTarget' object has no attribute '_forward'" (not reproduced since)

    def __init__(self, model):
        super().__init__()
        self.model = model
        self._forward = rgb_forward(model)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")], autograph=False)
    def serve(self, images):
        return {"output": self._forward(_check_images(images))}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")], autograph=False)
    def serve_uint8(self, images):
        out = self._forward(_check_images(tf.cast(images, tf.float32) / 255.0))
        return {"output": tf.cast(tf.round(tf.clip_by_value(out, 0.0, 1.0) * 255.0), tf.uint8)}

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, None, 3], tf.float32, name="images"),
        tf.TensorSpec([], tf.float32, name="noise_sigma"),
        tf.TensorSpec([2], tf.int32, name="seed"),
    ], autograph=False)
    def degrade_with_noise(self, images, noise_sigma, seed):
        out = self._forward(_check_images(images))
        noise = tf.random.stateless_normal(tf.shape(out), seed) * noise_sigma / 255.0
        return {"output": tf.clip_by_value(out + noise, 0.0, 1.0)}


def export_savedmodel(model, path):
    """Write `model` as a SavedModel with the signatures above; returns `path`.

    Example:
    >>> from dml_keras.models import DegradationModel
    >>> export_savedmodel(DegradationModel(num_basis=4, kernel_size=7), "/tmp/dml_sm")  # doctest: +SKIP
    """
    if os.path.isdir(path) and os.listdir(path) and not os.path.exists(os.path.join(path, "saved_model.pb")):
        raise DataError(f"'{path}' is a folder that holds other files than a SavedModel, and an export replaces "
                        "its folder whole. Give a new folder.")
    servable = _Servable(model)
    signatures = {"serving_default": servable.serve, "serve_uint8": servable.serve_uint8}
    if _is_degradation(model):
        signatures["degrade_with_noise"] = servable.degrade_with_noise
    with atomic_folder(path) as temp:  # a killed export leaves no SavedModel that looks whole
        tf.saved_model.save(servable, temp, signatures=signatures)
        extra = Path(temp) / "assets.extra"  # ignored by TF Serving, kept with the model
        extra.mkdir(exist_ok=True)
        (extra / f"{METADATA_NAME}.json").write_text(json.dumps(model_metadata(model), indent=2))
    return path


def export_tflite(model, path, quantize="none"):
    """Write a builtin-ops-only TFLite file with a dynamic `(1, H, W, 3)` input; returns its size in bytes.

    Raises:
        ValueError: `quantize` is not one of `none`, `float16`, `dynamic`.
    """
    if quantize not in QUANTIZE:
        raise ValueError(f"quantize must be one of {QUANTIZE}. Received: quantize={quantize!r}")
    forward = rgb_forward(model)
    function = tf.function(lambda images: forward(images), input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize != "none":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    flatbuffer = _with_tflite_metadata(converter.convert(), model_metadata(model))
    with atomic_file(path) as handle:
        handle.write(flatbuffer)
    return len(flatbuffer)


def _with_tflite_metadata(flatbuffer, metadata):
    """The TFLite flatbuffer with `metadata` (JSON) added as the `dml_keras` metadata entry."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    tflite_model = flatbuffer_utils.convert_bytearray_to_object(bytearray(flatbuffer))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(json.dumps(metadata).encode(), np.uint8)
    tflite_model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name, entry.buffer = METADATA_NAME, len(tflite_model.buffers) - 1
    tflite_model.metadata = (tflite_model.metadata or []) + [entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(tflite_model))


def export_onnx(model, path, opset=ONNX_OPSET):
    """Write an ONNX file (via `tf2onnx`, `pip install dml-keras[onnx]`) with dynamic batch, height and width.

    Returns its size in bytes.
    """
    try:
        import tf2onnx
    except ImportError:
        raise ImportError("ONNX export needs tf2onnx: pip install 'dml-keras[onnx]'") from None
    forward = rgb_forward(model)
    spec = [tf.TensorSpec([None, None, None, 3], tf.float32, name="images")]
    function = tf.function(lambda images: {"output": forward(images)}, input_signature=spec)
    proto, _ = tf2onnx.convert.from_function(function, input_signature=spec, opset=opset)
    for key, value in model_metadata(model).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"{METADATA_NAME}.{key}", json.dumps(value)
    data = proto.SerializeToString()
    with atomic_file(path) as handle:
        handle.write(data)
    return len(data)


def export_model(model, out, format="savedmodel", quantize="none", check_image=None):
    """Export and verify: run the exported file right away and compare it with Keras.

    Returns:
        dict with `format`, `path`, `bytes` and `max_abs_error` against Keras on `check_image`
        (a 64×64 and a 197×233 image by default).
    """
    import keras

    if isinstance(model, ExportedModel):
        raise DataError(f"'{model.path}' is already an exported model; give the .keras file it was exported from.")
    if not isinstance(model, keras.Model):
        raise DataError(f"{type(model).__name__} is a built-in computed in NumPy, not a network: there is nothing to "
                        "export. Export a trained model (.keras file or run folder).")
    images = [check_image] if check_image is not None else [
        np.random.default_rng(0).random((64, 64, 3)).astype(np.float32),
        np.random.default_rng(1).random((197, 233, 3)).astype(np.float32),
    ]
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}. Received: format={format!r}")
    if quantize != "none" and format != "tflite":
        raise ValueError("Quantization applies to TFLite only; use --format tflite.")
    if format == "savedmodel":
        export_savedmodel(model, out)
        size = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
    elif format == "tflite":
        size = export_tflite(model, out, quantize)
        flex = [op for op in tflite_operators(out) if op.startswith("Flex") or op == "DELEGATE"]
        if flex:
            raise RuntimeError(f"{out} uses Flex/Select ops {flex}; it would not run in plain LiteRT.")
    else:
        size = export_onnx(model, out)
    try:
        exported = ExportedModel(out)
    except ImportError:  # ONNX without onnxruntime: written, not checked
        errors = [float("nan")]
    else:
        forward = rgb_forward(model)
        errors = [np.abs(exported(i[None]) - keras.ops.convert_to_numpy(forward(i[None]))).max() for i in images]
    return {"format": format, "quantize": quantize, "path": os.fspath(out), "bytes": int(size), "max_abs_error": float(max(errors))}
