"""`archspace convert-weights`: an official checkpoint -> a state_dict our genotype loads (strictly)."""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from archspace.errors import ArchspaceError
from archspace.weights.checkpoint import save_torch_checkpoint


def convert_checkpoint(family_name: str, checkpoint: str | Path, genotype_path: str | Path) -> tuple[torch.nn.Module, dict]:
    """Load, convert and strictly load into a freshly built model; returns (model, our state_dict)."""
    from archspace import build, load_genotype
    from archspace.weights import convert_state_dict, family_for, load_checkpoint_state_dict

    family = family_for(family_name)
    genotype = load_genotype(genotype_path)
    official = load_checkpoint_state_dict(checkpoint)
    model = build(genotype)
    state = convert_state_dict(family, official, model)
    model.load_state_dict(state, strict=True)
    return model, state


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise ArchspaceError(f"--out: {out} exists; pass --force to overwrite it")
    model, state = convert_checkpoint(args.family, args.checkpoint, args.genotype)
    save_torch_checkpoint(out, state)  # atomically: a failed write never leaves a half file at --out
    n = sum(p.numel() for p in model.parameters())
    print(f"converted {len(state)} tensors ({n:,} parameters) from {args.family} -> {out}")
    print(f"load with: archspace.build(load_genotype({str(args.genotype)!r})).load_state_dict(torch.load({str(out)!r}))")
    return 0
