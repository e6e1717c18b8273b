"""The committed results under results/ are complete run folders, and the docs link only to files that exist."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_PROGRESS = "in_progress"


def committed_folders() -> list[Path]:
    """The folders under results/ that git tracks files in: a run in progress in its default folder (results/<name>,
    ignored by .gitignore) is not a committed result, nor is results/in_progress, where a long run's state is committed
    so that it resumes across checkouts (its README says so) until it lands as results/<name>. Outside a git checkout,
    every folder there but results/in_progress."""
    try:
        tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "results"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(p for p in (ROOT / "results").iterdir() if p.is_dir() and p.name != IN_PROGRESS)
    return sorted({ROOT / "results" / line.split("/")[1] for line in tracked.splitlines() if line.count("/") >= 2} - {ROOT / "results" / IN_PROGRESS})


FOLDERS = committed_folders()
TABLES = [p for p in FOLDERS if (p / "protocol.json").is_file()]  # trained-architecture tables (archspace bench build)
RUNS = [p for p in FOLDERS if p not in TABLES]


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_committed_run_folder_has_what_report_reads(run: Path) -> None:
    missing = [name for name in ("config.yaml", "run.json", "pareto.json", "trials.csv", "README.md") if not (run / name).is_file()]
    assert not missing, f"{run.name} lacks {missing}"


@pytest.mark.parametrize("run", RUNS, ids=[p.name for p in RUNS])
def test_committed_run_was_written_by_the_space_it_names(run: Path) -> None:
    """Every gene: column of trials.csv is a sampled gene of the space the run names (a stale result, written by an
    older space, has others: results/quickstart_showcase had 87 against the space's 97), and the space's sha256 that
    run.json recorded is the shipped file's. A gene no trial reached (a mixer kind never drawn) has no column."""
    import json

    import pandas as pd
    import yaml

    from archspace.digest import file_sha256
    from archspace.search.space import SearchSpace

    space = ROOT / "search_spaces" / Path(yaml.safe_load((run / "config.yaml").read_text())["space"]).name
    genes = {f"gene:{g.name}" for g in SearchSpace.from_file(space).genes() if g.kind != "expr"}
    columns = {c for c in pd.read_csv(run / "trials.csv", nrows=1).columns if c.startswith("gene:")}
    assert columns and columns <= genes, f"{run.name}: columns the space {space.name} lacks: {sorted(columns - genes)[:5]}"
    recorded = json.loads((run / "run.json").read_text())["space"].get("sha256")
    assert recorded == file_sha256(space), f"{run.name} was written by another version of {space.name}"


@pytest.mark.parametrize("table", TABLES, ids=[p.name for p in TABLES])
def test_committed_table_has_its_rows_and_readme(table: Path) -> None:
    from archspace.bench.store import TableStore

    assert (table / "README.md").is_file(), f"{table.name} lacks README.md"
    store = TableStore(table)
    assert store.protocol() is not None and store.rows(), f"{table.name}: no protocol or no rows"


def test_docs_link_only_to_existing_results() -> None:
    docs = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for doc in docs:
        for target in re.findall(r"\]\((results/[^)#\s]+)", doc.read_text()):
            if not (ROOT / target).exists():
                broken.append(f"{doc.name}: {target}")
    assert not broken, broken
