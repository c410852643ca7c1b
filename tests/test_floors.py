"""The package's floors (pyproject.toml, [tool.importlinter]): no module imports from a floor above its own."""

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_no_module_imports_up_a_floor():
    linter = shutil.which("lint-imports")
    if linter is None:
        pytest.skip("import-linter is not installed (it comes with the [dev] extra)")
    result = subprocess.run([linter, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 2 kept, 0 broken." in result.stdout
