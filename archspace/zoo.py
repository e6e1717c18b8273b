"""The published models shipped as genotype files, and their timm registration."""
from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from archspace.errors import ArchspaceError
from archspace.genotype import Genotype, load_genotype


def zoo_dir() -> Path:
    """The folder of published genotypes: $ARCHSPACE_ZOO, or `genotypes/` beside the package source."""
    env = os.environ.get("ARCHSPACE_ZOO")
    path = Path(env) if env else Path(__file__).resolve().parent.parent / "genotypes"
    if not path.is_dir():
        raise ArchspaceError(f"zoo folder {path} not found; set ARCHSPACE_ZOO or install archspace from a checkout (pip install -e .)")
    return path


def zoo_names() -> list[str]:
    """Names of every shipped genotype, sorted."""
    return sorted(p.stem for p in zoo_dir().glob("*.json"))


@lru_cache(maxsize=None)
def zoo_genotype(name: str) -> Genotype:
    """A published genotype by name (e.g. 'transcnn_small')."""
    path = zoo_dir() / f"{name}.json"
    if not path.is_file():
        raise ArchspaceError(f"no zoo genotype {name!r}; known: {', '.join(zoo_names())}")
    return load_genotype(path)
