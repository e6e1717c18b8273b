"""The trial record: one type that owns a trial's row, and every place the row goes.

A running trial writes its fields into the Optuna trial's user attributes through `put`, the one place
that names them; `TrialRecord.from_trial` reads a finished (or running) trial back; `row()` is its line
of trials.csv (COLUMNS, then the optimised metrics under their own names, then "gene:<path>" per gene,
then "eval:<key>" per extra value of the evaluator); `frame` builds the table that `export_trials`
writes and `results export` rebuilds; `published_row` is a published model's row under a run's protocol.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import optuna
from optuna.trial import TrialState

COLUMNS = (
    "number", "state", "genotype_id", "score", "flops", "params", "latency_ms", "memory_mb",
    "eval_image_size", "eval_flops", "eval_params", "violation", "duration_s", "error", "step",
)
INT_COLUMNS = ("number", "eval_image_size", "eval_flops", "eval_params", "flops", "params", "step")
# bookkeeping attributes a trial may carry besides its row's fields
BOOKKEEPING = ("genotype", "owner", "interrupted", "seeded_from", "retry_of", "retries")
EXTRA, OBJECTIVE = "eval:", "objective:"
RETRIES = 2  # an interrupted trial is retried at most this many times
STALE = "interrupted: its worker stopped sending heartbeats"


@dataclass
class TrialRecord:
    """One trial as archspace reports it (None where a field does not apply)."""

    number: int | None = None
    state: str = "RUNNING"
    genotype_id: str | None = None
    score: float | None = None
    flops: int | None = None
    params: int | None = None
    latency_ms: float | None = None
    memory_mb: float | None = None
    eval_image_size: int | None = None
    eval_flops: int | None = None
    eval_params: int | None = None
    violation: float | None = None
    duration_s: float | None = None
    error: str | None = None
    step: int | None = None
    objectives: dict[str, float] = field(default_factory=dict)  # optimised evaluator metrics, by name
    genes: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, float] = field(default_factory=dict)  # the evaluator's other numbers, by key

    @classmethod
    def from_trial(cls, t: optuna.trial.FrozenTrial) -> "TrialRecord":
        a = t.user_attrs
        duration = a.get("duration_s")
        if duration is None and t.datetime_start is not None and t.datetime_complete is not None:
            duration = (t.datetime_complete - t.datetime_start).total_seconds()
        known = {f.name: a.get(f.name) for f in fields(cls) if f.name in COLUMNS and f.name not in ("number", "state", "duration_s")}
        known["error"] = error_of(t)
        return cls(
            number=t.number, state=state_of(t), duration_s=duration, **known,
            objectives={k.removeprefix(OBJECTIVE): v for k, v in a.items() if k.startswith(OBJECTIVE)},
            genes=dict(t.params), extras={k.removeprefix(EXTRA): v for k, v in a.items() if k.startswith(EXTRA)},
        )

    def row(self) -> dict[str, Any]:
        """The trials.csv line: the fixed columns, then metrics, genes and extras under their column names."""
        out = {k: v for k, v in asdict(self).items() if k in COLUMNS}
        out.update(self.objectives)
        out.update({f"gene:{k}": v if not isinstance(v, (list, tuple, dict)) else str(v) for k, v in self.genes.items()})
        out.update({f"{EXTRA}{k}": v for k, v in self.extras.items()})
        return out


def put(trial: optuna.Trial, **values: Any) -> None:
    """Write record fields (or bookkeeping) into a live trial; `extras` and `objectives` take dicts."""
    for name, value in values.items():
        if name == "extras":
            for k, v in value.items():
                trial.set_user_attr(f"{EXTRA}{k}", v)
        elif name == "objectives":
            for k, v in value.items():
                trial.set_user_attr(f"{OBJECTIVE}{k}", v)
        elif name in COLUMNS[2:] or name in BOOKKEEPING:
            trial.set_user_attr(name, value)
        else:
            raise KeyError(f"{name!r} is not a field of a trial record")


def put_stored(storage, trial_id: int, **values: Any) -> None:
    """`put` for a trial known only to the storage (e.g. one its process left RUNNING)."""
    for name, value in values.items():
        if name not in COLUMNS[2:] and name not in BOOKKEEPING:
            raise KeyError(f"{name!r} is not a field of a trial record")
        storage.set_trial_user_attr(trial_id, name, value)


def state_of(t: optuna.trial.FrozenTrial) -> str:
    """The archspace state: Optuna's, except that a COMPLETE trial over a budget (or invalid) is INFEASIBLE."""
    if t.state == TrialState.COMPLETE and float(t.user_attrs.get("violation", 0.0)) > 0:
        return "INFEASIBLE"
    return t.state.name


def stale(t: optuna.trial.FrozenTrial) -> bool:
    """Failed by Optuna's heartbeat check (its worker went silent): the one FAIL archspace did not tell, so it has no error."""
    return t.state == TrialState.FAIL and "error" not in t.user_attrs


def is_interrupted(t: optuna.trial.FrozenTrial) -> bool:
    """Stopped because its process stopped (killed, machine lost), not by its own outcome: it does not count."""
    return bool(t.user_attrs.get("interrupted")) or stale(t)


def error_of(t: optuna.trial.FrozenTrial) -> str | None:
    if stale(t):  # retried by RetryFailedTrialCallback while its retry history is short enough
        retried = bool(t.params) and len(t.system_attrs.get("retry_history", [])) < RETRIES
        return STALE + ("; retried" if retried else "")
    return t.user_attrs.get("error")


def elapsed(t: optuna.trial.FrozenTrial) -> float | None:
    """Seconds since a trial started (None before it started)."""
    return None if t.datetime_start is None else (_dt.datetime.now() - t.datetime_start).total_seconds()


def frame(study_trials: list[optuna.trial.FrozenTrial]):
    """The trials table of a study (waiting trials left out), sorted by number."""
    import pandas as pd

    records = [TrialRecord.from_trial(t) for t in study_trials if t.state != TrialState.WAITING]
    rows = [r.row() for r in records]
    objectives = sorted({k for r in records for k in r.objectives})
    genes = sorted({f"gene:{k}" for r in records for k in r.genes})
    extras = sorted({f"{EXTRA}{k}" for r in records for k in r.extras})
    df = pd.DataFrame(rows, columns=[*COLUMNS, *objectives, *genes, *extras])
    for c in INT_COLUMNS:
        df[c] = df[c].astype("Int64")
    return df.sort_values("number").reset_index(drop=True)


def export_trials(run, study_trials: list[optuna.trial.FrozenTrial]):
    """Write RUN/trials.csv from the study's trials; returns the table."""
    df = frame(study_trials)
    run.write_text("trials.csv", df.to_csv(index=False))
    return df


def published_row(name: str, genotype_id: str, costs: dict[str, Any], violation: float, eval_image_size: int,
                  eval_flops: int, eval_params: int, result: dict[str, Any]) -> dict[str, Any]:
    """A published model's line under a run's protocol: the trial row's cost and evaluation fields plus the result."""
    return {"genotype_id": genotype_id, "name": name, **costs, "violation": violation, "eval_image_size": eval_image_size,
            "eval_flops": eval_flops, "eval_params": eval_params, **result}
