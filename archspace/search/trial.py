"""One search trial: sample -> validate -> budget check -> adapt -> evaluate -> tell, never raising.

The state a trial ends in:
- INVALID (Optuna COMPLETE, constraint "valid" = 1): the space produced a genotype its validation refuses.
- INFEASIBLE (Optuna COMPLETE, some budget constraint > 0): over budget at the target resolution; costs
  only, never built. Both keep the sampler informed through the constraint list (`record_constraints`),
  and an objective they never measured is told as a finite stand-in (`told_values`), never +-inf.
- COMPLETE: evaluated; score and costs are the objective values.
- PRUNED: the pruner stopped the training (Optuna's pruner for one objective; archspace.search.pruning's
  median rule over the score for several).
- FAIL: anything raised (NaN loss, out of memory, a bad genotype for the builder, ...), with the reason.
"""
from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.trial import TrialState

from archspace.cost.analytic import analytic_cost
from archspace.search.pruning import multi_objective_reporter
from archspace.genotype import Genotype, canonical_json, dump_genotype
from archspace.genotype.adapt import adapt
from archspace.search.config import SearchConfig
from archspace.search.constraints import Coster, max_violation, record_constraints, violations
from archspace.search.record import put
from archspace.search.rundir import RunDir


def one_line(err: BaseException) -> str:
    """An exception as one line: its type (unless ours) and first message line, plus where it was raised."""
    from archspace.errors import ArchspaceError

    text = (str(err).strip().splitlines() or [""])[0][:400]
    if isinstance(err, ArchspaceError):
        return text
    tb = traceback.extract_tb(err.__traceback__)
    where = f" (at {tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno})" if tb else ""
    return f"{type(err).__name__}: {text}{where}"


@dataclass
class TrialContext:
    """What every trial of a worker shares: the run, its config, space, coster, evaluator and data."""

    run: RunDir
    cfg: SearchConfig
    space: Any
    coster: Coster
    evaluator: Any
    bundle: Any

    def to_target(self, genotype: Genotype) -> Genotype:
        return target_form(self.cfg, genotype)


def target_form(cfg: SearchConfig, genotype: Genotype) -> Genotype:
    """The sampled genotype at the config's target resolution (the space's own unless the config overrides it)."""
    size = cfg.target.image_size or genotype.image_size
    classes = cfg.target.num_classes or genotype.num_classes
    if (size, classes) == (genotype.image_size, genotype.num_classes):
        return genotype
    return adapt(genotype, size, genotype.in_chans, classes).model_copy(update={"name": genotype.name})


def objective_values(cfg: SearchConfig, score: float | None, costs: dict[str, float | None],
                     metrics: dict[str, Any] | None = None) -> list[float | None]:
    """Optuna values in objective order; None for a score, cost or metric the trial did not measure."""
    out: list[float | None] = []
    for o in cfg.objectives:
        v = score if o.name == "score" else (metrics or {}).get(o.name) if o.is_metric else costs.get(o.name)
        out.append(None if v is None else float(v))
    return out


def told_values(study: optuna.Study, values: list[float | None]) -> list[float]:
    """The values a trial is told, each one it did not measure (an invalid or over-budget sample) replaced by a
    finite stand-in: the worst value of that objective among the study's feasible COMPLETE trials, moved outwards
    by a tenth of their range (by 1 when they are all equal), or 0.0 before there is one. Not +-inf: Optuna
    stores it, and optuna-dashboard then turns its plot axes into categories ("-inf", "16.88..."). Beyond the
    worst, so a stand-in is worse than every feasible value told before it (the dashboard's best trials ignore
    constraints: once a feasible trial is told, neither a single objective's best nor an invalid trial is one); Optuna's GP sampler
    clips an infinite value to about the same. Constrained samplers rank such trials by their violation, and
    archspace reports their unmeasured values as empty (from the trial record, not from these)."""
    if all(v is not None for v in values):
        return values  # type: ignore[return-value]
    feasible = [t.values for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.values is not None and float(t.user_attrs.get("violation", 0.0)) <= 0]
    out = []
    for i, (v, direction) in enumerate(zip(values, study.directions)):
        seen = [vals[i] for vals in feasible if math.isfinite(vals[i])]
        if v is None and seen:
            margin = 0.1 * (max(seen) - min(seen)) or 1.0
            v = min(seen) - margin if direction == optuna.study.StudyDirection.MAXIMIZE else max(seen) + margin
        out.append(0.0 if v is None else v)
    return out


def _reporter(trial: optuna.Trial, single: bool):
    def report(step: int, value: float) -> None:
        put(trial, step=int(step))
        if single and math.isfinite(value):
            trial.report(float(value), int(step))
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {step}")

    return report


@dataclass
class Ready:
    """An asked trial that passed validation and the budgets: the genotype to evaluate (adapted to the data) and its costs."""

    adapted: Genotype
    costs: dict[str, float | None]
    start: float


def prepare_trial(ctx: TrialContext, study: optuna.Study, trial: optuna.Trial) -> Ready | str:
    """Sample, cost and budget-check an asked trial. An invalid or over-budget one is told here ("INVALID",
    "INFEASIBLE"); a feasible one has its genotype file written and is returned `Ready` for evaluation."""
    from archspace.search.space import InvalidSample

    cfg, start = ctx.cfg, time.perf_counter()
    try:
        sampled = ctx.space.sample(trial)
    except InvalidSample as err:
        put(trial, error=f"invalid: {err}", violation=1.0, duration_s=time.perf_counter() - start)
        record_constraints(trial, cfg.budgets, None)
        study.tell(trial, told_values(study, objective_values(cfg, None, {})))
        return "INVALID"
    genotype = ctx.to_target(sampled)
    put(trial, genotype_id=genotype.id, genotype=canonical_json(genotype))
    measured = ctx.coster(genotype)
    costs = measured.as_dict()
    put(trial, **{name: value for name, value in costs.items() if value is not None})
    v = violations(measured, cfg.budgets)
    record_constraints(trial, cfg.budgets, v)
    worst = max_violation(v)
    put(trial, violation=worst)
    if worst > 0:
        put(trial, duration_s=time.perf_counter() - start)
        study.tell(trial, told_values(study, objective_values(cfg, None, costs)))
        return "INFEASIBLE"
    path = ctx.run.genotype_path(genotype.id)
    if not path.is_file():
        ctx.run.write_text(f"genotypes/{genotype.id}.json", dump_genotype(genotype))
    b = ctx.bundle
    adapted = adapt(genotype, b.image_size, b.in_chans, b.num_classes)
    ev = analytic_cost(adapted).total
    put(trial, eval_image_size=adapted.image_size, eval_flops=ev.flops, eval_params=ev.params)
    return Ready(adapted, costs, start)


def tell_result(ctx: TrialContext, study: optuna.Study, trial: optuna.Trial, ready: Ready, result: dict[str, Any]) -> str:
    """Record an evaluator's result (score and extras) as COMPLETE; raises ValueError on a non-finite score."""
    score = float(result["score"])
    if not math.isfinite(score):
        raise ValueError(f"the evaluator's score is {score}")
    extras = {k: float(v) for k, v in result.items() if k != "score" and isinstance(v, (int, float))}
    objectives = {}
    for o in ctx.cfg.objectives:
        if o.is_metric:
            value = float(result[o.name])
            if not math.isfinite(value):
                raise ValueError(f"the objective {o.name} is {value}")
            objectives[o.name] = value
    put(trial, extras=extras, score=score, objectives=objectives, duration_s=time.perf_counter() - ready.start)
    study.tell(trial, told_values(study, objective_values(ctx.cfg, score, ready.costs, result)))
    return "COMPLETE"


def tell_stopped(study: optuna.Study, trial: optuna.Trial, state: TrialState, reason: str, start: float) -> str:
    """Record a trial as PRUNED (stopped early) or FAIL with a one-line reason."""
    put(trial, error=reason, duration_s=time.perf_counter() - start)
    study.tell(trial, state=state)
    return state.name


def evaluate_ready(ctx: TrialContext, study: optuna.Study, trial: optuna.Trial, ready: Ready) -> str:
    """Evaluate a prepared trial in this process and tell the study; returns the archspace state name."""
    cfg = ctx.cfg
    try:
        report = _reporter(trial, True) if not cfg.multi_objective else multi_objective_reporter(trial, cfg.pruner != "none")
        result = ctx.evaluator.evaluate(ready.adapted, ctx.bundle, seed=cfg.seed, device=cfg.device, report=report)
        return tell_result(ctx, study, trial, ready, result)
    except optuna.TrialPruned as err:
        return tell_stopped(study, trial, TrialState.PRUNED, str(err), ready.start)
    except Exception as err:  # noqa: BLE001 -- a failing trial is recorded, never fatal to the search
        return tell_stopped(study, trial, TrialState.FAIL, one_line(err), ready.start)
