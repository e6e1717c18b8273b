"""archspace: design and search hybrid CNN-Transformer vision backbones from genotype files."""
from archspace.errors import ArchspaceError, GenotypeError
from archspace.genotype import Genotype, dump_genotype, load_genotype

__version__ = "0.1.0"


def build(genotype: Genotype, **kwargs):
    """Compile a genotype into a torch network (imports torch lazily)."""
    from archspace.builder import build as _build

    return _build(genotype, **kwargs)


def cost(genotype: Genotype, **kwargs):
    """Params, FLOPs, memory (and latency on request) of a genotype: see archspace.cost.summarize."""
    from archspace.cost import summarize

    return summarize(genotype, **kwargs)


def _register_with_timm() -> None:
    from archspace.timm_models import register_zoo

    register_zoo()


_register_with_timm()

__all__ = ["ArchspaceError", "Genotype", "GenotypeError", "build", "cost", "dump_genotype", "load_genotype"]
