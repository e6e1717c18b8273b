"""Several genotypes evaluated under a run's protocol, in this process or on worker processes (one core each).

The published models and seed replicas that `archspace report` / `archspace pareto` measure (archspace.search.published,
archspace.search.seeds) go through `evaluate_many`: with `workers` 1 one after the other here; with N > 1 on N spawned
processes, each training with one torch thread (as the search's workers and `bench build` do), yielding each result as
it finishes so the caller caches it at once and a killed report resumes with what it had. A training says each epoch's
validation accuracy as it goes (`EpochLines`): a published model's training can take hours on one core.
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from archspace.errors import ArchspaceError
from archspace.worker_pool import in_workers

WORKER_THREADS = 1  # torch threads per worker process: --workers N uses N cores


@dataclass(frozen=True)
class Evaluation:
    """One genotype to evaluate under the run's protocol: a label for progress lines, and the seed (None: the run's)."""

    label: str
    genotype: Any
    seed: int | None = None


def check_workers(workers: int) -> int:
    """`workers` as this machine can run it (capped at its cores, said on stderr); one line for a count below 1."""
    import sys

    from archspace.search.limits import usable_workers

    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ArchspaceError(f"--workers: must be 1 or more, got {workers}")
    usable, capped = usable_workers(workers)
    if capped:
        print(f"archspace: {capped}", file=sys.stderr, flush=True)
    return usable


Evaluate = Callable[..., dict[str, Any]]  # (run, genotype, seed=..., report=...) -> row: published.evaluate_genotype
Progress = Callable[[str], None]


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class EpochLines:
    """A training's `report(epoch, epochs, validation accuracy)` as progress lines, with the seconds since it began."""

    label: str
    progress: Progress = _stderr
    start: float = field(default_factory=time.perf_counter, init=False)

    def __call__(self, epoch: int, epochs: int, val_acc: float) -> None:
        self.progress(f"{self.label}: epoch {epoch}/{epochs}, validation accuracy {val_acc:.3f}, "
                      f"{time.perf_counter() - self.start:.0f} s")


def evaluate_safely(evaluate: Evaluate, run, genotype, seed: int | None, report: EpochLines | None = None) -> dict[str, Any]:
    """`evaluate`, with an evaluation that cannot be made as a row holding its one-line `error`."""
    try:
        return evaluate(run, genotype, seed=seed, report=report)
    except ArchspaceError as err:
        return {"error": str(err)}


def _in_worker(evaluate: Evaluate, run_path: str, genotype_json: str, seed: int | None, label: str | None) -> dict[str, Any]:
    import json

    import torch

    from archspace.genotype.io import genotype_from_dict
    from archspace.search.rundir import RunDir

    torch.set_num_threads(WORKER_THREADS)
    report = None if label is None else EpochLines(label)
    return evaluate_safely(evaluate, RunDir(run_path), genotype_from_dict(json.loads(genotype_json)), seed, report)


def evaluate_many(evaluate: Evaluate, run, todo: list[Evaluation], workers: int = 1,
                  progress: Progress | None = None) -> Iterator[tuple[int, dict[str, Any]]]:
    """(index into `todo`, `evaluate`'s row) for each evaluation, in the order they finish (`evaluate` is a module-level
    function, so workers import it by name); `progress` gets a line as each evaluation starts, one per training epoch
    (from a worker process: on its stderr) and one with its score and seconds as it ends."""
    from archspace.genotype.io import canonical_json

    def started(i: int) -> float:
        if progress:
            progress(f"evaluating {todo[i].label} under the run's protocol")
        return time.perf_counter()

    def ended(i: int, t0: float, result: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if progress:
            outcome = f"error: {result['error']}" if "error" in result else f"score {result.get('score')}"
            progress(f"{todo[i].label}: {outcome} after {time.perf_counter() - t0:.0f} s (cached in the run)")
        return i, result

    if workers == 1 or len(todo) <= 1:
        for i, item in enumerate(todo):
            t0 = started(i)
            report = EpochLines(item.label, progress) if progress else None
            yield ended(i, t0, evaluate_safely(evaluate, run, item.genotype, item.seed, report))
        return
    times: dict[int, float] = {}

    def submitted(i: int) -> None:
        times[i] = started(i)

    jobs = [(evaluate, str(run.path), canonical_json(item.genotype), item.seed, item.label if progress else None) for item in todo]
    for i, result in in_workers(_in_worker, jobs, workers, lambda i: todo[i].label, submitted):
        yield ended(i, times[i], result)
