"""saved_models/recipes.sh is a loop over run specs: every spec in saved_models/specs (training runs and pair
sets) replays to itself through `--config`, and the script runs each of them exactly once, into runs/ under the
spec's own name."""

import glob
import json
import os
import subprocess
import textwrap

import pytest

from dml_keras.cli import spec_of_command

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "saved_models", "specs")
SPEC_FILES = sorted(glob.glob(os.path.join(SPECS, "**", "*.json"), recursive=True))
COMMANDS = {"sr-run/1": "train-sr", "degradation-run/1": "train-degradation", "synthesis-run/1": "synthesize"}


def _name(path):
    return os.path.relpath(path, SPECS)[:-len(".json")]


def _relative(nested, root):
    """`to_dict`'s absolute data paths made relative to `root`, as the spec files hold them."""
    return {part: {key: os.path.relpath(value, root) if isinstance(value, str) and os.path.isabs(value) else value
                   for key, value in values.items()} if isinstance(values, dict) else values
            for part, values in nested.items()}


def test_the_recipes_hold_every_run_of_the_studies():
    assert len(SPEC_FILES) >= 100  # sections 1-19 of recipes.sh
    kinds = {json.load(open(path))["spec"] for path in SPEC_FILES}
    assert kinds == set(COMMANDS)


@pytest.mark.parametrize("path", SPEC_FILES, ids=_name)
def test_a_spec_replays_to_itself(path, monkeypatch, tmp_path):
    """`dml train-*|synthesize --config SPEC` runs the very spec in the file: nothing added, dropped or changed on the way
    through the flags, so the loop replays each run as the file says."""
    monkeypatch.chdir(ROOT)
    with open(path) as handle:
        recorded = json.load(handle)
    for part in recorded.values():  # data paths are relative to the repository root, never absolute
        for value in part.values() if isinstance(part, dict) else ():
            assert not (isinstance(value, str) and os.path.isabs(value)), value
    # a synthesis spec holds its folder, where the script writes it: runs/NAME
    spec = spec_of_command([COMMANDS[recorded["spec"]], "--config", path, "--out", os.path.join("runs", _name(path))])
    assert _relative(spec.to_dict(), ROOT) == recorded


def test_the_script_trains_each_spec_once_into_its_own_folder(tmp_path):
    """recipes.sh run with every program stubbed: the `dml train-*|synthesize` lines it would run are exactly one per spec file,
    with that file as --config and runs/NAME as --out, each by the command of the spec's kind."""
    work = tmp_path / "main"
    (work / "runs").mkdir(parents=True)
    os.symlink(os.path.join(ROOT, "saved_models"), work / "saved_models")
    for folder in ("sunhays80", "set14"):
        (tmp_path / "shared" / "data" / "clean_hr" / folder).mkdir(parents=True)
    log = tmp_path / "calls.txt"
    stubs = textwrap.dedent(f"""\
        dml() {{ echo "dml $*" >> {log}; }}
        python() {{ [ -t 0 ] || cat > /dev/null; }}
        taskset() {{ shift 2; "$@"; }}
        export -f dml python taskset
        """)
    script = open(os.path.join(ROOT, "saved_models", "recipes.sh")).read()
    result = subprocess.run(["bash", "-c", stubs + script], cwd=work, stdin=subprocess.DEVNULL,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    trained = {}
    for line in log.read_text().splitlines():
        words = line.split()
        if words[1] in COMMANDS.values():
            assert words[2] == "--config" and words[4] == "--out", line
            name = os.path.relpath(words[3], "saved_models/specs")[:-len(".json")]
            assert words[5] == f"runs/{name}", line
            assert words[1] == COMMANDS[json.load(open(os.path.join(SPECS, name + ".json")))["spec"]], line
            trained[name] = trained.get(name, 0) + 1
    assert trained == {_name(path): 1 for path in SPEC_FILES}
