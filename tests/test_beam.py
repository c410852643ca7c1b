"""The Beam synthesis pipeline on the DirectRunner, with real clean photos: the single-process bytes, resume."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dml_keras.cli import main
from dml_keras.data import records
from tests.conftest import shard_examples

ROOT = Path(__file__).resolve().parents[1]

beam = pytest.importorskip("apache_beam", reason='Apache Beam is an extra: pip install "dml-keras[beam]"')


def _synthesize(clean, out, *flags):
    assert main(["synthesize", "dml_realsr_x4", str(clean), "--out", str(out), "--seed", "7", "--format", "tfrecord",
                 *flags]) == 0
    return out


@pytest.fixture(scope="module")
def single(clean, tmp_path_factory):
    """The single-process command's shards, one photo each."""
    return _synthesize(clean, tmp_path_factory.mktemp("single"), "--examples-per-shard", "1")


def _beam_command(clean, out, *flags):
    return [sys.executable, "-m", "dml_keras.beam", "dml_realsr_x4", str(clean), "--out", str(out), "--seed", "7",
            "--examples-per-shard", "1", *flags]


@pytest.mark.slow
def test_beam_writes_the_single_process_bytes(clean, single, tmp_path):
    result = subprocess.run(_beam_command(clean, tmp_path / "beam", "--beam-args",
                                          "--direct_num_workers 2 --direct_running_mode multi_processing"),
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "4 pairs in 4 of 4 shards" in result.stdout
    for shard in records.shard_files(single):
        assert (tmp_path / "beam" / Path(shard).name).read_bytes() == Path(shard).read_bytes()
    manifest = json.loads((tmp_path / "beam" / "manifest.json").read_text())
    assert manifest["complete"] and manifest["shards"] == json.loads((single / "manifest.json").read_text())["shards"]


@pytest.mark.slow
def test_a_killed_beam_run_resumes_and_any_shard_size_gives_the_same_pairs(clean, single, tmp_path):
    out = tmp_path / "killed"
    process = subprocess.Popen(_beam_command(clean, out), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not any(out.glob("*.tfrecord.json")) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.kill()
    process.wait()
    done = sorted(out.glob("*.tfrecord.json"))
    assert 1 <= len(done) < 4, "the run was to be killed after its first shard and before its last"
    assert not (out / "manifest.json").exists()
    stamps = {p: p.stat().st_mtime_ns for p in done}
    result = subprocess.run(_beam_command(clean, out), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {p: p.stat().st_mtime_ns for p in done} == stamps  # complete shards were skipped, not redone
    assert shard_examples(out) == shard_examples(single)
    three = _synthesize(clean, tmp_path / "three", "--examples-per-shard", "3")
    assert len(records.shard_files(three)) == 2 and shard_examples(three) == shard_examples(out)  # the same set of pairs
    assert json.loads((out / "manifest.json").read_text())["examples"] == 4
