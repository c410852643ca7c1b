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
"""

import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from dml_keras.ops.color import rgb_to_ycbcr, ycbcr_to_rgb

QUANTIZE = ("none", "float16", "dynamic")


def _is_degradation(model):
    from dml_keras.models import DegradationBase

    return isinstance(model, DegradationBase)


def rgb_forward(model):
    """A TF function RGB float32 `(B, H, W, 3)` → RGB float32 output, for any of our models."""
    if _is_degradation(model) or getattr(model, "channels", 3) == 3:
        def forward(images):
            return model(images, training=False)

        return forward

    factor = model.scale if getattr(model, "lr_size", "same") == "native" else 1

    def forward_y(images):
        ycbcr = rgb_to_ycbcr(images)
        y = model(ycbcr[..., :1], training=False)
        chroma = ycbcr[..., 1:]
        if factor > 1:
            size = tf.shape(images)[1:3] * factor
            chroma = tf.image.resize(chroma, size, method="bilinear")
        return ycbcr_to_rgb(tf.concat([y, chroma], axis=-1))

    return forward_y


def _check_images(images):
    shape = tf.shape(images)
    tf.debugging.assert_positive(shape[1], message="image height must be positive")
    tf.debugging.assert_positive(shape[2], message="image width must be positive")
    tf.debugging.assert_equal(shape[3], 3, message="images must be RGB with 3 channels")
    return tf.ensure_shape(images, [None, None, None, 3])


class _Servable(tf.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model
        self._forward = rgb_forward(model)

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
    def serve(self, images):
        return {"output": self._forward(_check_images(images))}

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8, name="images")])
    def serve_uint8(self, images):
        out = self._forward(_check_images(tf.cast(images, tf.float32) / 255.0))
        return {"output": tf.cast(tf.round(tf.clip_by_value(out, 0.0, 1.0) * 255.0), tf.uint8)}

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, None, 3], tf.float32, name="images"),
        tf.TensorSpec([], tf.float32, name="noise_sigma"),
        tf.TensorSpec([2], tf.int32, name="seed"),
    ])
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
    servable = _Servable(model)
    signatures = {"serving_default": servable.serve, "serve_uint8": servable.serve_uint8}
    if _is_degradation(model):
        signatures["degrade_with_noise"] = servable.degrade_with_noise
    tf.saved_model.save(servable, os.fspath(path), signatures=signatures)
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
    flatbuffer = converter.convert()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as handle:
        handle.write(flatbuffer)
    return len(flatbuffer)


def run_tflite(path, image):
    """Run a TFLite file exported above on one RGB image `(H, W, 3)` with LiteRT; returns the output `(h, w, 3)`."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path))
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, [1, *np.shape(image)[:2], 3])
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, np.asarray(image, np.float32)[None])
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0]


def tflite_operators(path):
    """Names of the operators a TFLite file uses (to check for Flex/Select ops)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path))
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})


def export_model(model, out, format="savedmodel", quantize="none", check_image=None):
    """Export and verify: run the exported file right away and compare it with Keras.

    Returns:
        dict with `format`, `path`, `bytes` and `max_abs_error` against Keras on `check_image`
        (a 64×64 and a 197×233 image by default).
    """
    import keras

    images = [check_image] if check_image is not None else [
        np.random.default_rng(0).random((64, 64, 3)).astype(np.float32),
        np.random.default_rng(1).random((197, 233, 3)).astype(np.float32),
    ]
    forward = rgb_forward(model)
    if format == "savedmodel":
        if quantize != "none":
            raise ValueError("Quantization applies to TFLite only; use --format tflite.")
        export_savedmodel(model, out)
        served = tf.saved_model.load(os.fspath(out)).signatures["serving_default"]
        errors = [np.abs(served(images=tf.constant(i[None]))["output"].numpy() - keras.ops.convert_to_numpy(forward(i[None]))).max() for i in images]
        size = sum(f.stat().st_size for f in Path(out).rglob("*") if f.is_file())
    elif format == "tflite":
        size = export_tflite(model, out, quantize)
        flex = [op for op in tflite_operators(out) if op.startswith("Flex") or op == "DELEGATE"]
        if flex:
            raise RuntimeError(f"{out} uses Flex/Select ops {flex}; it would not run in plain LiteRT.")
        errors = [np.abs(run_tflite(out, i) - keras.ops.convert_to_numpy(forward(i[None]))[0]).max() for i in images]
    elif format == "onnx":
        raise NotImplementedError("ONNX export (tf2onnx) is not available in this version; use savedmodel or tflite.")
    else:
        raise ValueError(f"format must be savedmodel, tflite or onnx. Received: format={format!r}")
    return {"format": format, "quantize": quantize, "path": os.fspath(out), "bytes": int(size), "max_abs_error": float(max(errors))}
