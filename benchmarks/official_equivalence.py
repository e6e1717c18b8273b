"""Same network as the official code, weight for weight: build each official model (random weights) from the
user's checkout, save its state_dict as a checkpoint, convert it with `archspace convert-weights`' code path,
load it into our genotype strictly, and compare eval-mode outputs on random inputs.

    python benchmarks/official_equivalence.py --official /path/to/TransXNet --official /path/to/STM-Evaluation \\
        [--official /path/to/ConTNet --official /path/to/SCSC] [--timm] [--only NAME ...] [--rounds 5]
    python benchmarks/official_equivalence.py --official ... --write-fixtures tests/fixtures/official_layouts

Each checkout is recognised by a file it must hold (models/transxnet.py, classification/models/meta_arch.py,
ConTNet.py, cbtnet.py); --timm adds the timm baselines. A model passes when max|ours - official| <= 1e-4 x
max|official| (the output scale). Latency: ours and the official model run interleaved in this one process
(batch 1, one thread, median of --rounds); the CPU may be shared, so read the ratio, not the milliseconds.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import official_models  # noqa: E402
import official_random  # noqa: E402

from archspace.weights.commands import convert_checkpoint  # noqa: E402
from archspace.weights.convert import official_layout  # noqa: E402
from archspace.zoo import zoo_genotype, zoo_names  # noqa: E402

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"
MARKERS = {  # repository -> a file its checkout must hold
    "LMMMEng/TransXNet": "models/transxnet.py",
    "OpenGVLab/STM-Evaluation": "classification/models/meta_arch.py",
    "yan-hao-tian/ConTNet": "ConTNet.py",
    "megvii-research/SCSC": "cbtnet.py",
}
BUILDER_OF = {  # converter family -> how to build the official model
    "official-transxnet": "official-transxnet", "official-stm": "official-stm", "official-contnet": "official-contnet",
    "official-cbtnet": "official-scsc", "official-scsc-swin": "official-scsc", "timm": "timm",
}
TOLERANCE = 1e-4


def recognise(paths: list[Path]) -> dict[str, Path]:
    roots = {}
    for path in paths:
        repo = next((r for r, marker in MARKERS.items() if (path / marker).is_file()), None)
        if repo is None:
            raise SystemExit(f"--official {path}: not a checkout of {', '.join(MARKERS)} (looked for {', '.join(MARKERS.values())})")
        roots[repo] = path
    return roots


def latency_ms(a: torch.nn.Module, b: torch.nn.Module, x: torch.Tensor, rounds: int) -> tuple[float, float]:
    """Median ms of a and b, run alternately (a, b, a, b, ...) after one warm-up each."""
    times = ([], [])
    with torch.no_grad():
        a(x), b(x)
        for _ in range(rounds):
            for i, m in enumerate((a, b)):
                t0 = time.perf_counter()
                m(x)
                times[i].append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times[0]), statistics.median(times[1])


def check(name: str, root: Path | None, rounds: int, fixtures: Path | None) -> dict:
    genotype = zoo_genotype(name)
    official_ref = genotype.reference.official
    official = official_models.BUILDERS[BUILDER_OF[official_ref.converter]](root, official_ref.constructor)
    official = official_random.randomise(official).eval()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "official.pth"
        torch.save({"state_dict": official.state_dict()}, ckpt)
        ours, _ = convert_checkpoint(official_ref.converter, ckpt, GENOTYPES / f"{name}.json")
    ours.eval()
    if fixtures is not None:
        fixtures.mkdir(parents=True, exist_ok=True)
        layout = {"genotype": name, "converter": official_ref.converter, "official": f"{official_ref.repo}: {official_ref.constructor}",
                  "state_dict": official_layout(official.state_dict())}
        (fixtures / f"{name}.json").write_text(json.dumps(layout, separators=(",", ":")) + "\n")
    x = torch.randn(2, genotype.in_chans, genotype.image_size, genotype.image_size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want, got = official(x), ours(x)
    diff = (got - want).abs().max().item()
    scale = want.abs().max().item()
    t_ours, t_official = latency_ms(ours, official, x[:1], rounds) if rounds else (float("nan"), float("nan"))
    return dict(
        model=name, converter=official_ref.converter, constructor=official_ref.constructor,
        params_ours=sum(p.numel() for p in ours.parameters()), params_official=sum(p.numel() for p in official.parameters()),
        max_abs_diff=diff, output_scale=scale, relative_diff=diff / scale, ok=diff <= TOLERANCE * scale,
        ms_ours=t_ours, ms_official=t_official,
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--official", type=Path, action="append", default=[], help="a checkout of an official repository (repeatable)")
    ap.add_argument("--timm", action="store_true", help="also the timm baselines (resnet50, convnext_t, swin_t, pvt_v2_b2)")
    ap.add_argument("--only", nargs="+", help="only these genotypes")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved latency rounds per model (0: skip latency)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--write-fixtures", type=Path, help="also write each official layout (key -> shape) here")
    ap.add_argument("--json", type=Path, help="write the rows as JSON")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    roots = recognise(args.official)
    names = []
    for name in zoo_names():
        ref = zoo_genotype(name).reference
        off = ref.official if ref else None
        if off is None or off.converter is None or (args.only and name not in args.only):
            continue
        if off.repo in roots or (off.converter == "timm" and args.timm):
            names.append(name)
    if not names:
        raise SystemExit("nothing to compare: pass --official checkouts and/or --timm")
    from rich.console import Console
    from rich.table import Table

    rows = []
    console = Console(width=150)
    for name in names:
        ref = zoo_genotype(name).reference.official
        with console.status(f"{name} vs {ref.repo} {ref.constructor}"):
            rows.append(check(name, roots.get(ref.repo), args.rounds, args.write_fixtures))
    table = Table(title=f"ours vs official code (random weights, eval, batch 2; pass: max|diff| <= {TOLERANCE:g} x output scale)")
    for col in ("model", "official", "params ours", "params official", "max|diff|", "rel. diff", "ok", "ms ours", "ms official", "ours/official"):
        table.add_column(col, justify="left" if col in ("model", "official") else "right")
    for r in rows:
        table.add_row(
            r["model"], r["constructor"], f"{r['params_ours']:,}", f"{r['params_official']:,}", f"{r['max_abs_diff']:.2e}",
            f"{r['relative_diff']:.1e}", "yes" if r["ok"] else "NO", f"{r['ms_ours']:.1f}", f"{r['ms_official']:.1f}",
            f"{r['ms_ours'] / r['ms_official']:.2f}",
        )
    console.print(table)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
