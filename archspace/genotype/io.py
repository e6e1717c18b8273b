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


def _format_loc(loc: tuple, data: Any) -> str:
    """Render a pydantic error location as `stages[2].mixer.kernels[0]`, dropping union tags."""
    path, node = "", data
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            node = node[part] if isinstance(node, (list, tuple)) and part < len(node) else None
            continue
        if isinstance(node, dict) and part not in node and node.get("kind") == part:
            continue  # the discriminator tag pydantic inserts for a tagged union
        if isinstance(node, dict) and part not in node and part.startswith(("function-", "nullable", "tagged-union")):
            continue
        path = f"{path}.{part}" if path else str(part)
        node = node.get(part) if isinstance(node, dict) else None
    return path


_EXPECTED = {
    "int_type": "an integer", "int_from_float": "an integer", "int_parsing": "an integer", "float_type": "a number",
    "float_parsing": "a number", "bool_type": "true or false", "string_type": "a string", "tuple_type": "a list",
    "list_type": "a list", "dict_type": "a mapping", "model_type": "a mapping", "model_attributes_type": "a mapping",
}
_JSON_TYPES = {str: "a string", bool: "a boolean", int: "an integer", float: "a number", list: "a list", tuple: "a list", dict: "a mapping", type(None): "null"}


def _shown(value: Any) -> str:
    """`a string '96'`: a value's JSON type and a short repr, for one-line messages."""
    text = repr(value)
    return f"{_JSON_TYPES.get(type(value), type(value).__name__)} {text if len(text) <= 40 else text[:37] + '...'}"


def _first_error(err: ValidationError, data: Any) -> GenotypeError:
    """One clear error from pydantic's list: the semantic one if present, else the first."""
    errors = err.errors()
    for e in errors:
        original = (e.get("ctx") or {}).get("error")
        if isinstance(original, GenotypeError):  # raised by a spec's validator: placed under where that spec sits
            return original.under(_format_loc(e["loc"], data))
    e = errors[0]
    message = e["msg"]
    if e["type"] == "union_tag_invalid":
        message = f"unknown kind {e['input'].get('kind')!r}; known kinds: {e['ctx']['expected_tags']}"
    elif e["type"] == "union_tag_not_found":
        message = f"needs a `kind` ({e['ctx']['discriminator']})"
    elif e["type"] == "extra_forbidden":
        message = "unknown field"
    elif e["type"] == "missing":
        message = "is required"
    elif e["type"] in _EXPECTED:
        message = f"must be {_EXPECTED[e['type']]}, got {_shown(e['input'])}"
    elif e.get("ctx") and "input" in e:
        message = f"{message}, got {_shown(e['input'])}"
    return GenotypeError(_format_loc(e["loc"], data), message)


def genotype_from_dict(data: dict[str, Any], structure_only: bool = False) -> Genotype:
    """Validate a dict (after migration) into a Genotype; errors are one-line GenotypeErrors.

    Genes take their declared types strictly, as in a JSON file: `"channels": "96"` or `96.0` is
    refused for an integer gene; an integer is accepted where a number is declared.
    structure_only: check types and ranges but not the genes against their sites (the shape plan), so
    that `archspace plan` can show an invalid genotype's shapes up to the failing field.
    """
    if not isinstance(data, dict):
        raise GenotypeError("", f"a genotype must be a mapping, got {_shown(data)}")
    check_plain(data)
    data = migrate(data)
    try:
        return Genotype.model_validate_json(json.dumps(data), strict=True, context={"structure_only": structure_only})
    except ValidationError as err:
        raise _first_error(err, data) from None


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
