"""`archspace supernet train CONFIG --out DIR`, `extract DIR GENOTYPE --out model.pth`, `rate DIR GENOTYPE...`,
`retrain RUN_DIR` (a supernet search's front trained stand-alone, both accuracies side by side).

Under torchrun the train action runs data-parallel: `torchrun --standalone --nproc_per_node 2 -m
archspace.supernet.commands train CONFIG --out DIR`.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def add_args(p: argparse.ArgumentParser) -> None:
    """Arguments of `archspace supernet` (registered by archspace.cli)."""
    p.add_argument("action", choices=["train", "extract", "rate", "retrain"],
                   help="train: CONFIG --out DIR; extract: DIR GENOTYPE --out model.pth; rate: DIR GENOTYPE... (val accuracy, seconds); "
                        "retrain: RUN_DIR (its front trained stand-alone beside the supernet's ratings)")
    p.add_argument("paths", nargs="+", help="train: the search config; extract/rate: the supernet folder, then genotype files; retrain: the run folder")
    p.add_argument("--out", default=None, help="train: the supernet folder (resumed when it has a checkpoint); extract: the state_dict file")
    p.add_argument("--epochs", type=int, default=None, help="overrides supernet.epochs of the config (retrain: the stand-alone epochs)")
    p.add_argument("--lr", type=float, default=None, help="overrides supernet.lr (retrain: the stand-alone lr)")
    p.add_argument("--batch-size", type=int, default=None, help="overrides supernet.batch_size (the global batch; retrain: the stand-alone batch)")
    p.add_argument("--max-steps", type=int, default=None, help="overrides supernet.max_steps_per_epoch (retrain: the stand-alone cap)")
    p.add_argument("--seed", type=int, default=0, help="retrain: the stand-alone training seed")
    p.add_argument("--width-divisor", type=int, default=None, help="overrides supernet.width_divisor (subnets at every width / this)")
    p.add_argument("--sandwich", action="store_true", default=None, help="sandwich rule: largest, smallest and random subnets each step")
    p.add_argument("--distill", action="store_true", default=None, help="in-place distillation from the largest subnet (with --sandwich)")
    p.add_argument("--calib-batches", type=int, default=4, help="rate: training batches for BN recalibration (default 4)")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    p.add_argument("--backend", choices=["local", "ray"], default="local",
                   help="train: local (one process, or torchrun's) or ray (data-parallel with Ray Train over --workers processes)")
    p.add_argument("--workers", type=int, default=2, help="train --backend ray: data-parallel processes (one CPU each, or one GPU on cuda)")
    p.add_argument("--address", default=None, help="train --backend ray: join the Ray cluster at HOST:PORT (default: a local instance on loopback)")


def run(args: argparse.Namespace) -> int:
    from archspace.errors import ArchspaceError

    if args.action == "train":
        if len(args.paths) != 1 or not args.out:
            raise ArchspaceError("supernet train: give one CONFIG and --out DIR")
        return _train(args)
    if args.action == "retrain":
        if len(args.paths) != 1:
            raise ArchspaceError("supernet retrain: give one RUN_DIR (a search run with the supernet evaluator)")
        return _retrain(args)
    if len(args.paths) < 2:
        raise ArchspaceError(f"supernet {args.action}: give the supernet folder and a genotype file")
    if args.action == "extract":
        if len(args.paths) != 2 or not args.out:
            raise ArchspaceError("supernet extract: give DIR GENOTYPE and --out model.pth")
        return _extract(args)
    return _rate(args)


def _train(args: argparse.Namespace) -> int:
    overrides = {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size, "max_steps_per_epoch": args.max_steps,
                 "width_divisor": args.width_divisor, "sandwich": args.sandwich, "distill": args.distill}
    if args.backend == "ray":
        from archspace.supernet.ray_train import train_with_ray

        train_with_ray(Path(args.paths[0]), overrides, Path(args.out), args.workers, args.address, device=args.device)
        return 0
    from archspace.supernet.train import train_config_file

    train_config_file(args.paths[0], overrides, Path(args.out), device=args.device, log=lambda line: print(line, flush=True))
    return 0


def _genotype_for(supernet, path: str):
    """A genotype file as the supernet's subnet (`Supernet.place`: adapted to its data, narrowed by its width
    divisor), and whether that changed it."""
    from archspace.genotype import load_genotype

    genotype = load_genotype(path)
    placed = supernet.place(genotype)
    return placed, placed.id != genotype.id


def _extract(args: argparse.Namespace) -> int:
    import torch

    from archspace.genotype import dump_genotype
    from archspace.supernet import checkpoint
    from archspace.supernet.rate import standalone
    from archspace.weights.checkpoint import save_torch_checkpoint

    supernet, _ = checkpoint.load(args.paths[0])
    genotype, was_placed = _genotype_for(supernet, args.paths[1])
    state = supernet.extract(genotype)
    out = Path(args.out)
    save_torch_checkpoint(out, state)
    x = torch.randn(2, supernet.in_chans, supernet.image_size, supernet.image_size)
    with torch.no_grad():
        ours, theirs = supernet(x, genotype), standalone(supernet, genotype)(x)
    rel = float((ours - theirs).abs().max() / theirs.abs().max().clamp_min(1e-12))
    print(f"wrote {out}: state_dict of {genotype.name} ({len(state)} tensors); stand-alone vs supernet output: {rel:.1e} relative")
    if was_placed:
        target = out.with_suffix(".json")
        dump_genotype(genotype, target)
        print(f"the genotype was put onto the supernet's data ({supernet.image_size} px, widths / {supernet.width_divisor}); "
              f"the genotype of the state_dict: {target}")
    return 0


def _rate(args: argparse.Namespace) -> int:
    from archspace.evaluate.data import load_data
    from archspace.supernet import checkpoint
    from archspace.supernet.rate import rate

    supernet, meta = checkpoint.load(args.paths[0])
    bundle = load_data(meta["data"])
    for path in args.paths[1:]:
        genotype, _ = _genotype_for(supernet, path)
        t0 = time.perf_counter()
        accuracy = rate(supernet, genotype, bundle, calib_batches=args.calib_batches, device=args.device)
        print(f"{path}  accuracy {accuracy:.4f}  {time.perf_counter() - t0:.2f} s")
    return 0


def _retrain(args: argparse.Namespace) -> int:
    from archspace.supernet.retrain import retrain_front

    train = {k: v for k, v in {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
                                "max_steps_per_epoch": args.max_steps}.items() if v is not None}
    result = retrain_front(args.paths[0], train, seed=args.seed, device=args.device, log=lambda line: print(line, flush=True))
    if "spearman" in result:
        print(f"Spearman, supernet rating vs stand-alone accuracy over the front: {result['spearman']:.3f}")
    print(f"wrote {Path(args.paths[0]) / 'retrain.json'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`python -m archspace.supernet.commands ACTION ...` (what torchrun launches), with the CLI's one-line errors."""
    import sys

    from archspace.errors import ArchspaceError

    parser = argparse.ArgumentParser(prog="archspace supernet", description=__doc__)
    add_args(parser)
    args = parser.parse_args(argv)
    try:
        return run(args)
    except (ArchspaceError, OSError, ValueError) as err:
        print(f"archspace: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
