"""Startup time and peak memory of the torch-free CLI commands, beside what importing torch + timm costs.

Each command runs in a fresh interpreter (best of --repeat); peak memory is the child's max RSS.
The reference row is `import archspace, timm`: what every command paid when importing archspace
imported torch and timm. Goal: validate / schema / plan under 1 s and 150 MB, without importing torch.

    python benchmarks/cli_startup.py
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = "import sys; from archspace.cli import main; rc = main(sys.argv[1:]); assert 'torch' not in sys.modules, 'imported torch'; sys.exit(rc)"


def measure(argv: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode().strip()}")
    return seconds, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    py = sys.executable
    rows = {
        "validate (all zoo files)": [py, "-c", CHECK, "validate", *sorted(str(p) for p in (ROOT / "genotypes").glob("*.json"))],
        "schema": [py, "-c", CHECK, "schema"],
        "plan transcnn_small": [py, "-c", CHECK, "plan", "genotypes/transcnn_small.json"],
        "reference: import archspace, timm": [py, "-c", "import archspace, timm; assert timm.is_model('archspace_swin_t')"],
    }
    results = {name: min(measure(argv) for _ in range(args.repeat)) for name, argv in rows.items()}
    ref_s, ref_mb = results["reference: import archspace, timm"]
    print(f"{'command':36s} {'seconds':>8s} {'peak MB':>8s} {'time vs ref':>12s} {'memory vs ref':>14s}")
    for name, (s, mb) in results.items():
        print(f"{name:36s} {s:8.2f} {mb:8.0f} {s / ref_s:12.2f} {mb / ref_mb:14.2f}")
    fast = [v for k, v in results.items() if not k.startswith("reference")]
    print(f"goal (< 1 s and < 150 MB, torch not imported): {'met' if all(s < 1 and mb < 150 for s, mb in fast) else 'NOT met'}")


if __name__ == "__main__":
    main()
