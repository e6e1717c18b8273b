"""The run report: config and budgets, trial states, the front, published models (measured, then reported),
the design-space analysis, failures. Written as RUN/report.md and RUN/report.html."""
from __future__ import annotations

import os
from typing import Any, Sequence

from archspace.pareto import target_size
from archspace.reporting.document import Block, bullets, code, heading, image, para, table, to_html, to_markdown

MAX_FINDINGS = 12
MAX_IMPORTANCE_ROWS = 15


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return ""
    if name in ("flops",):
        return f"{value / 1e9:.3g} G"
    if name in ("params",):
        return f"{value / 1e6:.3g} M"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _short(path: str) -> str:
    """A path relative to the working directory when it lies below it (reports are read from the repository)."""
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _config_blocks(run, cfg: dict) -> list[Block]:
    meta = run.meta
    budgets = cfg.get("budgets") or {}
    ev = cfg.get("evaluator") or {}
    target, evaluation = meta.get("target") or {}, meta.get("eval") or {}
    rows = [
        ("space", _short(cfg["space"])),
        ("objectives", ", ".join(f"{o['name']} ({o['direction']})" for o in meta.get("objectives", []))),
        ("budgets (at the target resolution)", ", ".join(f"{k} <= {_fmt(k, float(v))}" for k, v in budgets.items() if v is not None) or "none"),
        ("evaluator", ", ".join(f"{k}={v}" for k, v in ev.items())),
        ("data", f"{evaluation.get('dataset', '')} at {evaluation.get('image_size', '?')} px, {evaluation.get('num_classes', '?')} classes"),
        ("target resolution (costs, budgets)", f"{target_size(run, run.trials()) or '?'} px"
                                                + ("" if target.get("image_size") else " (the space's own)")),
        ("sampler", str((cfg.get("sampler") or {}).get("kind", ""))),
        ("trials asked", str(cfg.get("trials", ""))),
        ("seed", str(meta.get("seed", cfg.get("seed", "")))),
        ("study", f"{run.study_name} in {run.storage_shown}"),
    ]
    return [heading("Configuration and budgets"), table(["setting", "value"], rows)]


def _trial_blocks(run, front: dict) -> list[Block]:
    counts = front["counts"]
    total = max(1, counts["total"])
    rows = [(label, counts.get(key, 0), f"{100 * counts.get(key, 0) / total:.0f}%") for label, key in
            (("complete and feasible", "feasible"), ("infeasible (over a budget; never built)", "INFEASIBLE"),
             ("invalid (refused by the space's rules; never built)", "invalid"), ("pruned", "PRUNED"), ("failed", "FAIL"),
             ("still running", "RUNNING"))]
    blocks = [heading("Trials"), table(["state", "trials", "share"], rows + [("total", counts["total"], "")])]
    trials = run.trials()
    failed = trials[trials["state"] == "FAIL"]
    if len(failed) and "error" in failed:
        errors = failed["error"].fillna("(no message)").astype(str).str.slice(0, 160).value_counts()
        blocks += [para("Failures by message:"), table(["error", "trials"], list(errors.items()))]
    return blocks


def _noise_head(front: dict) -> list[str]:
    """The seed-noise column's header, with --seeds K > 1 (none otherwise)."""
    return [f"score mean ± std ({front['seeds']} seeds)"] if front["seeds"] > 1 and front["front"] and "score_std" in front["front"][0] else []


def _noise_cell(front: dict, row: dict) -> list[str]:
    if not _noise_head(front):
        return []
    return [f"{_fmt('score', row['score_mean'])} ± {row['score_std']:.2g}" if row.get("score_std") is not None else "not measured"]


def _front_blocks(front: dict) -> list[Block]:
    names = [o["name"] for o in front["objectives"]]
    blocks = [heading("Pareto front"), image("front.png", "Pareto front"),
              para(f"{len(front['front'])} non-dominated genotypes among {front['counts']['feasible']} complete feasible trials "
                   "(pruned, failed and infeasible trials never enter the front).")]
    rows = [[r["number"] if not r["knee"] else f"{r['number']} (knee)", r["genotype_id"], *[_fmt(n, r[n]) for n in names], *_noise_cell(front, r),
             r["genotype_file"]] for r in front["front"]]
    blocks.append(table(["trial", "genotype", *names, *_noise_head(front), "file"], rows))
    if len(names) > 1 and front["front"] and front["knee"] is None:
        blocks.append(para("No knee: no front point lies beyond the line (plane) through the front's ends, so none is marked."))
    hv = front.get("hypervolume")
    if hv:
        ref = ", ".join(f"{k} = {_fmt(k, v['value'])} ({v['rule']})" for k, v in hv["reference"].items())
        text = f"Hypervolume {hv['value']:.4g} with reference point {ref}."
        if hv.get("published") is not None:
            text += f" The published models measured here cover {hv['published']:.4g} with the same reference."
        blocks.append(para(text))
    return blocks


def _published_blocks(front: dict) -> list[Block]:
    names = [o["name"] for o in front["objectives"]]
    blocks = [heading("Published models under this run's protocol (measured here)")]
    if front["published"]:
        blocks.append(para("Adapted to the run's data exactly like a searched genotype and evaluated with the run's evaluator, "
                           "seed and device; costs at the target resolution."))
        blocks.append(para(f"Dominance: {front['noise_rule']['rule']}."))
        blocks.append(table(["model", *names, *_noise_head(front), "dominated by a searched genotype", "why compared"],
                            [[p["name"], *[_fmt(n, p[n]) for n in names], *_noise_cell(front, p), p["verdict_text"], p["why"]]
                             for p in front["published"]]))
    else:
        blocks.append(para("No published model was compared (run `archspace pareto RUN --against zoo`, or name models with --against)."))
    lines = []
    for d in front["dominated"]:
        parts = [f"{k} +{_fmt(k, v['gain'])} (trial {v['by']})" for k, v in d["gained"].items()]
        parts += [f"{k} -{_fmt(k, v['saved'])}" + (f" ({100 * v['saved_fraction']:.0f}% less)" if "saved_fraction" in v else "") + f" (trial {v['by']})"
                  for k, v in d["saved"].items()]
        lines.append(f"{d['name']} is {d['verdict']} by trials {', '.join(map(str, d['dominated_by']))}; at no worse cost/score the best "
                     "gains are: " + "; ".join(parts) + ".")
    for w in front["within_noise"]:
        lines.append(f"{w['name']} is {w['verdict']}: trials {', '.join(map(str, w['dominated_on_means_by']))} dominate it on the mean "
                     f"scores, but the best gain, +{w['score_gain']:.4g} (trial {w['by']}), is within the margin {w['margin']:.4g}.")
    if lines:
        blocks.append(bullets(lines))
    if front["published_failed"]:
        blocks.append(bullets([f"{p['name']}: evaluation failed: {p['error']}" for p in front["published_failed"]]))
    if front["published_excluded"]:
        by_reason: dict[str, list[str]] = {}
        for p in front["published_excluded"]:
            by_reason.setdefault(p["reason"], []).append(p["name"])
        blocks += [para("Not compared:"), bullets([f"{reason}: {', '.join(names)}" for reason, names in by_reason.items()])]
    if front["reported"]:
        blocks += [heading("Published models as their papers report them (not measured here)", 3),
                   table(["model", "paper", "table", "accuracy (%)", "params (M)", "FLOPs (G)"],
                         [[r["name"], r["paper"], r["table"], _reported_accuracy(r), r["params_m"], r["flops_g"]] for r in front["reported"]])]
    return blocks


def _reported_accuracy(row: dict) -> str:
    """A paper's accuracy with its metric: ImageNet-1k top-1, or MegaFace rank-1 for a face model."""
    if row.get("top1") is not None:
        return f"{row['top1']} (ImageNet-1k top-1)"
    return f"{row['megaface_rank1']} (MegaFace rank-1)" if row.get("megaface_rank1") is not None else ""


def _analysis_blocks(analysis, files: Sequence[str]) -> list[Block]:
    blocks = [heading("Design-space analysis"), image("objective.png", "score by trial")]
    if "edf.png" in {f.rsplit("/", 1)[-1] for f in files}:
        blocks += [para(f"Error distribution functions (EDFs) of the {analysis.n_models} complete feasible trials per gene value: "
                        "solid raw, dashed re-weighted so that every value has the same FLOPs distribution (RegNet, Radosavovic et al. 2020)."),
                   image("edf.png", "EDFs per gene")]
    if analysis.findings:
        blocks += [heading("Findings", 3), bullets([f.text for f in analysis.findings[:MAX_FINDINGS]])]
    if analysis.importance:
        blocks += [heading("Gene importance for the score", 3), image("importance.png", "gene importance")]
        evs = list(analysis.importance)
        genes = sorted({g for ev in evs for g in analysis.importance[ev]},
                       key=lambda g: -max(analysis.importance[ev].get(g, {}).get("value", 0.0) for ev in evs))
        shown = genes[:MAX_IMPORTANCE_ROWS]

        def cell(v: dict | None) -> str:
            return f"{v['value']:.3f} [{v['p05']:.3f}, {v['p95']:.3f}]" if v else "not ranked"

        blocks.append(table(["gene", *[f"{ev}: all trials [bootstrap 5-95%]" for ev in evs]],
                            [[g, *[cell(analysis.importance[ev].get(g)) for ev in evs]] for g in shown]))
        if len(genes) > len(shown):
            blocks.append(para(f"The {len(shown)} most important of {len(genes)} genes; analysis.json has them all. fANOVA ranks "
                               "only the genes every trial has; PED-ANOVA also ranks conditional genes."))
    if analysis.importance_note:
        blocks.append(para(f"Importance notes: {analysis.importance_note}"))
    return blocks


def write_report(run, against: Sequence[str] = ("zoo",), progress=None, n_boot: int | None = None, seeds: int = 1,
                 noise_z: float | None = None, workers: int = 1) -> list[str]:
    """Compute the front (with the published models, at `seeds` seeds, evaluated on `workers` processes; see
    front_report) and the analysis, and write report.md and report.html."""
    from archspace.reporting.analyze import analyze_run
    from archspace.errors import ArchspaceError
    from archspace.pareto import run_config
    from archspace.reporting.front import front_report

    front = front_report(run, against, progress, seeds=seeds, noise_z=noise_z, workers=workers)
    blocks = _config_blocks(run, run_config(run)) + _trial_blocks(run, front) + _front_blocks(front) + _published_blocks(front)
    try:
        analysis, files = analyze_run(run, n_boot=n_boot)
        blocks += _analysis_blocks(analysis, files)
    except ArchspaceError as err:
        blocks += [heading("Design-space analysis"), para(f"Not computed: {err}")]
    blocks += [heading("Browse the study"), para("Every trial carries its genotype id, genotype JSON and costs as user attributes:"),
               code(f"optuna-dashboard {run.storage_shown}")]
    title = f"archspace search report: {run.study_name}"
    run.write_text("report.md", to_markdown(title, blocks))
    run.write_text("report.html", to_html(title, blocks))
    return [str(run.path / "report.md"), str(run.path / "report.html")]
