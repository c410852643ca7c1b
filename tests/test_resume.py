"""Nothing lost, nothing mixed: kills at the dangerous moments of an epoch's end, damaged backups, reruns."""

import csv
import json
import os

import keras
import pytest

from dml_keras import callbacks
from dml_keras.cli import main
from dml_keras.workflows.degradation import train_degradation
from tests.conftest import make_hr_lr

FLAGS = ["--basis", "2", "--kernel-size", "5", "--patch-size", "24", "--batch-size", "2", "--steps", "6",
         "--steps-per-epoch", "2", "--seed", "0", "--quiet"]


def _epochs(run):
    with open(run / "history.csv") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


@pytest.fixture
def pairs(tmp_path, photos):
    make_hr_lr(tmp_path / "pairs", photos, native=False)
    return tmp_path / "pairs"


def _train(pairs, run, *flags):
    return main(["train-degradation", str(pairs), "--out", str(run), *FLAGS, *flags])


def _killed_in_backup(monkeypatch, at_epoch, partial):
    """Make the backup of epoch `at_epoch` die as a kill would: before it writes (`partial=False`: the epoch's
    history line is already logged), or halfway through writing the weights (`partial=True`)."""
    save = callbacks.Backup._save_model

    def dying(self):
        if self._current_epoch == at_epoch + 1:
            if partial:
                def half(path):
                    with open(path, "wb") as handle:
                        handle.write(b"\x89HDF\r\n\x1a\n half a file")
                    raise KeyboardInterrupt
                callbacks.save_atomically(half, f"{self.backup_dir}/epochs-000002.weights.h5", ".weights.h5")
            raise KeyboardInterrupt
        save(self)

    monkeypatch.setattr(callbacks.Backup, "_save_model", dying)


@pytest.mark.parametrize("partial", [False, True], ids=["between-log-and-backup", "mid-backup"])
def test_a_kill_at_an_epochs_end_loses_no_history_line_and_logs_none_twice(pairs, tmp_path, monkeypatch, partial):
    run = tmp_path / "run"
    _killed_in_backup(monkeypatch, at_epoch=1, partial=partial)
    with pytest.raises(KeyboardInterrupt):
        train_degradation(pairs, run, num_basis=2, kernel_size=5, patch_size=24, batch_size=2, steps=6,
                          steps_per_epoch=2, seed=0, verbose=0)
    assert _epochs(run) == [0, 1]  # epoch 1 was logged, then the kill came before its backup
    backup = sorted(p.name for p in (run / "backup").iterdir())
    assert backup == ["epochs-000001.weights.h5", "training_metadata.json"]  # epoch 0's, no half-written file
    monkeypatch.undo()
    assert _train(pairs, run) == 0
    assert _epochs(run) == [0, 1, 2]  # epoch 1 redone from epoch 0's backup and logged once
    assert (run / "model.keras").exists()
    # each start is recorded with what ran it: the first from step 0, the resumed one from epoch 0's backup
    starts = json.loads((run / "run_info.json").read_text())["starts"]
    assert [start["from_step"] for start in starts] == [0, 2]
    assert all(start["backend"] == keras.backend.backend() and start["versions"]["keras"] == keras.__version__
               and start["machine"]["cores"] >= 1 for start in starts)


@pytest.mark.parametrize("layout", ["now", "earlier"])
def test_a_kill_between_an_epochs_weights_and_its_record_resumes_as_the_uninterrupted_run(pairs, tmp_path,
                                                                                           monkeypatch, layout):
    # the backup's one commit is the rename of its record: weights written without their record are not used
    from dml_keras.data import files

    assert _train(pairs, tmp_path / "whole") == 0
    write_json = files.write_json

    def dying(path, content):
        if str(path).endswith("training_metadata.json") and content["epoch"] == 2:
            raise KeyboardInterrupt  # epoch 1's weights are on disk, the record still says epoch 0's
        write_json(path, content)

    monkeypatch.setattr(files, "write_json", dying)
    run = tmp_path / "killed"
    assert _train(pairs, run) == 130
    assert sorted(p.name for p in (run / "backup").iterdir()) == [
        "epochs-000001.weights.h5", "epochs-000002.weights.h5", "training_metadata.json"]
    monkeypatch.undo()
    if layout == "earlier":  # a backup of an earlier version: latest.weights.h5, a record that names no file
        backup = run / "backup"
        (backup / "epochs-000001.weights.h5").rename(backup / "latest.weights.h5")
        (backup / "epochs-000002.weights.h5").unlink()
        (backup / "training_metadata.json").write_text(json.dumps({"epoch": 1, "batch": 0}))
    assert _train(pairs, run) == 0
    assert _epochs(run) == [0, 1, 2]
    with open(tmp_path / "whole" / "history.csv") as a, open(run / "history.csv") as b:
        assert [row["loss"] for row in csv.DictReader(a)] == [row["loss"] for row in csv.DictReader(b)]
    for x, y in zip(keras.models.load_model(tmp_path / "whole" / "model.keras").get_weights(),
                    keras.models.load_model(run / "model.keras").get_weights()):
        assert (x == y).all()


def test_a_kill_while_a_finished_run_removes_its_backup_leaves_no_record_of_removed_weights(pairs, tmp_path,
                                                                                             monkeypatch):
    # the folder's files go in no set order: here the weights first, then the kill, as the unlucky order would
    from keras.src.callbacks import backup_and_restore

    assert _train(pairs, tmp_path / "whole") == 0
    run = tmp_path / "killed"
    rmtree = backup_and_restore.file_utils.rmtree

    def dying_rmtree(folder):
        if os.fspath(folder) != os.fspath(run / "backup"):  # saving a .keras file removes folders of its own
            return rmtree(folder)
        for name in os.listdir(folder):
            if name.endswith(".weights.h5"):
                os.remove(os.path.join(folder, name))
        raise KeyboardInterrupt

    monkeypatch.setattr(backup_and_restore.file_utils, "rmtree", dying_rmtree)
    assert _train(pairs, run) == 130
    assert not any(name.endswith(".weights.h5") for name in os.listdir(run / "backup"))
    monkeypatch.undo()
    assert _train(pairs, run) == 0  # no record is left naming the removed weights: the run is made again
    assert _epochs(run) == [0, 1, 2]
    for x, y in zip(keras.models.load_model(tmp_path / "whole" / "model.keras").get_weights(),
                    keras.models.load_model(run / "model.keras").get_weights()):
        assert (x == y).all()


@pytest.mark.parametrize("damage, name", [(b"\x89HDF\r\n\x1a\n half a file", "epochs-000001.weights.h5"),
                                          (b"", "training_metadata.json")])
def test_a_damaged_backup_is_one_line_saying_how_to_start_over(pairs, tmp_path, monkeypatch, capsys, damage, name):
    run = tmp_path / "run"
    _killed_in_backup(monkeypatch, at_epoch=1, partial=False)
    with pytest.raises(KeyboardInterrupt):
        train_degradation(pairs, run, num_basis=2, kernel_size=5, patch_size=24, batch_size=2, steps=6,
                          steps_per_epoch=2, seed=0, verbose=0)
    monkeypatch.undo()
    (run / "backup" / name).write_bytes(damage)
    assert _train(pairs, run) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: The run's backup '{run / 'backup'}' cannot be read (")
    assert err.count("\n") == 1 and "Delete that folder to start the run over" in err


def test_a_finished_run_is_not_retrained_and_a_stopped_one_not_mixed_with_other_settings(pairs, tmp_path,
                                                                                           monkeypatch, capsys):
    assert _train(pairs, tmp_path / "done") == 0
    assert _train(pairs, tmp_path / "done") == 2
    assert f"'{tmp_path / 'done'}' holds a finished run (model.keras)" in capsys.readouterr().err
    assert _epochs(tmp_path / "done") == [0, 1, 2]

    run = tmp_path / "stopped"
    _killed_in_backup(monkeypatch, at_epoch=1, partial=False)
    assert _train(pairs, run) == 130  # interrupted
    capsys.readouterr()
    monkeypatch.undo()
    assert _train(pairs, run, "--basis", "3") == 2
    err = capsys.readouterr().err
    assert "holds a stopped run with other settings (num_basis 2 → 3)" in err and err.count("\n") == 1
    recorded = json.loads((run / "spec.json").read_text())
    del recorded["network"]["kernel_size"]  # a run recorded before a setting existed ran as its default does now
    (run / "spec.json").write_text(json.dumps(recorded))
    assert _train(pairs, run, "--steps", "8") == 0  # more steps continue it
    assert _epochs(run) == [0, 1, 2, 3]


def test_a_second_writer_of_one_folder_is_refused_and_a_killed_ones_lock_taken_over(tmp_path, photos, capsys):
    import subprocess
    import sys

    from dml_keras.data.io import write_image

    for name in ("coffee", "chelsea"):
        write_image(tmp_path / "clean" / f"{name}.png", photos[name][:64, :64])
    out = tmp_path / "syn"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom dml_keras.data.files import folder_lock\n"
                               f"with folder_lock({str(out)!r}):\n    print('held', flush=True)\n    time.sleep(120)"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert main(["synthesize", "bicubic", str(tmp_path / "clean"), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err == f"error: '{out}' is being written by another dml process (pid {holder.pid}). Wait for it to " \
                      "finish, or give another --out.\n"
        assert not (out / "lr").exists()
    finally:
        holder.kill()
        holder.wait()
    assert (out / ".dml.lock").exists()  # a kill leaves the lock behind; its process is gone, so it is taken over
    assert main(["synthesize", "bicubic", str(tmp_path / "clean"), "--out", str(out)]) == 0
    assert sorted(p.name for p in (out / "lr").iterdir()) == ["chelsea.png", "coffee.png"]
    assert not (out / ".dml.lock").exists()


def test_png_synthesis_refuses_a_folder_of_other_settings_and_resumes_its_own(tmp_path, photos, capsys):
    from dml_keras.data.io import write_image

    for name in ("coffee", "chelsea"):
        write_image(tmp_path / "clean" / f"{name}.png", photos[name][:64, :64])
    out = str(tmp_path / "syn")
    assert main(["synthesize", "bicubic", str(tmp_path / "clean"), "--out", out, "--seed", "1"]) == 0
    before = (tmp_path / "syn" / "lr" / "coffee.png").read_bytes()
    assert main(["synthesize", "bicubic", str(tmp_path / "clean"), "--out", out, "--seed", "2"]) == 2
    assert "holds pairs of another synthesis" in capsys.readouterr().err
    (tmp_path / "syn" / "lr" / "chelsea.png").unlink()  # as if killed before this pair's LR
    assert main(["synthesize", "bicubic", str(tmp_path / "clean"), "--out", out, "--seed", "1"]) == 0
    assert (tmp_path / "syn" / "lr" / "coffee.png").read_bytes() == before
    assert (tmp_path / "syn" / "lr" / "chelsea.png").exists()


def test_a_kill_mid_checkpoint_keeps_the_previous_checkpoint_whole(pairs, tmp_path, monkeypatch):
    import keras

    run = tmp_path / "run"
    save, calls = keras.Model.save, []

    def dying_save(self, path, *args, **kwargs):
        calls.append(path)
        if len(calls) == 2:  # epoch 1's checkpoint: half written, then the kill
            with open(path, "wb") as handle:
                handle.write(b"PK\x03\x04 half a zip")
            raise KeyboardInterrupt
        return save(self, path, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        train_degradation(pairs, run, num_basis=2, kernel_size=5, patch_size=24, batch_size=2, steps=6,
                          steps_per_epoch=2, seed=0, verbose=0)
    monkeypatch.undo()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["last.keras"]  # no temporary file left
    assert keras.models.load_model(run / "checkpoints" / "last.keras").num_basis == 2  # epoch 0's, whole
    assert _train(pairs, run) == 0 and _epochs(run) == [0, 1, 2]


@pytest.mark.slow
def test_sigkills_at_random_moments_lose_no_epoch_and_the_rerun_ends_as_the_uninterrupted_run(pairs, tmp_path):
    import random
    import signal
    import subprocess
    import sys
    import time

    def command(run):
        return [sys.executable, "-m", "dml_keras", "train-degradation", str(pairs), "--out", str(run),
                *FLAGS[:FLAGS.index("--steps")], "--steps", "32", *FLAGS[FLAGS.index("--steps") + 2:]]

    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert subprocess.run(command(whole), capture_output=True, timeout=600).returncode == 0
    moments = random.Random(0)
    kills = 0
    for _ in range(3):  # each kill lands a random moment after an epoch's line: in its backup or checkpoint
        if (killed / "model.keras").exists():  # on a fast machine a start may finish before its kill comes
            break
        process = subprocess.Popen(command(killed), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        history = killed / "history.csv"
        lines = len(history.read_text().splitlines()) if history.exists() else 0
        deadline = time.time() + 300
        while process.poll() is None and time.time() < deadline and (
                not history.exists() or len(history.read_text().splitlines()) <= lines + 1):
            time.sleep(0.01)
        time.sleep(moments.uniform(0, 0.3))
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.wait(timeout=60)
    assert kills >= 2
    if not (killed / "model.keras").exists():
        rerun = subprocess.run(command(killed), capture_output=True, text=True, timeout=600)
        assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert _epochs(killed) == list(range(16))  # every epoch once
    with open(whole / "history.csv") as a, open(killed / "history.csv") as b:
        assert [row["loss"] for row in csv.DictReader(a)] == [row["loss"] for row in csv.DictReader(b)]
    # each start went on from the last backed-up epoch with the batches it would have drawn: the same run
    starts = [start["from_step"] for start in json.loads((killed / "run_info.json").read_text())["starts"]]
    assert len(starts) == kills + 1 and starts == sorted(starts) and starts[-1] > 0
    for x, y in zip(keras.models.load_model(whole / "model.keras").get_weights(),
                    keras.models.load_model(killed / "model.keras").get_weights()):
        assert (x == y).all()
    assert not (killed / "backup").exists() and keras.models.load_model(killed / "model.keras")
