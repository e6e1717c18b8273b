"""Server storages for one study shared by many processes and machines (PostgreSQL, MySQL, SQLite via Optuna's RDB).

- `rdb_storage(url)`: Optuna's RDB storage for a URL, with a one-line hint when the database driver is
  missing (`pip install -e ".[postgres]"`); `postgresql://` uses psycopg 3 when psycopg2 is absent.
- `publish_run(study, run)` / `export_run(url, study_name, out)`: the run's config, metadata and space
  are kept in the study itself, so the run folder can be rebuilt from the storage alone.
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

from archspace.errors import ArchspaceError

DRIVERS = {"postgresql": ("postgres", "psycopg"), "postgres": ("postgres", "psycopg"), "mysql": ("mysql", "pymysql")}
CONFIG_ATTR, META_ATTR, SPACE_ATTR = "archspace:config", "archspace:run", "archspace:space"


def dialect(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0].lower()


def engine_url(url: str) -> str:
    """`url` as SQLAlchemy should open it: a bare postgresql:// goes through psycopg 3 unless psycopg2 is installed."""
    import importlib.util

    head, sep, rest = url.partition("://")
    if head in ("postgresql", "postgres") and sep:
        if importlib.util.find_spec("psycopg2") is None:
            return f"postgresql+psycopg://{rest}"
        return f"postgresql://{rest}"
    return url


def missing_driver(url: str, err: ImportError) -> ArchspaceError:
    extra, _ = DRIVERS.get(dialect(url), ("postgres", ""))
    module = getattr(err, "name", None) or str(err)
    return ArchspaceError(f"storage {dialect(url)}: the database driver ({module}) is not installed; pip install -e \".[{extra}]\"")


def rdb_storage(url: str, heartbeat_s: int | None = None, on_stale=None):
    """Optuna's (cached) RDB storage for `url`; one line when the driver is missing or the server cannot be reached.
    With `heartbeat_s`, running trials record heartbeats and one silent for 3 x `heartbeat_s` is failed and passed to `on_stale`."""
    import optuna
    import sqlalchemy.exc

    try:
        for attempt in range(3):
            try:
                beats = {"heartbeat_interval": heartbeat_s, "grace_period": 3 * heartbeat_s, "heartbeat_stale_trial_callback": on_stale} \
                    if heartbeat_s else {}
                with warnings.catch_warnings():  # Optuna marks heartbeats experimental
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.get_storage(optuna.storages.RDBStorage(engine_url(url), engine_kwargs=_engine_kwargs(url), **beats))
            except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.ProgrammingError):
                # workers starting together race to create Optuna's schema; the loser finds it made on a retry
                if attempt == 2:
                    raise
                time.sleep(0.5 + attempt)
    except ImportError as err:
        raise missing_driver(url, err) from None
    except sqlalchemy.exc.ArgumentError as err:
        raise ArchspaceError(f"storage {url!r}: not a storage URL ({err})") from None
    except sqlalchemy.exc.OperationalError as err:
        first = (str(err.orig or err).strip().splitlines() or ["cannot connect"])[0]
        raise ArchspaceError(f"storage {dialect(url)}: cannot connect: {first}") from None


def _engine_kwargs(url: str) -> dict:
    return {"pool_pre_ping": True} if dialect(url) in ("postgresql", "postgres", "mysql") else {}


# -- the run kept in the study --------------------------------------------------------------------
def publish_run(study, run) -> None:
    """Keep the run's resolved config, run.json and space file in the study (once), for `results export`."""
    if CONFIG_ATTR in study.user_attrs:
        return
    cfg = run.config
    study.set_user_attr(SPACE_ATTR, Path(cfg.space).read_text(encoding="utf-8"))
    study.set_user_attr(META_ATTR, json.dumps(run.meta, sort_keys=True))
    study.set_user_attr(CONFIG_ATTR, cfg.to_yaml())


def export_run(storage_url: str, study_name: str, out: Path) -> tuple[object, int]:
    """Rebuild a run folder from the storage alone: config.yaml, space.yaml, run.json, trials.csv, genotypes/."""
    import optuna
    import yaml

    from archspace.genotype import dump_genotype
    from archspace.genotype.io import genotype_from_dict
    from archspace.search.rundir import RunDir, open_storage
    from archspace.search.record import export_trials

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = open_storage(storage_url)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        names = sorted(s.study_name for s in optuna.get_all_study_summaries(storage, include_best_trial=False))
        raise ArchspaceError(f"--study {study_name!r}: no such study in the storage (it has: {', '.join(names) or 'none'})") from None
    attrs = study.user_attrs
    if CONFIG_ATTR not in attrs:
        raise ArchspaceError(f"--study {study_name!r}: not an archspace search (no {CONFIG_ATTR} in its user attributes)")
    out.mkdir(parents=True, exist_ok=True)
    if any(not p.name.startswith(".") for p in out.iterdir()):
        raise ArchspaceError(f"--out {out}: is not empty; give an empty or new folder")
    run = RunDir(out, must_exist=False)
    space = run.write_text("space.yaml", attrs[SPACE_ATTR])
    cfg = yaml.safe_load(attrs[CONFIG_ATTR])
    cfg["space"] = str(space.resolve())
    meta = json.loads(attrs[META_ATTR])
    meta["space"] = {**meta.get("space", {}), "path": cfg["space"]}
    meta["storage"] = storage_url
    run.write_text("config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    run.write_json("run.json", meta)
    trials = study.get_trials(deepcopy=False)
    n = 0
    for t in trials:
        text, gid = t.user_attrs.get("genotype"), t.user_attrs.get("genotype_id")
        if text and gid and "eval_image_size" in t.user_attrs and not run.genotype_path(gid).is_file():
            run.write_text(f"genotypes/{gid}.json", dump_genotype(genotype_from_dict(json.loads(text))))
            n += 1
    export_trials(run, trials)
    return RunDir(out), n
