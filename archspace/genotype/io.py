"""Load and dump genotypes (JSON, YAML), canonical form, stable id, schema migration."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

import yaml
from pydantic import BaseModel, ValidationError

from archspace.atomic import write_text
from archspace.errors import GenotypeError
from archspace.genotype.schema import SCHEMA_VERSION, Genotype
from archspace.pydantic_errors import first_error, shown
from archspace.safeload import check_plain, load_document

# Fields that describe where a genotype came from, not the network it encodes.
PROVENANCE_FIELDS = ("name", "reference", "notes")

# MIGRATIONS[v] turns a version-v dict into a version-(v + 1) dict. Add one each time the schema
# changes incompatibly and bump SCHEMA_VERSION; old files then load unchanged.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a genotype dict written by any earlier schema version up to the current one."""
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int) or version < 1:
        raise GenotypeError("schema_version", f"must be a positive integer, got {version!r}")
    if version > SCHEMA_VERSION:
        raise GenotypeError(
            "schema_version", f"{version} is newer than this archspace understands ({SCHEMA_VERSION}); upgrade archspace"
        )
    while version < SCHEMA_VERSION:
        data = MIGRATIONS[version](dict(data))
        version += 1
        data["schema_version"] = version
    return data


def genotype_from_dict(data: dict[str, Any], structure_only: bool = False) -> Genotype:
    """Validate a dict (after migration) into a Genotype; errors are one-line GenotypeErrors.

    Genes take their declared types strictly, as in a JSON file: `"channels": "96"` or `96.0` is
    refused for an integer gene; an integer is accepted where a number is declared.
    structure_only: check types and ranges but not the genes against their sites (the shape plan), so
    that `archspace plan` can show an invalid genotype's shapes up to the failing field.
    """
    if not isinstance(data, dict):
        raise GenotypeError("", f"a genotype must be a mapping, got {shown(data)}")
    check_plain(data)
    data = migrate(data)
    try:
        return Genotype.model_validate_json(json.dumps(data), strict=True, context={"structure_only": structure_only})
    except ValidationError as err:
        raise GenotypeError(*first_error(err, data)) from None


def load_genotype(path: str | Path, structure_only: bool = False) -> Genotype:
    """Read a genotype from a .json, .yaml or .yml file (size, encoding and nesting checked first;
    structure_only: see genotype_from_dict)."""
    data = load_document(path, "genotype file")
    try:
        return genotype_from_dict(data, structure_only)
    except GenotypeError as err:
        raise GenotypeError(f"{path}: {err.path}" if err.path else str(path), err.reason) from None


def canonical_dict(genotype: Genotype) -> dict[str, Any]:
    """Every field, defaults filled, in JSON types."""
    return genotype.model_dump(mode="json")


def canonical_json(genotype: Genotype) -> str:
    """The canonical text: defaults filled, keys sorted, no whitespace."""
    return json.dumps(canonical_dict(genotype), sort_keys=True, separators=(",", ":"))


def _non_default(value: Any) -> Any:
    """A spec tree with default-valued fields dropped (every `kind` kept), in JSON types."""
    if isinstance(value, BaseModel):
        out = {}
        for name, field in type(value).model_fields.items():
            v = getattr(value, name)
            if name == "kind" or field.is_required() or v != field.get_default(call_default_factory=True):
                out[name] = _non_default(v)
        return out
    if isinstance(value, (list, tuple)):
        return [_non_default(v) for v in value]
    return value


def genotype_id(genotype: Genotype) -> str:
    """A stable 12-hex id of the network: the hash of its non-default genes, provenance fields left out.

    Leaving defaults out keeps ids of existing genotypes unchanged when the schema gains a new
    optional gene; a change of a default's meaning needs a schema version and a migration.
    """
    data = {k: v for k, v in _non_default(genotype).items() if k not in PROVENANCE_FIELDS}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def dump_genotype(genotype: Genotype, path: str | Path | None = None, fmt: str | None = None) -> str:
    """Canonical JSON (indented) or YAML text; written to `path` when given (format from its suffix)."""
    if fmt is None:
        fmt = "yaml" if path is not None and Path(path).suffix in (".yaml", ".yml") else "json"
    data = canonical_dict(genotype)
    if fmt == "yaml":
        text = yaml.safe_dump(data, sort_keys=True)
    else:
        text = json.dumps(data, sort_keys=True, indent=2) + "\n"
    if path is not None:
        write_text(path, text)
    return text


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a genotype file, for editors."""
    return Genotype.model_json_schema()
