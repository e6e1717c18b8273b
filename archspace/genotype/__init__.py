"""Genotypes: typed, validated, canonical descriptions of networks (no torch here)."""
from archspace.genotype.io import (
    canonical_json,
    dump_genotype,
    genotype_from_dict,
    genotype_id,
    json_schema,
    load_genotype,
)
from archspace.genotype.plan import NetworkPlan, plan
from archspace.genotype.schema import SCHEMA_VERSION, Genotype, Reference, Stage

__all__ = [
    "SCHEMA_VERSION",
    "Genotype",
    "NetworkPlan",
    "Reference",
    "Stage",
    "canonical_json",
    "dump_genotype",
    "genotype_from_dict",
    "genotype_id",
    "json_schema",
    "load_genotype",
    "plan",
]
