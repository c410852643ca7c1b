"""Bad files and places are one line naming them, exit 2, no traceback, and a failed run leaves no empty --out."""

import struct
import zipfile
import zlib

import keras
import numpy as np
import pytest

from dml_keras.cli import main
from dml_keras.data.io import write_image


def _png_header(width, height):
    """A PNG whose header claims `width` × `height` (what a decompression bomb looks like to OpenCV)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 10)) + chunk(b"IEND", b""))


@pytest.fixture
def place(tmp_path, photos):
    """Clean photos, a tiny one, mismatched pairs, an empty folder, a file, damaged and foreign model files."""
    image = photos["coffee"][:64, :64]
    write_image(tmp_path / "clean" / "a.png", image)
    write_image(tmp_path / "tiny" / "a.png", image[:1, :1])
    write_image(tmp_path / "pairs" / "HR" / "a.png", image)
    write_image(tmp_path / "pairs" / "LR" / "a.png", image[::4, ::4])
    write_image(tmp_path / "mismatched" / "HR" / "a.png", image)
    write_image(tmp_path / "mismatched" / "LR" / "a.png", image[:10, :12])
    (tmp_path / "empty").mkdir()
    (tmp_path / "huge").mkdir()
    (tmp_path / "huge" / "a.png").write_bytes(_png_header(100_000, 100_000))
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "fake.tflite").write_bytes(b"abc")
    (tmp_path / "fake.onnx").write_bytes(b"abc")
    with zipfile.ZipFile(tmp_path / "bad_json.keras", "w") as archive:
        archive.writestr("config.json", "{not json")
        archive.writestr("metadata.json", "{}")
    with zipfile.ZipFile(tmp_path / "no_config.keras", "w") as archive:
        archive.writestr("metadata.json", "{}")
    keras.Sequential([keras.Input((None, None, 3)), keras.layers.Conv2D(3, 3, padding="same")]).save(tmp_path / "plain.keras")
    keras.Sequential([keras.Input((None, None, 3)), keras.layers.Lambda(lambda x: x * 2)]).save(tmp_path / "lambda.keras")
    return tmp_path


CASES = [
    (["synthesize", "bicubic", "huge", "--out", "o"], "huge/a.png' declares more pixels than OpenCV decodes"),
    (["upscale", "vdsr_bicubic_x4", "huge", "--out", "o"], "huge/a.png' declares more pixels than OpenCV decodes"),
    (["synthesize", "bicubic", "clean", "--out", "a_file"], "a_file' is a file; give a folder"),
    (["upscale", "vdsr_bicubic_x4", "clean", "--out", "a_file"], "a_file' is a file; give a folder"),
    (["synthesize", "bicubic", "clean", "--out", "a_file/sub"], "a_file' is a file, not a folder"),
    (["export", "vdsr_bicubic_x4", "--format", "tflite", "--out", "a_file/x.tflite"], "a_file' is a file, not a folder"),
    (["export", "vdsr_bicubic_x4", "--format", "tflite", "--out", "clean"], "clean' is a folder; give a file path"),
    (["export", "bicubic", "--format", "tflite", "--out", "o.tflite"], "a built-in computed in NumPy, not a network"),
    (["evaluate-sr", "vdsr_bicubic_x4", "pairs", "--json", "clean"], "clean' is a folder; give a file path"),
    (["evaluate-sr", "vdsr_bicubic_x4", "pairs", "--json", "a_file/s.json"], "a_file' is a file, not a folder"),
    (["evaluate-sr", "vdsr_bicubic_x4", "mismatched", "--crop-border", "5000"], "is 10×12 but hr 'a.png' is 64×64"),
    (["compare", "vdsr_bicubic_x4", "--pairs", "mismatched", "--out", "o"], "is 10×12 but hr 'a.png' is 64×64"),
    (["train-sr", "pairs", "--out", "o", "--scale", "5", "--patch-size", "32", "--steps", "1"],
     "patch_size must be a multiple of scale"),
    (["synthesize", "bicubic", "tiny", "--out", "o"], "tiny/a.png' is 1×1: too small to degrade ×4"),
    (["synthesize", "dml_realsr_x4", "tiny", "--out", "o"], "tiny/a.png' is 1×1: too small to degrade ×4"),
    (["synthesize", "dml_realsr_x4", "clean", "--out", "o", "--scale", "5"], "degrades ×4; --scale 5 does not apply"),
    (["upscale", "vdsr_bicubic_x4", "empty", "--out", "o"], "empty' holds no image files"),
    (["upscale", "vdsr_bicubic_x4", "nowhere", "--out", "o"], "nowhere' does not exist"),
    (["upscale", "bad_json.keras", "clean", "--out", "o"], "bad_json.keras' is not a model this package can load"),
    (["upscale", "no_config.keras", "clean", "--out", "o"], "no_config.keras' is damaged or incomplete"),
    (["upscale", "fake.tflite", "clean", "--out", "o"], "fake.tflite' is a damaged or foreign tflite file"),
    (["upscale", "fake.onnx", "clean", "--out", "o"], "fake.onnx' is a damaged or foreign onnx file"),
    (["upscale", "plain.keras", "clean", "--out", "o"], "plain.keras' holds a plain Keras Sequential"),
    (["upscale", "lambda.keras", "clean", "--out", "o"], "lambda.keras' holds Python code"),
]


def _paths(place, argv):
    """The test's names made paths under `place` (flags and built-in model names stay as they are)."""
    names = {"o", "o.tflite", "nowhere"} | {p.name for p in place.iterdir()}
    return [str(place / a) if a.split("/")[0] in names else a for a in argv]


@pytest.mark.parametrize("argv, message", CASES, ids=[" ".join(argv[:3]) for argv, _ in CASES])
def test_a_bad_file_or_place_is_one_line_naming_it(place, capsys, argv, message):
    assert main(_paths(place, argv)) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0], err
    assert err.rstrip("\n").endswith(errors[0]) and "Traceback" not in err
    assert not (place / "o").exists()  # a failed run leaves no empty --out


def test_a_savedmodel_that_writes_files_is_refused_and_writes_nothing(tmp_path, capsys, photos):
    # valid dml_keras metadata, copied from a real export, on a serving function that writes a file of its choosing
    import shutil

    import tensorflow as tf

    from dml_keras.export import export_model
    from dml_keras.models import VDSR

    export_model(VDSR(depth=3, filters=8, scale=2), tmp_path / "honest", "savedmodel")
    marker = tmp_path / "written_by_the_model"

    class Writer(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32, name="images")])
        def serve(self, images):
            tf.io.write_file(str(marker), "pwned")
            return {"output": tf.image.resize(images, tf.shape(images)[1:3] * 2)}

    writer = Writer()
    tf.saved_model.save(writer, str(tmp_path / "crafted"), signatures={"serving_default": writer.serve})
    shutil.copytree(tmp_path / "honest" / "assets.extra", tmp_path / "crafted" / "assets.extra")
    write_image(tmp_path / "photo.png", photos["coffee"][:32, :32])

    assert main(["upscale", str(tmp_path / "honest"), str(tmp_path / "photo.png"), "--out", str(tmp_path / "up")]) == 0
    assert main(["upscale", str(tmp_path / "crafted"), str(tmp_path / "photo.png"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "holds the op WriteFile" in err and "Traceback" not in err
    assert not marker.exists() and not (tmp_path / "o").exists()


def test_verbose_shows_the_traceback_behind_the_line(place, capsys):
    argv = ["upscale", str(place / "fake.tflite"), str(place / "clean"), "--out", str(place / "o")]
    assert main(["--verbose", *argv]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "runtime.py" in err
    assert err.splitlines()[-1].startswith(f"error: '{place / 'fake.tflite'}' is a damaged or foreign tflite file")


# Every command that reads images or a model, with IN (its input: photos, pairs or captures) and OUT (a new
# folder, or a file for import); each class of bad input below is put in IN's place.
COMMANDS = {
    "synthesize": ["synthesize", "bicubic", "IN", "--out", "OUT"],
    "upscale": ["upscale", "vdsr_bicubic_x4", "IN", "--out", "OUT"],
    "compare": ["compare", "vdsr_bicubic_x4", "--images", "IN", "--out", "OUT"],
    "evaluate-sr": ["evaluate-sr", "vdsr_bicubic_x4", "IN"],
    "evaluate-degradation": ["evaluate-degradation", "bicubic", "IN"],
    "train-degradation": ["train-degradation", "IN", "--out", "OUT", "--steps", "1", "--quiet"],
    "train-sr": ["train-sr", "IN", "--out", "OUT", "--steps", "1", "--quiet"],
    "tune": ["tune", "IN", "--out", "OUT", "--steps", "1", "--val-fraction", "0.5"],
    "align": ["align", "IN", "--out", "OUT", "--scale", "4"],
    "visualize": ["visualize", "bicubic", "--image", "IN", "--out", "OUT"],
}
PAIRED = {"evaluate-sr", "evaluate-degradation", "train-degradation", "train-sr", "tune", "align"}
SINGLE_FILE = {"visualize"}


@pytest.fixture
def inputs(tmp_path):
    """Each class of bad input, as photos, pairs (hr/lr) and captures: missing, empty, huge, not an image."""
    (tmp_path / "a_file").write_text("x")
    for kind, content in (("huge", _png_header(100_000, 100_000)), ("garbage", b"not an image at all")):
        for where in [f"{kind}_{folder}/{name}.png" for folder in ("photos", "pairs/hr", "pairs/lr") for name in "ab"]:
            (tmp_path / where).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / where).write_bytes(content)
    for where in ("empty_photos", "empty_pairs/hr", "empty_pairs/lr"):
        (tmp_path / where).mkdir(parents=True)
    return tmp_path


def _matrix():
    for command in COMMANDS:
        paired = "pairs" if command in PAIRED else "photos"
        single = command in SINGLE_FILE
        yield command, "missing", "nowhere", "nowhere'"
        if not single:
            yield command, "empty", f"empty_{paired}", f"empty_{paired}'"
        yield (command, "huge", f"huge_{paired}/a.png" if single else f"huge_{paired}",
               "a.png' declares more pixels than OpenCV decodes")
        yield command, "not an image", f"garbage_{paired}/a.png" if single else f"garbage_{paired}", "a.png'"
        if "OUT" in COMMANDS[command]:
            yield command, "--out is a file", None, "a_file' is a file"


@pytest.mark.parametrize("command, case, bad, message", list(_matrix()),
                         ids=[f"{command}:{case}" for command, case, _, _ in _matrix()])
def test_every_command_turns_every_class_of_bad_input_into_one_line(inputs, capsys, command, case, bad, message):
    argv = list(COMMANDS[command])
    if bad is None:  # the output is what is wrong: the input is a good one
        argv[argv.index("OUT")] = "a_file"
        good = inputs / "good"
        write_image(good / "hr" / "a.png", np.full((64, 64, 3), 0.5, np.float32))
        write_image(good / "lr" / "a.png", np.full((16, 16, 3), 0.5, np.float32))
        argv[argv.index("IN")] = "good/hr/a.png" if command in SINGLE_FILE else (
            "good" if command in PAIRED else "good/hr")
    else:
        argv[argv.index("IN")] = bad
    argv = [str(inputs / a) if a.split("/")[0] in {"OUT", "a_file", "good", "nowhere"} | {
        p.name for p in inputs.iterdir()} else a for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and err.rstrip("\n").endswith(errors[0]) and "Traceback" not in err
    if command == "align" and case in ("huge", "not an image"):
        # align goes through every pair: each one it leaves out is a line naming its file, and its report is kept
        assert all(f"left out {name}: '{inputs / bad / 'hr' / name}.png" in err for name in "ab"), err
        assert "could be aligned" in errors[0] and (inputs / "OUT" / "reports").is_dir()
    else:
        assert message in errors[0], err
        assert not (inputs / "OUT").exists()  # a failed run leaves no empty --out
