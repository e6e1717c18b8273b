"""`archspace bench build`: train every entry of a table's plan that the table lacks, appending one row per job.

Jobs run in this process (`--workers 1`), in a pool of worker processes (`--workers N`, one core each), or as Ray
tasks (`--backend ray`, on a local loopback instance or the cluster at `--address`). Every finished job is written
at once, so a build killed at any moment resumes where it stopped; the plan is recomputed from the protocol and
only the missing (architecture, seed) pairs are trained.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from archspace.bench.job import Job, run_job
from archspace.bench.plan import Entry, all_entries, jobs
from archspace.bench.protocol import TableProtocol
from archspace.bench.store import TableStore
from archspace.errors import ArchspaceError
from archspace.worker_pool import in_workers


def plan(protocol: TableProtocol) -> tuple[list[Entry], dict[str, int], tuple[int, int, int]]:
    """The table's entries (and what sampling skipped), with the task's (in_chans, classes, size)."""
    from archspace.evaluate.data import load_data
    from archspace.search.space import SearchSpace

    bundle = load_data(protocol.data)
    shape = (bundle.in_chans, bundle.num_classes, bundle.image_size)
    entries, skipped = all_entries(SearchSpace.from_file(protocol.space), protocol, shape)
    return entries, skipped, shape


def make_jobs(entries: list[Entry], protocol: TableProtocol, shape: tuple[int, int, int], done: set[tuple[str, int]]) -> list[Job]:
    """The jobs the table still lacks, in plan order."""
    from archspace.genotype.adapt import adapt
    from archspace.genotype.io import canonical_dict, canonical_json

    out = []
    for entry, seed in jobs(entries, protocol):
        if (entry.arch_id, seed) in done:
            continue
        row = {
            **entry.as_row(),
            "adapted_id": adapt(entry.genotype, shape[2], shape[0], shape[1]).id,
            "genotype": canonical_dict(entry.genotype),
            "trained": canonical_dict(entry.trained),
        }
        out.append(Job((entry.arch_id, seed), canonical_json(entry.trained), protocol.data.model_dump(mode="json"),
                       protocol.train.model_dump(mode="json"), row))
    return out


def _local(todo: list[Job], workers: int, device: str) -> Iterator[dict[str, Any]]:
    if workers == 1:
        for job in todo:
            yield run_job(job, device)
        return
    jobs = [(job, device) for job in todo]
    for _, row in in_workers(run_job, jobs, workers, lambda i: _label(todo[i])):
        yield row


def _label(job: Job) -> str:
    return f"{job.row['source']} {job.key[0][:12]} seed {job.key[1]}"


def _ray(todo: list[Job], workers: int, device: str, address: str | None) -> Iterator[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise ArchspaceError("--backend ray needs the ray extra: pip install 'archspace[ray]'") from None
    from archspace.search.ray_backend import connect

    started = connect(address, workers if not address else None)
    try:
        gpus = 1 if device_wants_gpu(device) else 0
        remote = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=0)(run_job)
        pending = iter(todo)
        running = [remote.remote(job, device) for job in _take(pending, workers)]
        while running:
            finished, running = ray.wait(running, num_returns=1)
            yield ray.get(finished[0])
            running += [remote.remote(job, device) for job in _take(pending, 1)]
    finally:
        if started:
            ray.shutdown()


def device_wants_gpu(device: str) -> bool:
    return device.startswith("cuda")


def _take(it: Iterator[Job], k: int) -> list[Job]:
    out = []
    for job in it:
        out.append(job)
        if len(out) == k:
            break
    return out


def build_table(protocol: TableProtocol, out: str | Path, workers: int = 1, backend: str = "local", device: str = "auto",
                address: str | None = None, say: Callable[[str], None] | None = None) -> TableStore:
    """Train what the table at `out` lacks under `protocol`; progress lines go to `say` (stderr by default)."""
    say = say or (lambda line: print(line, file=sys.stderr, flush=True))
    store = TableStore(out)
    protocol = store.claim(protocol)
    entries, skipped, shape = plan(protocol)
    todo = make_jobs(entries, protocol, shape, store.done())
    total = len(list(jobs(entries, protocol)))
    say(f"table {store.path}: {len(entries)} architectures ({_sources(entries)}), {total} trainings; "
        f"{total - len(todo)} done, {len(todo)} to train on {workers} {backend} worker(s)"
        + (f"; sampling skipped {_skips(skipped)}" if any(skipped.values()) else ""))
    start = time.perf_counter()
    results = _ray(todo, workers, device, address) if backend == "ray" else _local(todo, workers, device)
    for k, row in enumerate(results, 1):
        store.append(row)
        eta = (time.perf_counter() - start) / k * (len(todo) - k)
        say(f"[{total - len(todo) + k}/{total}] {row['source']} {row['arch_id'][:12]} seed {row['seed']}: "
            f"val {100 * row['val_acc']:.1f}% test {100 * row['test_acc']:.1f}% ({row['train_s']:.0f} s); ETA {_hms(eta)}")
    return store


def _sources(entries: Iterable[Entry]) -> str:
    kinds: dict[str, int] = {}
    for e in entries:
        kind = e.source.split(":")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    return ", ".join(f"{v} {k}" for k, v in kinds.items())


def _skips(skipped: dict[str, int]) -> str:
    return ", ".join(f"{v} {k}" for k, v in skipped.items() if v)


def _hms(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"
