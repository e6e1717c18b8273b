"""Hostile inputs: each must be refused with one line, fast, before any large allocation.

Genotypes: runs `archspace validate` and `archspace build` in-process on each file and prints the exit
code, the wall time, the growth of the process's peak memory (ru_maxrss) and the error line; then the
slowest refusal. Search spaces and search configs (benchmarks/hostile_search.py): runs `archspace space
show`, `space sample` and `search` in a subprocess each, with a timeout, and counts hangs, tracebacks
and inputs that were not refused. Usage: python benchmarks/hostile_inputs.py [--part genotypes|search]
[--case TEXT] (only the cases whose name holds TEXT, case-insensitive)
"""
from __future__ import annotations

import contextlib
import io
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from archspace.cli import main  # noqa: E402


def _genotype(name: str, **changes) -> dict:
    data = json.loads((ROOT / "genotypes" / f"{name}.json").read_text())
    for path, value in changes.items():
        node = data
        parts = [int(p) if p.isdigit() else p for p in path.split("__")]
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = value
    return data


def cases(tmp: Path) -> dict[str, Path]:
    """name -> file."""
    files: dict[str, Path] = {}

    def put(name: str, text: str | bytes, suffix: str = ".json") -> None:
        path = tmp / f"{name}{suffix}"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
        files[name] = path

    put("depth 10^6", json.dumps(_genotype("swin_t", stages__0__depth=10**6)))
    put("channels 10^9", json.dumps(_genotype("resnet50", stages__3__channels=10**9)))
    put("channels 60000 (under the field cap)", json.dumps(_genotype("resnet50", stages__3__channels=60000)))
    put("image size 10^5", json.dumps(_genotype("swin_t", image_size=100352)))
    put("image size 14336 (under the field cap)", json.dumps(_genotype("convnext_t", image_size=14336)))
    put("kernel 10^18", json.dumps(_genotype("convnext_t", stages__0__mixer__kernel=10**18 + 1)))
    put("stem channels 10^12", json.dumps(_genotype("resnet50", stem__channels=10**12)))
    put("mlp ratio 1e300", json.dumps(_genotype("swin_t", stages__0__ffn__ratio=1e300)))
    put("integer of 5000 digits", '{"name": "x", "image_size": ' + "9" * 5000 + "}")
    laughs = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join('*' + chr(97 + i) for _ in range(10))}]\n" for i in range(9))
    put("YAML alias bomb (10^10 leaves)", laughs, ".yaml")
    put("YAML self-reference", "a: &a [*a]\nname: x\n", ".yaml")
    put("nested 100000 deep (JSON)", "[" * 100_000 + "]" * 100_000)
    put("nested 100000 deep (YAML)", "[" * 100_000 + "]" * 100_000, ".yaml")
    put("nested 1000 deep mapping (YAML)", "".join(" " * i + f"k{i}:\n" for i in range(1000)) + " " * 1000 + "v: 1\n", ".yaml")
    put("flat 4 MB YAML list (under the size cap)", "name: x\nstages:\n" + "- [1, 2.5, abc]\n" * (4 * 2**20 // 16 - 2), ".yaml")
    put("flat 4 MB JSON list (under the size cap)", '{"name": "x", "stages": [' + "1, " * (4 * 2**20 // 3 - 20) + "1]}")
    put("50000 channels: valid, too big for this machine", json.dumps(_genotype("resnet50", stages__3__channels=50000)))
    put("non-UTF-8 bytes", b'{"name": "\xff\xfe"}')
    big = tmp / "big.json"
    with big.open("wb") as f:
        f.write(b'{"name": "')
        f.write(b"a" * (100 * 2**20))
        f.write(b'"}')
    files["a 100 MB file"] = big
    return files


def run(args: list[str]) -> tuple[int, float, float, str]:
    err = io.StringIO()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        rc = main(args)
    elapsed = time.perf_counter() - start
    grown = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    lines = err.getvalue().strip().splitlines()
    return rc, elapsed, grown, (lines[0] if len(lines) == 1 else f"{len(lines)} lines: {lines[:2]}")


def genotypes(only: str | None = None) -> None:
    run(["validate", str(ROOT / "genotypes" / "resnet50.json")])  # warm imports
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS after imports: {baseline:.0f} MiB (growth below is measured above it)")
    slowest = (0.0, "")
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in cases(Path(tmp)).items():
            if only and only.lower() not in name.lower():
                continue
            for command in ("validate", "build"):
                rc, elapsed, grown, line = run([command, str(path)])
                valid = command == "validate" and "valid" in name
                ok = rc == (0 if valid else 2) and (valid or line.startswith("archspace: error: "))
                if rc == 2:
                    slowest = max(slowest, (elapsed, f"{command} {name}"))
                print(f"{'ok  ' if ok else 'FAIL'} {command:8s} {name:42s} rc={rc} {elapsed * 1000:7.1f} ms  peak +{grown:5.0f} MiB  {line[:150]}")
    print(f"slowest refusal: {slowest[0] * 1000:.1f} ms ({slowest[1]})")


def main_() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["all", "genotypes", "search"], default="all")
    parser.add_argument("--case", help="run only the cases whose name holds this text (case-insensitive)")
    args = parser.parse_args()
    if args.part in ("all", "genotypes"):
        genotypes(args.case)
    if args.part in ("all", "search"):
        from hostile_search import main as search_main

        search_main(args.case)


if __name__ == "__main__":
    main_()
