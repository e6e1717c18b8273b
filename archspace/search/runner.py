"""`archspace search`: run (or resume) a search into a run folder with the local backend (worker processes).

The work is shared with the Ray backend (archspace.search.orchestrate): the run folder (`prepare`), the
study and recovery (`study`), asking and telling (`orchestrate`, `trial`), the trials table (`record`).
Re-running the same command on the same `--out` resumes.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from archspace.search.config import SearchConfig
from archspace.search.local import LocalBackend
from archspace.search.orchestrate import load_context, search_with
from archspace.search.prepare import prepare_run, resolve_config
from archspace.search.progress import summary
from archspace.search.published import evaluate_genotype
from archspace.search.record import export_trials
from archspace.search.rundir import RunDir
from archspace.search.study import make_sampler, open_study


def search(cfg: SearchConfig, out: str | Path, storage: str | None = None, quiet: bool = False,
           in_process: bool = False) -> tuple[RunDir, dict[str, Any]]:
    """Run (or resume) the search `cfg` into `out` until it holds `cfg.trials` trials; returns the run and its summary.

    `in_process` runs the trials in this process, one at a time, without workers (no trial timeout, and
    a crash of a trial's code takes the caller down): for notebooks, debugging and tests."""
    return search_with(LocalBackend(in_process), cfg, out, storage, quiet)


__all__ = ["evaluate_genotype", "export_trials", "load_context", "make_sampler", "open_study", "prepare_run", "resolve_config",
           "search", "summary"]
