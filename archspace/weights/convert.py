"""The conversion engine: apply a family's key rules to an official state_dict and check the result against our model."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping

import torch
from torch import nn

from archspace.errors import ArchspaceError
from archspace.weights.checkpoint import load_torch_checkpoint

Transform = Callable[[torch.Tensor, torch.Size, nn.Module, str], torch.Tensor]  # (official tensor, our shape, our model, our key)


def same_up_to_unit_dims(t: torch.Tensor, shape: torch.Size, model: nn.Module | None = None, key: str = "") -> torch.Tensor:
    """Reshape when only size-1 dimensions differ (Linear <-> 1x1 conv, (C,1,1,1) layer scale <-> (C,))."""
    if tuple(d for d in t.shape if d != 1) != tuple(d for d in shape if d != 1):
        raise ValueError
    return t.reshape(shape)


def drop_unused_leading_rows(t: torch.Tensor, shape: torch.Size, model: nn.Module | None = None, key: str = "") -> torch.Tensor:
    """Keep the last rows: relative-position tables whose leading rows no query-key offset ever reads."""
    if t.shape[1:] != shape[1:] or t.shape[0] < shape[0]:
        raise ValueError
    return t[t.shape[0] - shape[0]:]


@dataclass(frozen=True)
class Rule:
    """Official keys matching `pattern` go to `target` (a re.sub template, or several tried in order), through `transform`."""

    pattern: str
    target: str | tuple[str, ...]
    transform: Transform = same_up_to_unit_dims

    def apply(self, key: str, ours: Mapping[str, torch.Tensor] | None = None) -> str | None:
        m = re.fullmatch(self.pattern, key)
        if not m:
            return None
        targets = [m.expand(t) for t in ((self.target,) if isinstance(self.target, str) else self.target)]
        return next((t for t in targets if ours is not None and t in ours), targets[0])


@dataclass(frozen=True)
class Family:
    """How one official code base names its tensors; `ignored` = derived buffers the official code rebuilds anyway."""

    name: str
    repo: str
    rules: tuple[Rule, ...]
    ignored: tuple[str, ...] = ()
    note: str = ""
    strip_prefixes: tuple[str, ...] = field(default=("module.",))

    def target(self, key: str, ours: Mapping[str, torch.Tensor] | None = None) -> tuple[str, Rule] | None:
        for rule in self.rules:
            out = rule.apply(key, ours)
            if out is not None:
                return out, rule
        return None

    def is_ignored(self, key: str) -> bool:
        return any(re.fullmatch(p, key) for p in self.ignored)


def _fail(family: Family, reason: str) -> ArchspaceError:
    return ArchspaceError(f"convert-weights --from {family.name}: {reason}")


def covered_keys(model: nn.Module) -> list[str]:
    """The state_dict keys of ours that a checkpoint must fill: parameters and persistent buffers, shared ones once."""
    seen: dict[int, str] = {}
    keys = []
    for key, tensor in model.state_dict(keep_vars=True).items():
        if id(tensor) in seen:
            continue
        seen[id(tensor)] = key
        keys.append(key)
    return keys


def aliases(model: nn.Module) -> dict[str, list[str]]:
    """Our key -> the other state_dict keys holding the same tensor (stage-shared parameters)."""
    by_id: dict[int, list[str]] = {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        by_id.setdefault(id(tensor), []).append(key)
    return {keys[0]: keys[1:] for keys in by_id.values() if len(keys) > 1}


def convert_state_dict(
    family: Family, official: Mapping[str, torch.Tensor], model: nn.Module, new_classifier: str | None = None
) -> dict[str, torch.Tensor]:
    """Official state_dict -> ours. Raises ArchspaceError (one line) on a key with no place, a shape that does not fit,
    two official keys for one of ours, or a tensor of ours the checkpoint leaves empty.

    `new_classifier` (a module prefix, e.g. 'head.fc.') is being re-initialised for a new class count: tensors of the
    checkpoint that do not fit it are left out, and it need not be filled.
    """
    ours = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    source: dict[str, str] = {}
    for key, tensor in official.items():
        for prefix in family.strip_prefixes:
            key = key.removeprefix(prefix)
        if family.is_ignored(key):
            continue
        hit = family.target(key, ours)
        if hit is None:
            raise _fail(family, f"official key {key!r} {tuple(tensor.shape)} has no place in this genotype (unexpected key)")
        target, rule = hit
        if target not in ours:
            raise _fail(family, f"official key {key!r} maps to {target!r}, which this genotype does not have (unexpected key)")
        if target in out:
            raise _fail(family, f"official keys {source[target]!r} and {key!r} both map to {target!r}")
        try:
            value = rule.transform(tensor, ours[target].shape, model, target)
        except ValueError:
            if new_classifier and target.startswith(new_classifier):
                continue
            raise _fail(family, f"official key {key!r} {tuple(tensor.shape)} does not fit {target!r} {tuple(ours[target].shape)} (shape mismatch)") from None
        out[target], source[target] = value, key
    for key in covered_keys(model):
        if key not in out and not (new_classifier and key.startswith(new_classifier)):
            raise _fail(family, f"our {key!r} {tuple(ours[key].shape)} gets no official tensor (missing key)")
    for key, others in aliases(model).items():
        for other in others:
            out[other] = out[key]
    return out


def official_layout(state_dict: Mapping[str, torch.Tensor]) -> dict[str, list[int]]:
    """key -> shape: what a layout fixture records about an official model."""
    return {k: list(v.shape) for k, v in state_dict.items()}


def load_checkpoint_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The state_dict inside a checkpoint file (.pth/.pth.tar/.bin or .safetensors; unwraps 'state_dict'/'model'/'module')."""
    path = Path(path)
    if not path.is_file():
        raise ArchspaceError(f"checkpoint: {path} is not a file")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    ckpt = load_torch_checkpoint(path)
    for wrapper in ("state_dict", "model", "module", "model_ema", "state_dict_ema"):
        if isinstance(ckpt, dict) and wrapper in ckpt and isinstance(ckpt[wrapper], dict):
            ckpt = ckpt[wrapper]
            break
    if not isinstance(ckpt, dict) or not all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        raise ArchspaceError(f"checkpoint: {path} holds no state_dict of tensors")
    return dict(ckpt)
