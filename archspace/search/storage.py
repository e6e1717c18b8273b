"""Server storages for one study shared by many processes and machines (PostgreSQL, MySQL, SQLite via Optuna's RDB).

- `rdb_storage(url)`: Optuna's RDB storage for a URL, with a one-line hint when the database driver is
  missing (`pip install -e ".[postgres]"`); `postgresql://` uses psycopg 3 when psycopg2 is absent.
- `redact(url)`: the URL with its password as *** -- the only form a run folder, the study or a printed line holds.
- `publish_run(study, run)`: the run's config, metadata and space are kept in the study itself, so the
  run folder can be rebuilt from the storage alone (archspace.search.restore).
"""
from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

from archspace.errors import ArchspaceError

DRIVERS = {"postgresql": ("postgres", "psycopg"), "postgres": ("postgres", "psycopg"), "mysql": ("mysql", "pymysql")}
CONFIG_ATTR, META_ATTR, SPACE_ATTR = "archspace:config", "archspace:run", "archspace:space"


def redact(url: str) -> str:
    """`url` with its password shown as *** (postgresql+psycopg://user:***@host/db): what a run folder keeps and prints."""
    head, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    if not (sep and at and ":" in userinfo):
        return url
    return f"{head}://{userinfo.split(':', 1)[0]}:***@{host}{slash}{path}"


def scrub(text: str, url: str) -> str:
    """`text` (an error message) with `url`'s password, raw or %-decoded, replaced by ***."""
    from urllib.parse import unquote

    userinfo = url.partition("://")[2].partition("/")[0].rpartition("@")[0]
    secret = userinfo.split(":", 1)[1] if ":" in userinfo else ""
    for form in {secret, unquote(secret)} - {""}:
        text = text.replace(form, "***")
    return text


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
    """One line naming the missing driver and its extra; the extra installs psycopg 3, so a psycopg2 URL is told the URL form that uses it."""
    extra, _ = DRIVERS.get(dialect(url), ("postgres", ""))
    cause: BaseException | None = err
    while cause is not None and not getattr(cause, "name", None):  # Optuna re-raises the driver's ImportError without a name
        cause = cause.__cause__ or cause.__context__
    module = getattr(cause, "name", None) or str(err)
    if module == "psycopg2" or dialect(url) in ("postgresql", "postgres") and "+psycopg2" in url.split("://")[0]:
        return ArchspaceError(f"storage {dialect(url)}: the psycopg2 driver is not installed; pip install -e \".[postgres]\" installs "
                              "psycopg 3, which serves a postgresql+psycopg://user@host/db URL (or pip install psycopg2-binary)")
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
        raise ArchspaceError(scrub(f"storage {redact(url)!r}: not a storage URL ({err})", url)) from None
    except sqlalchemy.exc.OperationalError as err:
        first = (str(err.orig or err).strip().splitlines() or ["cannot connect"])[0]
        raise ArchspaceError(scrub(f"storage {dialect(url)}: cannot connect: {first}", url)) from None


def _engine_kwargs(url: str) -> dict:
    return {"pool_pre_ping": True} if dialect(url) in ("postgresql", "postgres", "mysql") else {}


# -- the run kept in the study --------------------------------------------------------------------
def publish_run(study, run) -> None:
    """Keep the run's resolved config, run.json and space file in the study (once), for `results export`; a later
    run on the same study (another machine, another --out) must bring the same space file."""
    cfg = run.config
    if CONFIG_ATTR in study.user_attrs:
        if study.user_attrs.get(SPACE_ATTR) not in (None, Path(cfg.space).read_text(encoding="utf-8")):
            raise ArchspaceError(f"study {study.study_name!r} was begun on another space than {cfg.space} (its text differs); "
                                 "use another study name, or that space file")
        return
    study.set_user_attr(SPACE_ATTR, Path(cfg.space).read_text(encoding="utf-8"))
    study.set_user_attr(META_ATTR, json.dumps(run.meta, sort_keys=True))
    study.set_user_attr(CONFIG_ATTR, cfg.to_yaml())
