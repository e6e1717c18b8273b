"""CPU latency of our models and token mixers beside timm's, measured side by side in one run.

    python benchmarks/mixers.py [--threads 1] [--batches 1 8] [--min-run-time 0.5] [--rounds 3] [--profile]

Models: our swin_t vs timm swin_tiny_patch4_window7_224, our convnext_t vs timm convnext_tiny (224x224).
Mixers: window (Swin W-MSA and SW-MSA), halo, H-MHSA and global MHSA at the same width on a 56x56 map;
our halo attention beside timm's HaloAttn.
Each case is timed in interleaved rounds with torch.utils.benchmark (blocked_autorange) at a fixed thread
count; the figure is the median over every block of every round. FLOPs are fvcore multiply-adds per image
(timm's Swin computes attention with explicit matmuls by default, so fvcore counts it).
"""
from __future__ import annotations

import argparse
import logging
import statistics
import warnings
from collections.abc import Callable
from pathlib import Path

import timm
import torch
from fvcore.nn import FlopCountAnalysis
from timm.layers.halo_attn import HaloAttn
from torch import nn
from torch.utils import benchmark

import archspace
from archspace.genotype.base import Shape, Site
from archspace.genotype.specs.hmhsa import HMHSAMixer, MHSAMixer
from archspace.genotype.specs.window import HaloMixer, SwinMixer
from archspace.ops.registry import build_op

GENOTYPES = Path(__file__).resolve().parents[1] / "genotypes"
MODELS = (("swin_t", "swin_tiny_patch4_window7_224"), ("convnext_t", "convnext_tiny"))
WIDTH, HEADS, MAP = 96, 3, 56


def mixers() -> dict[str, tuple[object, Site]]:
    """The token mixers compared at one width (Swin-T stage 1: 96 channels, 3 heads of 32) on a 56x56 map."""
    shape = Shape(WIDTH, MAP, MAP)
    return {
        "window 7 (W-MSA)": (SwinMixer(heads=HEADS, window=7), Site(shape, WIDTH, index=0)),
        "window 7 shifted (SW-MSA)": (SwinMixer(heads=HEADS, window=7), Site(shape, WIDTH, index=1)),
        "halo 7+3": (HaloMixer(heads=HEADS, block=7, halo=3), Site(shape, WIDTH)),
        "H-MHSA grids (8, global)": (HMHSAMixer(grids=(8, None), heads=HEADS), Site(shape, WIDTH)),
        "global MHSA": (MHSAMixer(heads=HEADS), Site(shape, WIDTH)),
    }


def flops(module: nn.Module, x: torch.Tensor) -> int:
    """fvcore multiply-adds of one eval forward pass."""
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return int(FlopCountAnalysis(module.eval(), x).unsupported_ops_warnings(False).uncalled_modules_warnings(False).total())


def median_times(fns: dict[str, Callable[[], object]], threads: int, min_run_time: float, rounds: int) -> dict[str, float]:
    """Median seconds per call of each function, timed in interleaved rounds."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            m = benchmark.Timer("fn()", globals={"fn": fn}, num_threads=threads).blocked_autorange(min_run_time=min_run_time)
            times[name].extend(m.times)
    return {name: statistics.median(t) for name, t in times.items()}


def runner(module: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode():
            return module(x)

    module.eval()
    run()  # warm-up
    return run


def bench_models(batches: list[int], threads: int, min_run_time: float, rounds: int) -> None:
    print(f"\nModels, 224x224, {threads} thread(s): median ms per batch")
    print(f"{'ours':12s} {'timm':30s} {'batch':>5s} {'ours ms':>9s} {'timm ms':>9s} {'ours/timm':>9s} {'GFLOPs ours':>11s} {'timm':>6s}")
    for ours_name, timm_name in MODELS:
        ours = archspace.build(archspace.load_genotype(GENOTYPES / f"{ours_name}.json"))
        ref = timm.create_model(timm_name, pretrained=False)
        one = torch.randn(1, 3, 224, 224)
        f_ours, f_ref = flops(ours, one), flops(ref, one)
        for b in batches:
            x = torch.randn(b, 3, 224, 224)
            t = median_times({"ours": runner(ours, x), "timm": runner(ref, x)}, threads, min_run_time, rounds)
            print(
                f"{ours_name:12s} {timm_name:30s} {b:5d} {t['ours'] * 1e3:9.1f} {t['timm'] * 1e3:9.1f} "
                f"{t['ours'] / t['timm']:9.3f} {f_ours / 1e9:11.3f} {f_ref / 1e9:6.3f}"
            )


def bench_mixers(batches: list[int], threads: int, min_run_time: float, rounds: int) -> None:
    print(f"\nToken mixers, {WIDTH} channels, {HEADS} heads, {MAP}x{MAP} map, {threads} thread(s): median ms per batch")
    print(f"{'mixer':28s} {'batch':>5s} {'ms':>9s} {'/ window':>8s} {'GFLOPs':>7s} {'params':>7s}")
    built = {name: build_op(spec, at) for name, (spec, at) in mixers().items()}
    one = torch.randn(1, WIDTH, MAP, MAP)
    cost = {name: flops(m, one) for name, m in built.items()}
    for b in batches:
        x = torch.randn(b, WIDTH, MAP, MAP)
        t = median_times({name: runner(m, x) for name, m in built.items()}, threads, min_run_time, rounds)
        base = t["window 7 (W-MSA)"]
        for name, m in built.items():
            params = sum(p.numel() for p in m.parameters())
            print(f"{name:28s} {b:5d} {t[name] * 1e3:9.2f} {t[name] / base:8.2f} {cost[name] / 1e9:7.3f} {params:7d}")


def bench_halo_vs_timm(batches: list[int], threads: int, min_run_time: float, rounds: int) -> None:
    """Our halo attention beside timm's HaloAttn (no output projection, no padding mask: it does less work)."""
    print(f"\nHalo attention vs timm HaloAttn, {WIDTH} channels, {HEADS} heads, block 7, halo 3, {MAP}x{MAP} map")
    print(f"{'batch':>5s} {'ours ms':>9s} {'timm ms':>9s} {'ours/timm':>9s} {'GFLOPs ours':>11s} {'timm':>6s}")
    spec, at = mixers()["halo 7+3"]
    ours, ref = build_op(spec, at), HaloAttn(WIDTH, num_heads=HEADS, block_size=7, halo_size=3)
    one = torch.randn(1, WIDTH, MAP, MAP)
    f_ours, f_ref = flops(ours, one), flops(ref, one)
    for b in batches:
        x = torch.randn(b, WIDTH, MAP, MAP)
        t = median_times({"ours": runner(ours, x), "timm": runner(ref, x)}, threads, min_run_time, rounds)
        print(f"{b:5d} {t['ours'] * 1e3:9.2f} {t['timm'] * 1e3:9.2f} {t['ours'] / t['timm']:9.3f} {f_ours / 1e9:11.3f} {f_ref / 1e9:6.3f}")


def profile(batch: int, threads: int) -> None:
    """Operator table of our swin_t and timm's, one inference each (to see where the time goes)."""
    torch.set_num_threads(threads)
    x = torch.randn(batch, 3, 224, 224)
    pairs = {"ours swin_t": archspace.build(archspace.load_genotype(GENOTYPES / "swin_t.json")), "timm swin_tiny": timm.create_model(MODELS[0][1])}
    for name, model in pairs.items():
        run = runner(model, x)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            for _ in range(3):
                run()
        print(f"\n{name}, batch {batch}")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--min-run-time", type=float, default=0.5, help="seconds per blocked_autorange")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per case")
    parser.add_argument("--profile", action="store_true", help="also print operator profiles of both Swin-Ts")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, timm {timm.__version__}, threads {args.threads}")
    bench_models(args.batches, args.threads, args.min_run_time, args.rounds)
    bench_mixers(args.batches, args.threads, args.min_run_time, args.rounds)
    bench_halo_vs_timm(args.batches, args.threads, args.min_run_time, args.rounds)
    if args.profile:
        profile(args.batches[-1], args.threads)


if __name__ == "__main__":
    main()
