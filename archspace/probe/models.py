"""The networks a probe looks at: a genotype file or zoo name, at an image size, with optional weights."""
from __future__ import annotations

from pathlib import Path

import torch
from timm.data.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn

from archspace.errors import ArchspaceError, GenotypeError
from archspace.genotype import Genotype, load_genotype
from archspace.probe.data import normalize


def resolve_genotype(model: str) -> Genotype:
    """MODEL as a genotype file (.json/.yaml) when such a file exists, else a zoo name."""
    from archspace.zoo import zoo_genotype

    return load_genotype(model) if Path(model).is_file() else zoo_genotype(model)


def at_image_size(genotype: Genotype, image_size: int, num_classes: int | None = None) -> Genotype:
    """The genotype put onto `image_size` px (and `num_classes`) by the search's one adaptation rule
    (archspace.genotype.adapt.adapt: windows, halo blocks, grids, patches and strides follow the smaller maps);
    refused in one line when it still cannot fit."""
    from archspace.genotype.adapt import adapt

    classes = genotype.num_classes if num_classes is None else num_classes
    if (image_size, classes) == (genotype.image_size, genotype.num_classes):
        return genotype
    try:
        return adapt(genotype, image_size, genotype.in_chans, classes)
    except GenotypeError as err:
        raise ArchspaceError(f"image_size: {genotype.name} does not fit {image_size}x{image_size}: {err}") from None


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A state_dict saved by torch.save, bare or under a 'state_dict' / 'model' key."""
    from archspace.weights.checkpoint import load_torch_checkpoint

    state = load_torch_checkpoint(path, "weights")
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ArchspaceError(f"weights: {path} is not a state_dict of tensors")
    return state


def checkpoint_classes(state: dict[str, torch.Tensor]) -> int | None:
    """The class count of a checkpoint's classifier (ArchNet's `head.fc`), None when it has none."""
    weight = state.get("head.fc.weight")
    return int(weight.shape[0]) if weight is not None else None


def load_weights(model: nn.Module, state: dict[str, torch.Tensor], path: str | Path) -> None:
    """Load `state` into `model`, refusing (one line) when keys or shapes differ."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    mismatched = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or mismatched:
        parts = [f"{what} {keys[:3]}{' ...' if len(keys) > 3 else ''}" for what, keys in
                 (("missing", missing), ("unexpected", unexpected), ("shape differs for", mismatched)) if keys]
        raise ArchspaceError(f"weights: {path} does not fit the model: {'; '.join(parts)}")
    model.load_state_dict(state)


def build_probe_model(genotype: Genotype, state: dict[str, torch.Tensor] | None = None, source: str | None = None, seed: int = 0) -> nn.Module:
    """The network in eval mode: seeded random weights, or `state` (a state_dict read from `source`)."""
    from archspace.builder import build

    torch.manual_seed(seed)
    model = build(genotype)
    if state is not None:
        load_weights(model, state, source or "state_dict")
    return model.eval()


class Normalized(nn.Module):
    """A timm-API network fed pixel-space images in [0, 1]: normalises with mean/std, then calls the network."""

    def __init__(self, net: nn.Module, mean: tuple[float, ...] = IMAGENET_DEFAULT_MEAN, std: tuple[float, ...] = IMAGENET_DEFAULT_STD):
        super().__init__()
        self.net, self.mean, self.std = net, tuple(mean), tuple(std)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.net.forward_features(normalize(images, self.mean, self.std))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.net.forward_head(x, pre_logits=pre_logits)

    def get_classifier(self) -> nn.Module:
        return self.net.get_classifier()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net(normalize(images, self.mean, self.std))
