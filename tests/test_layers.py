"""The import-linter contracts in pyproject.toml: kept by the package, and broken by an injected cycle or an upward import."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("importlinter", reason='import-linter is missing: pip install -e ".[test]"')


def lint(root: Path) -> subprocess.CompletedProcess:
    """`lint-imports` on the package under `root` (its own copy is what Python finds there first)."""
    env = dict(os.environ, PYTHONPATH=str(root))
    code = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run([sys.executable, "-c", code, "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "archspace", tmp_path / "archspace", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_package_keeps_its_contracts():
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "2 kept, 0 broken" in result.stdout


def test_an_injected_cycle_breaks_the_contract(copy):
    record = copy / "archspace" / "search" / "record.py"
    record.write_text(record.read_text() + "\nfrom archspace.search import runner  # injected: runner -> ... -> record -> runner\n")
    result = lint(copy)
    assert result.returncode != 0
    assert "no import cycles inside the search, evaluate and reporting packages BROKEN" in result.stdout
    assert "No cycles are allowed in archspace.search" in result.stdout


def test_an_upward_import_breaks_the_layers(copy):
    registry = copy / "archspace" / "evaluate" / "registry.py"
    registry.write_text(registry.read_text() + "\nimport archspace.search.runner  # injected: evaluate importing search\n")
    result = lint(copy)
    assert result.returncode != 0 and "archspace.evaluate is not allowed to import archspace.search" in result.stdout
