"""The committed results under results/ are complete run folders, and the docs link only to files that exist."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNS = sorted(p for p in (ROOT / "results").iterdir() if p.is_dir())


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_committed_run_folder_has_what_report_reads(run: Path) -> None:
    missing = [name for name in ("config.yaml", "run.json", "pareto.json", "trials.csv", "README.md") if not (run / name).is_file()]
    assert not missing, f"{run.name} lacks {missing}"


def test_docs_link_only_to_existing_results() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for doc in docs:
        for target in re.findall(r"\]\((results/[^)#\s]+)", doc.read_text()):
            if not (ROOT / target).exists():
                broken.append(f"{doc.name}: {target}")
    assert not broken, broken
