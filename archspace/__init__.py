"""archspace: design and search hybrid CNN-Transformer vision backbones from genotype files.

Importing archspace does not import torch: the genotype layer (schema, plan, I/O), the analytic
cost and the fast CLI commands stay torch-free. Torch is imported by `build`, by `archspace.cost`'s
fvcore/latency parts and by the ops. The zoo is registered with timm when timm is imported
(now, if it already is; otherwise at the moment it is), through a post-import hook.
"""
from __future__ import annotations

import wrapt

from archspace.errors import ArchspaceError, GenotypeError
from archspace.genotype import Genotype, dump_genotype, load_genotype

__version__ = "0.1.0"


def build(genotype: Genotype, **kwargs):
    """Compile a genotype into a torch network (imports torch lazily); see archspace.builder.build."""
    from archspace.builder import build as _build

    return _build(genotype, **kwargs)


def cost(genotype: Genotype, **kwargs):
    """Params, FLOPs, memory (and latency on request) of a genotype: see archspace.cost.summarize."""
    from archspace.cost import summarize

    return summarize(genotype, **kwargs)


@wrapt.when_imported("timm")
def _register_with_timm(timm_module) -> None:
    from archspace.timm_models import register_zoo

    register_zoo()


__all__ = ["ArchspaceError", "Genotype", "GenotypeError", "build", "cost", "dump_genotype", "load_genotype"]
