"""Running exported files (SavedModel folder, `.tflite`, `.onnx`) like the Keras models they came from.

Every file `dml export` writes records what it is (`read_metadata`), so
`ExportedModel` knows its kind, scale and LR size and runs it in tiles.
TensorFlow is needed only for SavedModel files; TFLite runs on LiteRT and
ONNX on onnxruntime.
"""

import json
import os
from pathlib import Path

import numpy as np

from dml_keras.errors import DataError
from dml_keras.models.sr_base import super_resolve
from dml_keras.ops.tiling import apply_tiled

METADATA_NAME = "dml_keras"


def exported_format(path):
    """`"savedmodel"`, `"tflite"` or `"onnx"` for an exported file or folder, else `None`."""
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").exists():
        return "savedmodel"
    if path.is_file() and path.suffix.lower() in (".tflite", ".onnx"):
        return path.suffix.lower()[1:]
    return None


def read_metadata(path):
    """The metadata an exported file carries (see `model_metadata`).

    Raises:
        DataError: the path is not an exported model, or it carries no dml_keras metadata.
    """
    kind = exported_format(path)
    if kind is None:
        raise DataError(f"'{path}' is not an exported model: expected a SavedModel folder, a .tflite or an .onnx file.")
    try:
        metadata = _read_metadata(path, kind)
    except ImportError:
        raise ImportError(f"'{path}' is an ONNX file, and running it needs onnx and onnxruntime: "
                          'pip install "dml-keras[onnx]"') from None
    except Exception as error:  # a damaged flatbuffer, protobuf or JSON: whatever the parser raises
        raise DataError(f"'{path}' is a damaged or foreign {kind} file ({type(error).__name__}: "
                        f"{str(error).splitlines()[0][:120] if str(error) else 'unreadable'}). "
                        "Export it again with `dml export`.") from None
    if metadata is None:
        raise DataError(f"'{path}' carries no dml_keras metadata; export it again with `dml export`.")
    return metadata


def _read_metadata(path, kind):
    if kind == "savedmodel":
        file = Path(path) / "assets.extra" / f"{METADATA_NAME}.json"
        return json.loads(file.read_text()) if file.exists() else None
    if kind == "tflite":
        from tensorflow.lite.tools import flatbuffer_utils

        tflite_model = flatbuffer_utils.read_model(os.fspath(path))
        entries = [m for m in tflite_model.metadata or [] if _text(m.name) == METADATA_NAME]
        return json.loads(bytes(tflite_model.buffers[entries[0].buffer].data)) if entries else None
    import onnx

    props = {p.key: p.value for p in onnx.load(os.fspath(path), load_external_data=False).metadata_props}
    prefix = METADATA_NAME + "."
    return {k[len(prefix):]: json.loads(v) for k, v in props.items() if k.startswith(prefix)} or None


# The ops of the graphs `dml export` writes (every architecture and degradation model; tested), widened to the
# pure tensor arithmetic Keras layers lower to, and the checkpoint ops TensorFlow puts in every SavedModel's
# save/restore functions, allowed there only. A graph with anything else (file I/O, PrintV2, PyFunc, datasets…)
# is refused before it is loaded.
SAVEDMODEL_OPS = frozenset("""
    Abs Add AddN AddV2 All Any ArgMax ArgMin Assert AssignVariableOp AvgPool BatchMatMulV2 BatchMatMulV3 BiasAdd
    BroadcastArgs BroadcastTo Cast Ceil ClipByValue ConcatV2 Const Conv2D Conv2DBackpropInput Cos Cumsum
    DepthToSpace DepthwiseConv2dNative Einsum Elu EnsureShape Equal Erf Exp ExpandDims Fill Floor FloorDiv FloorMod
    FusedBatchNormV3 GatherNd GatherV2 Greater GreaterEqual Identity IdentityN LeakyRelu Less LessEqual Log Log1p
    LogicalAnd LogicalNot LogicalOr MatMul Max MaxPool Maximum Mean Min Minimum MirrorPad Mul Neg NoOp NotEqual OneHot
    OnesLike Pack Pad PadV2 PartitionedCall Placeholder Pow Prod Range Rank ReadVariableOp RealDiv Reciprocal Relu
    Relu6 Reshape ResizeBicubic ResizeBilinear ResizeNearestNeighbor ReverseV2 Round Rsqrt Select SelectV2 Selu Shape
    Sigmoid Sign Sin Size Slice Softmax Softplus SpaceToDepth Split SplitV Sqrt Square SquaredDifference Squeeze
    StatefulPartitionedCall StatelessRandomGetKeyCounter StatelessRandomNormalV2 StatelessRandomUniformV2
    StopGradient StridedSlice Sub Sum Tanh Tile Transpose Unpack VarHandleOp VarIsInitializedOp Where ZerosLike
""".split())
_CHECKPOINT_OPS = frozenset(("DisableCopyOnRead", "MergeV2Checkpoints", "RestoreV2", "SaveV2", "ShardedFilename",
                             "StaticRegexFullMatch", "StringJoin"))
_CHECKPOINT_FUNCTIONS = ("__inference__traced_save_", "__inference__traced_restore_")


def check_savedmodel_ops(path):
    """Refuse, before TensorFlow loads it, a SavedModel whose graphs hold ops `dml export` does not write.

    Raises:
        DataError: naming the first op outside `SAVEDMODEL_OPS` and the function that holds it.
    """
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    except Exception as error:
        raise DataError(f"'{path}' is a damaged SavedModel ({type(error).__name__}); export it again.") from None
    for graph in saved.meta_graphs:
        where = [("the main graph", graph.graph_def.node, False)] + [
            (f.signature.name, f.node_def, f.signature.name.startswith(_CHECKPOINT_FUNCTIONS))
            for f in graph.graph_def.library.function]
        for name, nodes, checkpoint in where:
            allowed = SAVEDMODEL_OPS | _CHECKPOINT_OPS if checkpoint else SAVEDMODEL_OPS
            for node in nodes:
                if node.op not in allowed:
                    raise DataError(
                        f"'{path}' holds the op {node.op} (in {name}), which `dml export` never writes: running a "
                        "SavedModel runs its graph, so it is refused. Load only SavedModels you exported or trust.")
                for value in node.attr.values():  # calls out of the serving graph into the checkpoint functions
                    called = [value.func.name] + [f.name for f in value.list.func]
                    if not checkpoint and name != "the main graph" and any(
                            c.startswith(_CHECKPOINT_FUNCTIONS) for c in called):
                        raise DataError(f"'{path}': {name} calls a checkpoint function, which `dml export` never "
                                        "writes; the SavedModel is refused.")


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


class ExportedModel:
    """An exported file (SavedModel folder, `.tflite`, `.onnx`) run like the Keras model it came from.

    Takes and returns RGB (exported files do, whatever the network was
    trained on: `metadata["trained_channels"]`), so its `channels` is
    `"rgb"`. It offers the same `degrade` (degradation files) or
    `super_resolve` (SR files) as the Keras models, in tiles for photos of
    any size.

    Example:
    >>> sr = ExportedModel("vdsr_x4.tflite")  # doctest: +SKIP
    >>> super_resolve(sr, photo)  # doctest: +SKIP
    """

    channels = "rgb"

    def __init__(self, path, kind=None):
        """`kind`: `"degradation"` or `"sr"` to refuse the other kind with a `DataError`."""
        self.path = os.fspath(path)
        self.format = exported_format(path)
        self.metadata = read_metadata(path)
        self.kind = self.metadata["kind"]
        if kind is not None and self.kind != kind:
            raise DataError(f"'{path}' is an exported {self.kind} model, not {'an SR' if kind == 'sr' else 'a degradation'} model.")
        self.scale = self.metadata["scale"]
        self.lr_size = self.metadata["lr_size"]
        self.context_margin = self.metadata["context_margin"]
        self.kernel_size = self.metadata.get("kernel_size") or 15  # the default crop of evaluate-degradation
        self.stochastic = self.adds_noise = False  # what is exported: learned, deterministic models
        self.stride = self.scale if self.kind == "degradation" and self.lr_size == "native" else 1
        self._run = getattr(self, f"_{self.format}_runner")()

    def _savedmodel_runner(self):
        import tensorflow as tf

        check_savedmodel_ops(self.path)  # running a SavedModel runs its graph: only the ops `dml export` writes
        served = tf.saved_model.load(self.path).signatures["serving_default"]
        return lambda images: served(images=tf.constant(images))["output"].numpy()

    def _tflite_runner(self):
        return _tflite_runner(self.path)

    def _onnx_runner(self):
        try:
            import onnxruntime
        except ImportError:
            raise ImportError("Running ONNX files needs onnxruntime: pip install 'dml-keras[onnx]'") from None
        session = onnxruntime.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda images: session.run(None, {name: images})[0]

    def __call__(self, images, training=False):
        """RGB float32 `(B, H, W, 3)` in `[0, 1]` → the model's RGB output (NumPy)."""
        return self._run(np.ascontiguousarray(images, np.float32))

    def degrade(self, images, tile_size=512):
        """Like `DegradationBase.degrade`: LR for `(H, W, 3)` or `(N, H, W, 3)` photos of any size, in tiles."""
        if self.kind != "degradation":
            raise DataError(f"'{self.path}' is an SR model, not a degradation model.")
        array = np.asarray(images, np.float32)
        tiled = [apply_tiled(self, image, tile_size, self.context_margin, stride=self.stride, align=self.metadata["tile_align"])
                 for image in (array[None] if array.ndim == 3 else array)]
        return tiled[0] if array.ndim == 3 else np.stack(tiled)


    def super_resolve(self, lr_rgb, tile_size=512, enlarged=False):
        """Like `SuperResolutionBase.super_resolve`: an RGB photo of any size, in tiles."""
        if self.kind != "sr":
            raise DataError(f"'{self.path}' is a degradation model, not an SR model.")
        return super_resolve(self, lr_rgb, tile_size, enlarged=enlarged)


def _tflite_runner(path):
    """LiteRT on a TFLite file exported above: `(B, H, W, 3)` → outputs, one image at a time (its input is `(1, H, W, 3)`)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path), num_threads=os.cpu_count())
    index = interpreter.get_input_details()[0]["index"]
    allocated = [None]

    def run(images):
        outputs = []
        for image in images:
            if allocated[0] != image.shape:
                interpreter.resize_tensor_input(index, [1, *image.shape])
                interpreter.allocate_tensors()
                allocated[0] = image.shape
            interpreter.set_tensor(index, image[None])
            interpreter.invoke()
            outputs.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"])[0])
        return np.stack(outputs)

    return run


def run_tflite(path, image):
    """Run a TFLite file exported above on one RGB image `(H, W, 3)` with LiteRT; returns the output `(h, w, 3)`."""
    return _tflite_runner(path)(np.asarray(image, np.float32)[None])[0]


def tflite_operators(path):
    """Names of the operators a TFLite file uses (to check for Flex/Select ops)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=os.fspath(path))
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})
