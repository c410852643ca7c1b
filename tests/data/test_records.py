"""TFRecord pair shards: the codec against TensorFlow's, the writer against the PNG folders, every reader,
resume (the Beam pipeline: tests/test_beam.py)."""

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from dml_keras.cli import main
from dml_keras.data import records
from dml_keras.data.pairs import discover_pairs, load_pair
from dml_keras.errors import DataError
from tests.conftest import CLEAN_NAMES, needs_tensorflow, shard_examples

ROOT = Path(__file__).resolve().parents[2]


def _synthesize(clean, out, *flags, model="dml_realsr_x4"):
    assert main(["synthesize", model, str(clean), "--out", str(out), "--seed", "7", *flags]) == 0
    return out


@pytest.fixture(scope="module")
def folder_pairs(clean, tmp_path_factory):
    return _synthesize(clean, tmp_path_factory.mktemp("png"))


@pytest.fixture(scope="module")
def shards(clean, tmp_path_factory):
    return _synthesize(clean, tmp_path_factory.mktemp("tfrecord"), "--format", "tfrecord", "--examples-per-shard", "3")


def test_crc32c_known_answer_and_the_fallback_agree():
    assert records.crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value (RFC 3720)
    assert records._crc32c_python(b"123456789") == 0xE3069283
    data = np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes()
    assert records.crc32c(data) == records._crc32c_python(data)


@needs_tensorflow
def test_examples_are_tensorflows_bytes_and_read_back():
    import tensorflow as tf

    features = {"hr": b"\x89PNG\x00\xff", "name": "a.png", "seed": 8161584868847597911, "scale": 4, "neg": -3}
    ours = records.encode_example(features)
    theirs = tf.train.Example(features=tf.train.Features(feature={
        "hr": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"\x89PNG\x00\xff"])),
        "name": tf.train.Feature(bytes_list=tf.train.BytesList(value=[b"a.png"])),
        "seed": tf.train.Feature(int64_list=tf.train.Int64List(value=[8161584868847597911])),
        "scale": tf.train.Feature(int64_list=tf.train.Int64List(value=[4])),
        "neg": tf.train.Feature(int64_list=tf.train.Int64List(value=[-3])),
    })).SerializeToString(deterministic=True)
    assert ours == theirs
    assert records.decode_example(theirs) == {"hr": b"\x89PNG\x00\xff", "name": b"a.png", "seed": 8161584868847597911,
                                              "scale": 4, "neg": -3}


@needs_tensorflow
def test_tensorflow_reads_the_shards(shards, folder_pairs):
    import tensorflow as tf

    files = records.shard_files(shards)
    assert [Path(f).name for f in files] == ["pairs-00000-of-00002.tfrecord", "pairs-00001-of-00002.tfrecord"]
    names = [tf.train.Example.FromString(r.numpy()).features.feature["name"].bytes_list.value[0]
             for r in tf.data.TFRecordDataset(files)]  # TensorFlow checks every CRC
    assert names == [n.encode() for n in CLEAN_NAMES]
    for hr, lr, name in records.tfrecord_dataset(shards):
        pair = next(p for p in discover_pairs(folder_pairs) if p.name + ".png" == name.numpy().decode())
        want_hr, want_lr = load_pair(pair, 4)
        assert np.array_equal(hr.numpy(), want_hr) and np.array_equal(lr.numpy(), want_lr)


def test_shards_hold_the_png_folders_bytes(shards, folder_pairs):
    examples = shard_examples(shards)
    assert sorted(examples) == list(CLEAN_NAMES)
    from dml_keras.data.synthesis import image_seed

    for name, example in examples.items():
        assert example["hr"] == (folder_pairs / "hr" / name).read_bytes()
        assert example["lr"] == (folder_pairs / "lr" / name).read_bytes()
        assert example["seed"] == image_seed(7, name) and example["scale"] == 4
        assert example["degradation"].decode().startswith("sha256:")
    manifest = json.loads((shards / "manifest.json").read_text())
    assert manifest["complete"] and manifest["examples"] == 4 and manifest["shard_count"] == 2
    assert [s["examples"] for s in manifest["shards"]] == [3, 1]
    import hashlib

    for shard in manifest["shards"]:
        assert hashlib.sha256((shards / shard["file"]).read_bytes()).hexdigest() == shard["sha256"]
    assert manifest["settings"]["seed"] == 7 and manifest["settings"]["noise_sigma"] == 5.0


def test_any_shard_size_gives_the_same_pairs(clean, shards, tmp_path):
    ones = _synthesize(clean, tmp_path / "ones", "--format", "tfrecord", "--examples-per-shard", "1")
    assert len(records.shard_files(ones)) == 4
    mine, theirs = shard_examples(ones), shard_examples(shards)
    assert mine.keys() == theirs.keys()
    assert all(mine[n] == theirs[n] for n in mine)


@pytest.mark.parametrize("source", ["folder", "glob", "file"])
def test_every_shard_source_reads_like_the_pair_folder(shards, folder_pairs, source):
    given = {"folder": shards, "glob": f"{shards}/pairs-*.tfrecord", "file": records.shard_files(shards)[1]}[source]
    pairs, reference = discover_pairs(given), discover_pairs(folder_pairs)
    expected = reference if source != "file" else [p for p in reference if p.name == "img_008"]
    assert [p.name for p in pairs] == [p.name for p in expected]
    for got, want in zip(pairs, expected):
        for a, b in zip(load_pair(got, 4, "native"), load_pair(want, 4, "native")):
            assert np.array_equal(a, b)


def test_training_batches_from_shards_equal_the_folders_without_tensorflow(shards, folder_pairs):
    from dml_keras.data.crops import paired_batches

    def batches(source):
        data = paired_batches(source, scale=4, patch_size=64, batch_size=2, seed=3, channels="rgb")
        return [data[i] for i in range(3)]

    for (hr_a, lr_a), (hr_b, lr_b) in zip(batches(shards), batches(folder_pairs)):
        assert np.array_equal(hr_a, hr_b) and np.array_equal(lr_a, lr_b)


@needs_tensorflow
def test_training_crops_from_shards_equal_the_folders(shards, folder_pairs):
    from dml_keras.data.pipeline import paired_dataset

    def batches(source):
        data = paired_dataset(source, scale=4, patch_size=64, batch_size=2, seed=3, channels="rgb")
        return [tuple(x.numpy() for x in batch) for batch in data.take(3)]

    for (hr_a, lr_a), (hr_b, lr_b) in zip(batches(shards), batches(folder_pairs)):
        assert np.array_equal(hr_a, hr_b) and np.array_equal(lr_a, lr_b)


def test_evaluate_sr_scores_shards_as_the_folder(shards, folder_pairs, tmp_path):
    scores = []
    for source in (shards, folder_pairs):
        out = tmp_path / f"{Path(source).name}.json"
        assert main(["evaluate-sr", "vdsr_realsr_x4", str(source), "--json", str(out), "--lpips", "none"]) == 0
        scores.append(json.loads(out.read_text()))
    assert scores[0]["count"] == 4 and scores[0]["per_image"] == scores[1]["per_image"]
    assert 20 < scores[0]["psnr"] < 45


def test_a_rerun_writes_only_the_missing_shards(clean, shards, tmp_path):
    out = tmp_path / "resume"
    shutil.copytree(shards, out)
    complete, broken = records.shard_files(out)
    os.utime(complete, (0, 0))  # complete: a rerun must leave it as it is
    os.remove(records.sidecar(broken))  # incomplete, as a killed run leaves one: no sidecar
    Path(broken).write_bytes(b"half a shard")
    _synthesize(clean, out, "--format", "tfrecord", "--examples-per-shard", "3")
    assert os.stat(complete).st_mtime == 0
    for name in ("pairs-00000-of-00002.tfrecord", "pairs-00001-of-00002.tfrecord"):
        assert (out / name).read_bytes() == (shards / name).read_bytes()
    assert json.loads((out / "manifest.json").read_text())["complete"]
    assert not list(out.glob(".*"))  # no temporary files left behind


def test_shards_of_another_run_are_refused_not_mixed(clean, shards, tmp_path, capsys):
    out = tmp_path / "other"
    shutil.copytree(shards, out)
    status = main(["synthesize", "dml_realsr_x4", str(clean), "--out", str(out), "--seed", "8", "--format", "tfrecord",
                   "--examples-per-shard", "3"])
    assert status == 2 and "holds shards of another synthesis" in capsys.readouterr().err
    assert main(["synthesize", "dml_realsr_x4", str(clean), "--out", str(out), "--seed", "7", "--format", "tfrecord",
                 "--examples-per-shard", "1"]) == 2  # another shard size would list every pair twice
    assert shard_examples(out) == shard_examples(shards)  # nothing was touched


def test_shard_parts_by_hand_complete_one_manifest(clean, shards, tmp_path):
    out = tmp_path / "parts"
    _synthesize(clean, out, "--format", "tfrecord", "--examples-per-shard", "3", "--shard", "1/2")
    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["complete"] and [s["file"] for s in manifest["shards"]] == ["pairs-00001-of-00002.tfrecord"]
    _synthesize(clean, out, "--format", "tfrecord", "--examples-per-shard", "3", "--shard", "0/2")
    assert json.loads((out / "manifest.json").read_text())["complete"]
    assert shard_examples(out) == shard_examples(shards)


def test_a_shards_pairs_hold_typed_references_that_survive_text_and_pickling(shards, folder_pairs):
    import pickle

    first_shard = records.shard_files(shards)[0]
    offsets = records.record_offsets(first_shard)
    pairs = [p for p in discover_pairs(shards) if p.hr.shard == first_shard]
    assert sorted(p.hr.offset for p in pairs) == offsets and len(offsets) == 3
    for pair in pairs:
        assert isinstance(pair.lr, records.RecordRef) and (pair.hr.field, pair.lr.field) == ("hr", "lr")
        again = records.record_ref(str(pair.hr).encode())  # as tf.data hands a path back: bytes
        assert type(again) is records.RecordRef and again == pair.hr and again.offset == pair.hr.offset
        assert pickle.loads(pickle.dumps(pair.lr)).read() == (folder_pairs / "lr" / f"{pair.name}.png").read_bytes()
    assert records.record_ref(folder_pairs / "hr" / "img_008.png") is None


def test_sizes_come_from_the_sidecars_without_reading_the_records(shards, folder_pairs):
    from dml_keras.data.io import image_size

    records.read_record.cache_clear()
    for got, want in zip(discover_pairs(shards), discover_pairs(folder_pairs)):
        assert image_size(got.hr) == image_size(want.hr) and image_size(got.lr) == image_size(want.lr)
    assert records.read_record.cache_info().misses == 0  # the sidecars answered


def test_a_damaged_shard_is_refused_in_one_line(shards, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(shards, damaged)
    shard = records.shard_files(damaged)[0]
    data = bytearray(Path(shard).read_bytes())
    data[200] ^= 0xFF
    Path(shard).write_bytes(bytes(data))
    records.read_record.cache_clear()
    with pytest.raises(DataError, match="no intact record at byte 0"):
        load_pair(discover_pairs(damaged)[0], 4)
    assert main(["evaluate-sr", "vdsr_realsr_x4", f"{damaged}/nothing-*.tfrecord"]) == 2
    assert "No .tfrecord shards match" in capsys.readouterr().err


def _damaged_copy(shards, tmp_path, byte):
    """A copy of the shards whose first shard has byte `byte` of its last record flipped (`byte` < 12: the length)."""
    damaged = tmp_path / "damaged"
    shutil.copytree(shards, damaged)
    shard = records.shard_files(damaged)[0]
    data = bytearray(Path(shard).read_bytes())
    data[records.record_offsets(shard)[-1] + byte] ^= 0xFF
    Path(shard).write_bytes(bytes(data))
    records.read_record.cache_clear()
    records._index.cache_clear()
    return damaged, records.record_offsets(shard)[-1] if byte >= 12 else None


def test_a_corrupt_record_length_is_refused_before_anything_is_read(shards, tmp_path):
    # byte 7 is the top byte of the length: read before its CRC was checked, it asked for 2**56 bytes (MemoryError)
    damaged, _ = _damaged_copy(shards, tmp_path, 7)
    shard = records.shard_files(damaged)[0]
    with pytest.raises(DataError, match="corrupt record length"):
        records.record_offsets(shard)
    last = records.record_offsets(records.shard_files(shards)[0])[-1]
    with pytest.raises(DataError, match=f"no intact record at byte {last}"):
        records.read_record(shard, last)


@pytest.mark.parametrize("command", ["train-sr", "train-degradation"])
def test_training_on_a_shard_damaged_late_stops_with_one_line_and_no_model(shards, tmp_path, command):
    # in a subprocess with a timeout: a damaged record once hung train-sr at shutdown, and train-degradation
    # exited 0 with a model.keras
    import subprocess
    import sys

    damaged, offset = _damaged_copy(shards, tmp_path, 3000)  # inside the last record's payload
    flags = ["--arch", "vdsr", "--depth", "3", "--filters", "8", "--patch-size", "32"] if command == "train-sr" else []
    out = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "dml_keras", command, str(damaged), "--out", str(out), "--steps", "4",
                             "--steps-per-epoch", "2", "--quiet", *flags], capture_output=True, text=True, timeout=300,
                            cwd=ROOT, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == [f"error: '{records.shard_files(damaged)[0]}' has no intact record at byte {offset} (truncated or "
                      "corrupt). Write the shard again (dml synthesize --format tfrecord resumes at missing shards)."]
    assert "Traceback" not in result.stderr
    assert not (out / "model.keras").exists()
