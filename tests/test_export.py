import importlib.util
import json
import subprocess
import sys

import numpy as np
import pytest

from dml_keras.cli import main
from dml_keras.errors import DataError
from dml_keras.data import read_image, write_image
from dml_keras.workflows.degradation import evaluate_degradation
from dml_keras.export import export_model, export_savedmodel, model_metadata, rgb_forward
from dml_keras.runtime import ExportedModel, read_metadata, run_tflite, tflite_operators
from dml_keras.models.sr_base import super_resolve
from tests.conftest import make_hr_lr
from dml_keras.models import VDSR, DegradationModel, DirectKPN, DirectNet, GlobalKernel


def _models():
    rng = np.random.default_rng(0)
    models = {
        "dml": DegradationModel(num_basis=4, kernel_size=7, seed=0, tone_offset=True),
        "dml_native": DegradationModel(num_basis=4, kernel_size=7, seed=0, scale=2, lr_size="native"),
        "directkpn": DirectKPN(kernel_size=5),
        "directnet": DirectNet(filters=8),
        "global": GlobalKernel(kernel_size=5),
        "vdsr_y": VDSR(depth=3, filters=8, scale=2, channels="y"),
        "vdsr_rgb_native": VDSR(depth=3, filters=8, scale=2, channels="rgb", lr_size="native"),
    }
    for name, model in models.items():
        model(np.zeros((1, 16, 16, 1 if name == "vdsr_y" else 3), "float32"))
        model.set_weights([rng.normal(0, 0.05, w.shape).astype("float32") for w in model.get_weights()])
    return models


MODELS = _models()


def _photos(photos):
    return [photos["coffee"][:64, :64], photos["astronaut"][100:297, 50:283]]  # 64×64 and 197×233


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tflite_builtin_only_any_size_matches_keras(name, tmp_path, photos):
    model = MODELS[name]
    path = tmp_path / "m.tflite"
    export_model(model, path, "tflite")
    ops = tflite_operators(path)
    assert "CONV_2D" in ops and not [op for op in ops if "Flex" in op]
    for image in _photos(photos):
        expected = np.asarray(rgb_forward(model)(image[None]))[0]
        assert np.abs(run_tflite(path, image) - expected).max() <= 1e-4


@pytest.mark.parametrize("quantize,bound", [("float16", 2e-3), ("dynamic", 2e-2)])
def test_quantized_tflite_within_bound_and_smaller(quantize, bound, tmp_path, photos):
    model = MODELS["dml"]
    full = export_model(model, tmp_path / "f.tflite", "tflite")
    small = export_model(model, tmp_path / "q.tflite", "tflite", quantize, check_image=photos["chelsea"][:64, :80])
    assert small["bytes"] < full["bytes"] and small["max_abs_error"] <= bound


@pytest.mark.parametrize("name", ["dml", "directkpn", "vdsr_y", "vdsr_rgb_native"])
def test_savedmodel_without_package_matches_keras(name, tmp_path, photos):
    model = MODELS[name]
    export_savedmodel(model, tmp_path / "sm")
    images = _photos(photos)
    np.save(tmp_path / "a.npy", images[0])
    np.save(tmp_path / "b.npy", images[1])
    script = f"""
import sys
sys.modules["dml_keras"] = None  # prove the SavedModel needs only TensorFlow
import json, numpy as np, tensorflow as tf
m = tf.saved_model.load({str(tmp_path / 'sm')!r})
f = m.signatures["serving_default"]
u = m.signatures["serve_uint8"]
a, b = np.load({str(tmp_path / 'a.npy')!r}), np.load({str(tmp_path / 'b.npy')!r})
batch = np.stack([a, a[::-1], a[:, ::-1]])
out = {{"a": f(images=tf.constant(a[None]))["output"].numpy().tolist(),
        "b": f(images=tf.constant(b[None]))["output"].numpy().tolist(),
        "batch": f(images=tf.constant(batch))["output"].numpy().tolist(),
        "u8": u(images=tf.constant(np.round(a[None] * 255).astype(np.uint8)))["output"].numpy().tolist(),
        "signatures": sorted(m.signatures.keys())}}
try:
    f(images=tf.zeros([1, 0, 5, 3]))
    out["zero"] = "accepted"
except Exception as e:
    out["zero"] = type(e).__name__ + ": " + str(e)[:200]
try:
    f(images=tf.zeros([8, 8, 3]))
    out["rank"] = "accepted"
except Exception as e:
    out["rank"] = type(e).__name__ + ": " + str(e)[:300]
try:
    f(images=tf.zeros([1, 8, 8, 4]))
    out["channels"] = "accepted"
except Exception as e:
    out["channels"] = type(e).__name__ + ": " + str(e)[:300]
print(json.dumps(out))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    forward = rgb_forward(model)
    for key, image in (("a", images[0]), ("b", images[1])):
        assert np.abs(np.asarray(out[key])[0] - np.asarray(forward(image[None]))[0]).max() <= 1e-4
    batch = np.stack([images[0], images[0][::-1], images[0][:, ::-1]])
    assert np.abs(np.asarray(out["batch"]) - np.asarray(forward(batch))).max() <= 1e-4
    u8_input = np.round(images[0][None] * 255).astype(np.uint8) / 255.0
    expected_u8 = np.round(np.clip(np.asarray(forward(u8_input.astype("float32"))), 0, 1) * 255)
    assert np.abs(np.asarray(out["u8"]) - expected_u8).max() <= 1
    assert "serve_uint8" in out["signatures"] and ("degrade_with_noise" in out["signatures"]) == name.startswith(("dml", "direct"))
    assert "height must be positive" in out["zero"]
    assert out["channels"] != "accepted", out["channels"]
    assert out["rank"] != "accepted" and "shape" in out["rank"].lower(), out["rank"]  # says what it expected


def test_cli_export_reports_size_and_error(tmp_path, photos):
    model = MODELS["global"]
    model.save(tmp_path / "g.keras")
    assert main(["export", str(tmp_path / "g.keras"), "--format", "tflite", "--quantize", "float16", "--out", str(tmp_path / "g.tflite")]) == 0
    assert main(["export", str(tmp_path / "g.keras"), "--format", "savedmodel", "--out", str(tmp_path / "g_sm")]) == 0
    assert (tmp_path / "g_sm" / "saved_model.pb").exists()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_onnx_any_size_and_batch_matches_keras(name, tmp_path, photos):
    pytest.importorskip("tf2onnx", reason="ONNX export is the optional extra: pip install 'dml-keras[onnx]'")
    pytest.importorskip("onnxruntime", reason="checking ONNX files needs onnxruntime (the [onnx] extra)")
    model = MODELS[name]
    report = export_model(model, tmp_path / "m.onnx", "onnx")
    assert report["max_abs_error"] <= 1e-4
    exported = ExportedModel(tmp_path / "m.onnx")
    a, b = _photos(photos)
    forward = rgb_forward(model)
    for batch in (b[None], np.stack([a, a[::-1], a[:, ::-1]])):
        assert np.abs(exported(batch) - np.asarray(forward(batch))).max() <= 1e-4


@pytest.mark.parametrize("name", ["dml_native", "vdsr_y"])
def test_every_format_carries_metadata_and_runs_tiled_like_keras(name, tmp_path, photos):
    model = MODELS[name]
    formats = [("savedmodel", "sm"), ("tflite", "m.tflite")]
    if importlib.util.find_spec("tf2onnx") and importlib.util.find_spec("onnxruntime"):
        formats.append(("onnx", "m.onnx"))
    photo = photos["astronaut"][:90, :110]
    for fmt, target in formats:
        export_model(model, tmp_path / target, fmt)
        exported = ExportedModel(tmp_path / target)
        assert read_metadata(tmp_path / target) == model_metadata(model) == exported.metadata
        if name == "dml_native":
            assert np.abs(exported.degrade(photo, tile_size=32) - model.degrade(photo)).max() <= 1e-4
        else:
            small = photo[:44, :54]
            assert np.abs(super_resolve(exported, small, tile_size=16) - super_resolve(model, small)).max() <= 1e-4


def test_cli_runs_exported_files_directly(tmp_path, photos):
    clean = tmp_path / "clean"
    for key in ("coffee", "chelsea"):
        write_image(clean / f"{key}.png", photos[key][:60, :72])
    MODELS["dml"].save(tmp_path / "dml.keras")
    MODELS["vdsr_y"].save(tmp_path / "vdsr.keras")
    assert main(["export", str(tmp_path / "dml.keras"), "--format", "savedmodel", "--out", str(tmp_path / "dml_sm")]) == 0
    assert main(["export", str(tmp_path / "vdsr.keras"), "--format", "tflite", "--out", str(tmp_path / "vdsr.tflite")]) == 0
    for source, out in ((tmp_path / "dml.keras", "keras"), (tmp_path / "dml_sm", "exported")):
        assert main(["synthesize", str(source), str(clean), "--out", str(tmp_path / f"syn_{out}")]) == 0
    for source, out in ((tmp_path / "vdsr.keras", "keras"), (tmp_path / "vdsr.tflite", "exported")):
        assert main(["upscale", str(source), str(clean / "coffee.png"), "--out", str(tmp_path / f"up_{out}")]) == 0
    for folder in ("syn_{}/lr/chelsea.png", "syn_{}/lr/coffee.png", "up_{}/coffee.png"):
        keras_file = read_image(tmp_path / folder.format("keras"))
        exported_file = read_image(tmp_path / folder.format("exported"))
        assert keras_file.shape == exported_file.shape
        assert np.abs(keras_file - exported_file).max() <= 1 / 255 + 1e-6  # 8-bit files: at most one rounding step
        assert np.mean(keras_file == exported_file) > 0.99
    # evaluate-degradation scores what the file computes: RGB in, each channel filtered, Y of the result
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    out = tmp_path / "exported.json"
    assert main(["evaluate-degradation", str(tmp_path / "dml_sm"), str(tmp_path / "pairs"), "--json", str(out)]) == 0

    class RGBPath:  # the Keras model's computation, fed RGB as the exported file is
        dml = MODELS["dml"]
        scale, lr_size, kernel_size, stochastic, adds_noise = dml.scale, dml.lr_size, dml.kernel_size, False, False
        channels = "rgb"
        degrade = staticmethod(dml.degrade)

    expected = evaluate_degradation(RGBPath(), tmp_path / "pairs", crop_border=MODELS["dml"].kernel_size // 2, progress=False)
    assert json.loads(out.read_text())["psnr"] == pytest.approx(expected["psnr"], abs=1e-3)
    # the wrong kind of model, or exporting an export, says so
    assert main(["upscale", str(tmp_path / "dml_sm"), str(clean / "coffee.png"), "--out", str(tmp_path / "x")]) == 2
    assert main(["export", str(tmp_path / "vdsr.tflite"), "--format", "onnx", "--out", str(tmp_path / "y.onnx")]) == 2


def test_onnx_without_the_extra_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    MODELS["global"].save(tmp_path / "g.keras")
    monkeypatch.setitem(sys.modules, "tf2onnx", None)  # as if the [onnx] extra were not installed
    assert main(["export", str(tmp_path / "g.keras"), "--format", "onnx", "--out", str(tmp_path / "g.onnx")]) == 2
    assert "pip install 'dml-keras[onnx]'" in capsys.readouterr().err
    assert not (tmp_path / "g.onnx").exists()


def test_a_savedmodel_export_killed_midway_leaves_the_previous_one_whole(tmp_path, monkeypatch, photos):
    import tensorflow as tf

    model, path = MODELS["directnet"], tmp_path / "sm"
    export_savedmodel(model, path)
    before = sorted(p.relative_to(path) for p in path.rglob("*"))
    real_save = tf.saved_model.save

    def killed(obj, export_dir, **kwargs):  # writes the graph, then dies before the variables and metadata
        real_save(obj, export_dir, **kwargs)
        (tmp_path / "partial").write_text(export_dir)
        raise KeyboardInterrupt

    monkeypatch.setattr(tf.saved_model, "save", killed)
    with pytest.raises(KeyboardInterrupt):
        export_savedmodel(MODELS["dml"], path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["partial", "sm"]  # no temporary folder left
    assert sorted(p.relative_to(path) for p in path.rglob("*")) == before
    image = photos["coffee"][:32, :32]
    expected = np.asarray(rgb_forward(model)(image[None]))[0]
    assert np.abs(ExportedModel(path)(image[None])[0] - expected).max() <= 1e-4  # still the first model
    monkeypatch.undo()
    export_savedmodel(MODELS["dml"], path)  # a finished export replaces it
    assert read_metadata(path)["architecture"] == "DegradationModel"
    (tmp_path / "photos" / "keep.png").parent.mkdir()
    (tmp_path / "photos" / "keep.png").write_bytes(b"a photo")
    with pytest.raises(DataError, match="holds other files than a SavedModel"):  # never a user's folder
        export_savedmodel(model, tmp_path / "photos")
    assert (tmp_path / "photos" / "keep.png").read_bytes() == b"a photo"
