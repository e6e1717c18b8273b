"""Hostile search spaces and search configs: each must be refused in one line, quickly, without a traceback.

Every case runs `archspace ...` in its own subprocess under a timeout (a hang is the process still running
at the timeout), and is classed: ok (exit 2 and one `archspace: error:` line), HANG, TRACEBACK, or
ACCEPTED (exit 0: the input was not refused), or LEAK (a storage password printed); `workers: 10000` is ok when it runs
capped with one line saying so. A config that is wrongly accepted runs one trial of the
synflow proxy at 32 px into a temporary folder, so it stays cheap. A resume case first runs a one-trial
search (its setup, untimed), then edits the space file and reruns the same command, which must be refused
in one line. Run through `python benchmarks/hostile_inputs.py --part search [--case TEXT]`.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 60
SECRET = "hostile-pw-7Qz"  # a storage password: no printed line may hold it
CAPPED = "capped at"  # a case whose config runs, capped, with one line saying so

HEAD = "name: h\nbase: swin_t\n"
REST = "    - {}\n    - {}\n    - {}\n"
BOMB = "[&a0 [1,1,1,1,1,1,1,1,1,1], " + ", ".join(f"&a{i + 1} [{', '.join([f'*a{i}'] * 10)}]" for i in range(8)) + "]"
CONFIG = """name: hostile
space: {space}
budgets: {{flops: {flops}}}
objectives: [score, flops]
evaluator: {{kind: proxy, proxy: synflow, batch_size: 8}}
data: {{name: digits, image_size: {image_size}}}
trials: 1
workers: {workers}
seed: 0
trial_timeout_s: 60
"""


class Case(NamedTuple):
    """One `archspace` call; `setup`, when given, runs first and returns why it failed (None when it did not)."""

    name: str
    args: list[str]
    setup: Callable[[], str | None] | None = None


def _stage0(gene: str) -> str:
    return HEAD + "genotype:\n  stages:\n    - " + gene + "\n" + REST


def space_texts() -> dict[str, str]:
    """name -> text of a hostile search-space file (one per class of issue 20)."""
    return {
        "alias bomb in a choice list (10^9 values)": _stage0("{depth: {choice: [1, " + BOMB + "]}}"),
        "alias bomb under anchors (10^9 values)": "name: h\nanchors: " + BOMB + "\nbase: swin_t\n",
        "nested 5000 deep (flow)": HEAD + "description: " + "[" * 5000 + "]" * 5000 + "\n",
        "nested 900 deep (block mappings)": HEAD + "description:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(900)) + " " * 901 + "v: 1\n",
        "a 5 MB space": HEAD + "description: |\n" + ("  " + "x" * 98 + "\n") * 52_000,
        "expr 10**10**10": _stage0("{depth: {expr: '10**10**10'}}"),
        "expr max([1] * 10**10)": _stage0("{depth: {expr: 'max([1] * 10**10)'}}"),
        "expr nested 900 deep": _stage0("{depth: {expr: '" + "-" * 900 + "1'}}"),
        "expr channels ** 100 (at sampling)": _stage0("{mixer: {heads: {expr: 'channels ** 100'}}}"),
        "float gene bound NaN": _stage0("{ffn: {ratio: {float: [.nan, 4.0]}}}"),
        "float gene bound inf": _stage0("{ffn: {ratio: {float: [1.0, .inf]}}}"),
        "float gene of 1e300 steps": _stage0("{ffn: {ratio: {float: [0.0, 1.0e+300], step: 1.0e-300}}}"),
        "choice of 45000 options": _stage0("{depth: {choice: [" + ", ".join(map(str, range(1, 45_000))) + "]}}"),
        "subset of 199 items, any size": _stage0("{mixer: {window: {subset: [" + ", ".join(map(str, range(1, 200))) + "]}}}"),
        "base is the space itself": "name: h\nbase: {self}\n",
    }


def _resumed(folder: Path, name: str, before: str, after: str, good: dict) -> Case:
    """A one-trial search on a space whose stage-0 gene is `before`, then the space edited to `after` and the
    same command run again (issue 20: a resume must not mix two spaces in one study)."""
    folder.mkdir()
    space, config, out = folder / "space.yaml", folder / "config.yaml", folder / "run"
    space.write_text(_stage0(before))
    config.write_text(CONFIG.format(**{**good, "space": str(space)}))
    args = ["search", str(config), "--out", str(out), "--quiet"]

    def setup() -> str | None:
        kind, rc, _, line = run(args)
        if rc != 0 or not (out / "run.json").is_file():
            return f"the first run did not finish ({kind}, rc={rc}): {line}"
        space.write_text(_stage0(after))
        return None

    return Case(f"search resumed: {name}", args, setup)


def cases(tmp: Path) -> list[Case]:
    """Every space and config case."""
    out: list[Case] = []
    spaces: dict[str, Path] = {}
    for i, (name, text) in enumerate(space_texts().items()):
        path = tmp / f"space{i}.yaml"
        path.write_text(text.replace("{self}", path.name))
        spaces[name] = path
    (tmp / "folder").mkdir()
    spaces["a folder"] = tmp / "folder"
    small = tmp / "small.yaml"
    small.write_text(_stage0("{depth: {int: [1, 2]}}"))
    for name, path in spaces.items():
        out.append(Case(f"space show: {name}", ["space", "show", str(path), "-n", "20"]))
        out.append(Case(f"space sample: {name}", ["space", "sample", str(path), "-n", "2", "--out", str(tmp / "samples")]))
    out.append(Case("space sample: -n 10^6 of a 2-genotype space", ["space", "sample", str(small), "-n", "1000000", "--out", str(tmp / "samples")]))

    def config(name: str, text: str, *extra: str) -> None:
        path = tmp / f"config{len(out)}.yaml"
        path.write_text(text)
        out.append(Case(f"search: {name}", ["search", str(path), "--out", str(tmp / f"run{len(out)}"), "--quiet", *extra]))

    good = dict(space=str(small), flops="1.5G", image_size=32, workers=1)
    for name, path in spaces.items():
        config(f"space: {name}", CONFIG.format(**{**good, "space": str(path)}))
    config("alias bomb in the config", CONFIG.format(**good) + "description: " + BOMB + "\n")
    config("config nested 5000 deep", CONFIG.format(**good) + "description: " + "[" * 5000 + "]" * 5000 + "\n")
    config("a 5 MB config", CONFIG.format(**good) + "description: |\n" + ("  " + "x" * 98 + "\n") * 52_000)
    config("budget -1G", CONFIG.format(**{**good, "flops": "-1G"}))
    config("budget .inf", CONFIG.format(**{**good, "flops": ".inf"}))
    config("budget .nan", CONFIG.format(**{**good, "flops": ".nan"}))
    config("data.image_size 100000", CONFIG.format(**{**good, "image_size": 100000}))
    config("workers 10000 (capped, said in one line)", CONFIG.format(**{**good, "workers": 10000}))
    config("budget 0", CONFIG.format(**{**good, "flops": "0"}))
    config("hypervolume_reference on a non-objective", CONFIG.format(**good) + "hypervolume_reference: {latency_ms: 3}\n")
    config("kill_retries -1", CONFIG.format(**good) + "kill_retries: -1\n")
    config("storage with a password, nothing listening", CONFIG.format(**good), "--storage",
           f"postgresql+psycopg://u:{SECRET}@127.0.0.1:1/db?connect_timeout=2")
    config("storage postgresql+psycopg2:// without its driver", CONFIG.format(**good), "--storage", "postgresql+psycopg2://u@127.0.0.1:1/db")
    config("Ray --address nothing answers", CONFIG.format(**good), "--backend", "ray", "--address", "127.0.0.1:1")
    out.append(_resumed(tmp / "resume_int", "space's int range edited ([1, 2] -> [6, 9])", "{depth: {int: [1, 2]}}", "{depth: {int: [6, 9]}}", good))
    out.append(_resumed(tmp / "resume_choice", "space's choice list edited ([1, 2] -> [1, 3])", "{depth: {choice: [1, 2]}}", "{depth: {choice: [1, 3]}}", good))
    return out


def run(args: list[str]) -> tuple[str, int | None, float, str]:
    """(class, exit code, seconds, first error line) of one `archspace` call in a subprocess."""
    start = time.perf_counter()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    try:
        proc = subprocess.run([sys.executable, "-m", "archspace.cli", *args], capture_output=True, text=True,
                              timeout=TIMEOUT_S, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired:
        return "HANG", None, time.perf_counter() - start, f"still running after {TIMEOUT_S} s"
    elapsed = time.perf_counter() - start
    lines = [line for line in proc.stderr.strip().splitlines() if line.strip()]
    if SECRET in proc.stdout + proc.stderr:
        return "LEAK", proc.returncode, elapsed, "the storage password was printed"
    if "Traceback" in proc.stderr:
        return "TRACEBACK", proc.returncode, elapsed, lines[-1] if lines else ""
    if proc.returncode == 0 and any(CAPPED in line for line in lines):
        return "ok", 0, elapsed, next(line for line in lines if CAPPED in line)
    if proc.returncode == 0:
        return "ACCEPTED", 0, elapsed, (proc.stdout.strip().splitlines() or [""])[-1]
    errors = [line for line in lines if line.startswith("archspace: error: ")]
    ok = proc.returncode == 2 and len(errors) == 1
    return ("ok" if ok else "FAIL"), proc.returncode, elapsed, errors[0] if errors else (lines[-1] if lines else "")


def main(only: str | None = None) -> None:
    """Run every case whose name holds `only` (case-insensitive; all when None) and print one line each and the counts."""
    counts = {"ok": 0, "HANG": 0, "TRACEBACK": 0, "ACCEPTED": 0, "LEAK": 0, "FAIL": 0}
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        for name, args, setup in cases(Path(tmp)):
            if only and only.lower() not in name.lower():
                continue
            failed = setup() if setup else None
            kind, rc, elapsed, line = ("FAIL", None, 0.0, f"setup: {failed}") if failed else run(args)
            counts[kind] += 1
            if kind == "ok":
                slowest = max(slowest, (elapsed, name))
            print(f"{kind:9s} {name:58s} rc={rc} {elapsed:5.1f} s  {line[:160]}", flush=True)
    total = sum(counts.values())
    print(f"search spaces and configs: {total} cases, {counts['ok']} refused in one line, {counts['HANG']} hangs, "
          f"{counts['TRACEBACK']} tracebacks, {counts['ACCEPTED']} accepted, {counts['LEAK']} password leaks, {counts['FAIL']} other failures; "
          f"slowest refusal {slowest[0]:.1f} s ({slowest[1]})")


if __name__ == "__main__":
    main()
