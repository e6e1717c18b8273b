"""A run folder made or reopened for a search: config.yaml and run.json written once, the same search checked on resume
(the config, and the space file's content through its sha256).

`prepare_run` refuses a folder that holds another search (naming the first difference) or that is not
empty; `resolve_config` applies the command line's overrides to a config file.
"""
from __future__ import annotations

import datetime as _dt
import sys
import platform
from pathlib import Path
from typing import Any

from archspace.errors import ArchspaceError
from archspace.search.config import SearchConfig, config_from_dict
from archspace.search.rundir import JOURNAL, RunDir
from archspace.search.storage import redact

RUN_SETTINGS = ("trials", "workers", "heartbeat_s", "kill_retries")  # may change between the runs of one search


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version()}
    for pkg in ("archspace", "torch", "timm", "optuna", "pandas"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = ""
    return out


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            d = _first_difference(a.get(k), b.get(k), f"{path}.{k}" if path else k)
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} there, {b!r} now"


def space_digest(path: str | Path) -> str:
    """The sha256 of the space file's bytes: part of the run's identity, so a run resumes only on the space it began with."""
    from archspace.digest import file_sha256

    return file_sha256(path)


def prepare_run(cfg: SearchConfig, out: Path, storage: str | None = None) -> RunDir:
    """Create the run folder (config.yaml, run.json) or check that `cfg` is the search it holds."""
    out.mkdir(parents=True, exist_ok=True)
    run = RunDir(out, must_exist=False)
    new = cfg.model_dump(mode="json")
    if (out / "run.json").is_file():
        run = RunDir(out)
        old = run.config.model_dump(mode="json")
        diff = _first_difference({k: v for k, v in old.items() if k not in RUN_SETTINGS},
                                 {k: v for k, v in new.items() if k not in RUN_SETTINGS})
        if diff:
            raise ArchspaceError(f"{out} holds a different search ({diff}); use another --out, or the same config to resume it")
        was, now = run.meta.get("space", {}).get("sha256"), space_digest(cfg.space)
        if was is not None and was != now:
            raise ArchspaceError(f"{out} holds a different search (space: {cfg.space} changed since the run began, sha256 "
                                 f"{was[:12]} there, {now[:12]} now); use another --out, or the run's space file to resume it")
        run = _same_storage(run, storage)
        run.write_text("config.yaml", cfg.to_yaml())
        return run
    if any(not p.name.startswith(".") and p.name != "config.yaml" for p in out.iterdir()):
        raise ArchspaceError(f"{out}: is not empty and holds no search run; give an empty or new --out folder")
    from archspace.cost.latency import device_fingerprint
    from archspace.evaluate.data import load_data
    from archspace.search.space import SearchSpace

    space = SearchSpace.from_file(cfg.space)
    bundle = load_data(cfg.data)
    run.write_text("config.yaml", cfg.to_yaml())
    meta = {
        "seed": cfg.seed,
        "study_name": cfg.name,
        "storage": redact(storage) if storage else JOURNAL,
        "objectives": [{"name": o.name, "direction": o.direction} for o in cfg.objectives],
        "budgets": {k: v for k, v in cfg.budgets.items()},
        "target": {"image_size": cfg.target.image_size, "num_classes": cfg.target.num_classes},
        "eval": {"image_size": bundle.image_size, "in_chans": bundle.in_chans, "num_classes": bundle.num_classes, "dataset": bundle.name},
        "versions": _versions(),
        "device": device_fingerprint("cuda" if cfg.device.startswith("cuda") else "cpu", 1),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "space": {"name": space.name, "path": cfg.space, "anchors": list(space.anchors), "sha256": space_digest(cfg.space)},
    }
    run.write_json("run.json", meta)
    return RunDir(out, storage=storage)


def _same_storage(run: RunDir, storage: str | None) -> RunDir:
    """The reopened run with the storage URL to use: `storage` when it is the run's (compared redacted), else the
    kept one; one line when the kept URL lacks its password (never written) and no --storage brings it. A run that
    never recorded a trial (a failed start: no driver, no server) is re-targeted to a new `storage`."""
    kept = run.meta["storage"]
    if storage and redact(storage) != kept:
        if len(run.trials()):
            raise ArchspaceError(f"{run.path} uses the storage {kept!r}; resume it without --storage or with the same one")
        run.write_json("run.json", {**run.meta, "storage": redact(storage)})
        print(f"archspace: {run.path}: re-targeted from {kept!r} to {redact(storage)!r} (it recorded no trial)", file=sys.stderr)
    if not storage and ":***@" in kept:
        raise ArchspaceError(f"{run.path} uses the storage {kept!r}, whose password the run folder does not keep; "
                             "resume it with --storage and the full URL")
    return RunDir(run.path, storage=storage) if storage else run


def resolve_config(path: str | Path, trials: int | None = None, workers: int | None = None, seed: int | None = None,
                   timeout: float | None = None) -> SearchConfig:
    """Load a config file with the command line's overrides applied (then validated again)."""
    from archspace.search.config import load_config

    cfg = load_config(path)
    over = {k: v for k, v in (("trials", trials), ("workers", workers), ("seed", seed), ("trial_timeout_s", timeout)) if v is not None}
    if not over:
        return cfg
    data = cfg.model_dump(mode="json") | over
    return config_from_dict(data, where="command line")
