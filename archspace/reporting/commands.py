"""`archspace pareto`, `archspace analyze` and `archspace report`: argument handling and console output."""
from __future__ import annotations

import argparse
import json
import sys


def pareto_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN", help="run directory written by `archspace search`")
    p.add_argument("--against", nargs="+", action="extend", default=[], metavar="NAME",
                   help="published models to place on the front: 'zoo' (those the run's space holds within its budgets) and/or zoo names")
    _seeds_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _seeds_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=int, default=1, metavar="K",
                   help="evaluate each front point and published model at K seeds (the run's seed and the next K-1; cached in "
                        "the run) and call a published model dominated only beyond the seed noise (default 1: no noise measured)")
    p.add_argument("--noise-z", type=float, default=None, metavar="Z",
                   help="the noise margin in combined seed stds: dominated only when the mean score is higher by more than "
                        "Z x sqrt(std_a^2 + std_b^2) (default 2)")
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="evaluate the published models and seed replicas not cached yet on N worker processes, one core "
                        "each (default 1: one after the other in this process)")


def _bootstrap_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--bootstrap", type=int, default=None, metavar="N",
                   help="bootstrap resamples for the gene-importance uncertainty (default 20)")


def report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN", help="run directory written by `archspace search`")
    p.add_argument("--against", nargs="+", action="extend", default=[], metavar="NAME",
                   help="published models to compare (default: zoo)")
    _seeds_args(p)
    _bootstrap_arg(p)


def analyze_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN", help="run directory written by `archspace search`")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _bootstrap_arg(p)


ARGS = {"pareto": pareto_args, "analyze": analyze_args, "report": report_args}


def _open(path: str):
    from archspace.search.rundir import RunDir

    return RunDir(path)


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _number(name: str, v) -> str:
    if v is None:
        return ""
    if name == "flops":
        return f"{v / 1e9:.3f}G"
    if name == "params":
        return f"{v / 1e6:.2f}M"
    return f"{v:.4g}"


def _mean_std(row: dict) -> str:
    return f"{row['score_mean']:.4g} ± {row['score_std']:.2g}" if row.get("score_std") is not None else ""


NO_KNEE = "knee: none (no front point lies beyond the line through the front's ends)"


def run_pareto(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from archspace.reporting.front import front_report

    from archspace.search.evaluate_many import check_workers

    result = front_report(_open(args.run_dir), args.against, _progress, seeds=args.seeds, noise_z=args.noise_z,
                          workers=check_workers(args.workers))
    if args.json:
        print(json.dumps(result))
        return 0
    names = [o["name"] for o in result["objectives"]]
    console = Console(width=140)
    c = result["counts"]
    console.print(f"{c['total']} trials: {c['feasible']} complete and feasible, {c['INFEASIBLE']} infeasible, "
                  f"{c.get('invalid', 0)} invalid, {c['PRUNED']} pruned, {c['FAIL']} failed")
    t = Table(title="Pareto front (measured here)")
    noisy = result["seeds"] > 1 and "score" in names
    for col in ["trial", "genotype", *names] + ([f"score mean ± std ({result['seeds']} seeds)"] if noisy else []):
        t.add_column(col, justify="left" if col == "genotype" else "right")
    for r in result["front"]:
        t.add_row(f"{r['number']}{' knee' if r['knee'] else ''}", r["genotype_id"], *[_number(n, r[n]) for n in names],
                  *([_mean_std(r)] if noisy else []))
    for p in result["published"]:
        t.add_row("published", p["name"], *[_number(n, p[n]) for n in names], *([_mean_std(p)] if noisy else []), style="magenta")
    console.print(t)
    if len(names) > 1 and result["front"]:
        console.print(NO_KNEE if result["knee"] is None else f"knee: trial {result['knee']['number']}")
    for d in result["dominated"]:
        gains = [f"{k} +{_number(k, v['gain'])} (trial {v['by']})" for k, v in d["gained"].items()]
        saved = [f"{k} -{_number(k, v['saved'])} (trial {v['by']})" for k, v in d["saved"].items()]
        console.print(f"{d['name']} is {d['verdict']} by trial(s) {', '.join(map(str, d['dominated_by']))}: " + "; ".join(gains + saved))
    for w in result["within_noise"]:
        console.print(f"{w['name']} is {w['verdict']}: trial(s) {', '.join(map(str, w['dominated_on_means_by']))} dominate it on the means, "
                      f"but the best mean score gain, +{w['score_gain']:.4g} (trial {w['by']}), is within the margin {w['margin']:.4g}")
    hv = result["hypervolume"]
    if hv:
        ref = ", ".join(f"{k}={_number(k, v['value'])} ({v['rule']})" for k, v in hv["reference"].items())
        console.print(f"hypervolume {hv['value']:.4g} (reference {ref})")
    console.print("wrote " + ", ".join(result["files"]))
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from archspace.reporting.analyze import analyze_run

    analysis, files = analyze_run(_open(args.run_dir), n_boot=args.bootstrap)
    if args.json:
        print(json.dumps({**analysis.to_dict(), "files": files}))
        return 0
    print(f"{analysis.n_models} complete feasible trials; error = {analysis.error_name}")
    for f in analysis.findings[:12]:
        print(f"- {f.text}")
    for ev, table in analysis.importance.items():
        top = ", ".join(f"{g} {v['value']:.2f} [{v['p05']:.2f}, {v['p95']:.2f}]" for g, v in list(table.items())[:5])
        print(f"{ev} importance (5-95% bootstrap): {top}")
    print("wrote " + ", ".join(files))
    return 0


def run_report(args: argparse.Namespace) -> int:
    from archspace.reporting.report import write_report

    from archspace.search.evaluate_many import check_workers

    files = write_report(_open(args.run_dir), args.against or ["zoo"], _progress, n_boot=args.bootstrap, seeds=args.seeds,
                         noise_z=args.noise_z, workers=check_workers(args.workers))
    print("wrote " + ", ".join(files))
    return 0
