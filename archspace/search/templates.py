"""Search-space templates: a base genotype (zoo name or file), `each_stage` merged into every stage, then `genotype`
overrides; and the check that every field of a template (choice options included) is a genotype field."""
from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from archspace import safeload
from archspace.errors import ArchspaceError, GenotypeError, join_path
from archspace.genotype.io import PROVENANCE_FIELDS, canonical_dict, load_genotype
from archspace.search.genes import SpaceError, is_gene

TEMPLATE_KEYS = ("base", "each_stage", "genotype")


def _merge(base: Any, over: Any) -> Any:
    """Deep-merge an override into a base: mappings merge field by field unless the override changes `kind`;
    a list of mappings merges item by item when its length matches the base's; anything else replaces."""
    if isinstance(over, list) and isinstance(base, list) and len(over) == len(base) and all(isinstance(o, dict) and not is_gene(o) for o in over):
        return [_merge(b, o) for b, o in zip(base, over)]
    if is_gene(over) or not isinstance(over, dict) or not isinstance(base, dict) or is_gene(base):
        return over
    if "kind" in over and over["kind"] != base.get("kind"):
        return over
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(base[key], value) if key in base else value
    return out


def _load_base(ref: Any, folder: Path, source: str = "") -> dict[str, Any]:
    """A base genotype as a dict (defaults filled, provenance dropped): a zoo name or a genotype file.

    `source` is the space file being read: a base naming it, or any other space file, is refused as such."""
    if not isinstance(ref, str) or not ref:
        raise SpaceError("base", f"must be a zoo name or a genotype file, got {ref!r}")
    if ref.endswith((".json", ".yaml", ".yml")) or "/" in ref:
        path = Path(ref)
        if not path.is_absolute() and (folder / path).is_file():
            path = folder / path
        if source and path.is_file() and path.resolve() == Path(source).resolve():
            raise SpaceError("base", f"{ref} is this search space file itself (a circular base); name a zoo model or a genotype file")
        try:
            genotype = load_genotype(path)
        except GenotypeError:
            if _is_space_file(path):
                raise SpaceError("base", f"{ref} is a search space file, not a genotype; a base is a zoo model or a genotype file") from None
            raise
    else:
        from archspace.zoo import zoo_genotype

        try:
            genotype = zoo_genotype(ref)
        except ArchspaceError as err:
            raise SpaceError("base", str(err)) from None
    data = canonical_dict(genotype)
    for key in PROVENANCE_FIELDS:
        data.pop(key, None)
    return data


def _is_space_file(path: Path) -> bool:
    """Whether a file that does not load as a genotype reads as a search space (it has a space's own keys)."""
    try:
        data = safeload.load_document(path, "genotype file")
    except GenotypeError:
        return False
    return isinstance(data, dict) and any(key in data for key in ("base", "each_stage", "variants")) and "stem" not in data


def build_template(spec: dict[str, Any], folder: Path, where: str, source: str = "") -> dict[str, Any]:
    """The genotype template of one variant: base, then `each_stage` into every stage, then `genotype`."""
    for key in spec:
        if key not in TEMPLATE_KEYS:
            raise SpaceError(join_path(where, key), f"unknown key; a template has {', '.join(TEMPLATE_KEYS)}")
    over = spec.get("genotype") or {}
    if not isinstance(over, dict):
        raise SpaceError(join_path(where, "genotype"), "must be a mapping of genotype fields")
    try:
        data = _load_base(spec["base"], folder, source) if "base" in spec else {}
    except SpaceError as err:
        raise err.under(where) from None
    stages = data.get("stages")
    if "stages" in over:
        if not isinstance(over["stages"], list) or not over["stages"]:
            raise SpaceError(join_path(where, "genotype.stages"), "must be a non-empty list of stages")
        if stages is not None and len(over["stages"]) != len(stages):
            raise SpaceError(join_path(where, "genotype.stages"), f"has {len(over['stages'])} stages; the base has {len(stages)}")
        stages = stages or [{} for _ in over["stages"]]
    if stages is None:
        raise SpaceError(join_path(where, "genotype.stages"), "is required (no base gives them)")
    each = spec.get("each_stage") or {}
    if not isinstance(each, dict) or is_gene(each):
        raise SpaceError(join_path(where, "each_stage"), "must be a mapping of stage fields")
    merged = _merge(data, {k: v for k, v in over.items() if k != "stages"})
    per_stage = over.get("stages") or [{} for _ in stages]
    merged["stages"] = []
    for i, (stage, extra) in enumerate(zip(stages, per_stage)):
        if not isinstance(extra, dict) or is_gene(extra):
            raise SpaceError(join_path(where, f"genotype.stages[{i}]"), "must be a mapping of stage fields")
        merged["stages"].append(_merge(_merge(stage, each), extra))
    merged.setdefault("name", "space")
    return merged


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field annotation can hold (through unions, optionals, tuples)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def _kind_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    return None if field is None else field.default


def check_fields(value: Any, models: list[type[BaseModel]], path: str) -> None:
    """Refuse unknown fields and kinds anywhere in a template, options of choices included."""
    if not models:
        return
    if is_gene(value):
        for option in value.get("choice") or []:
            check_fields(option, models, path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            check_fields(item, models, f"{path}[{i}]")
        return
    if not isinstance(value, dict):
        return
    model = models[0]
    if len(models) > 1:
        kinds = {_kind_of(m): m for m in models}
        kind = value.get("kind")
        if is_gene(kind):
            raise SpaceError(join_path(path, "kind"), "choose a kind with a choice of whole specs: {choice: [{kind: a, ...}, {kind: b, ...}]}")
        if not isinstance(kind, str) or kind not in kinds:
            known = ", ".join(str(k) for k in kinds)
            reason = f"unknown kind {kind!r}; known kinds: {known}" if "kind" in value else f"needs a kind (one of {known})"
            raise SpaceError(join_path(path, "kind") if "kind" in value else path, reason)
        model = kinds[kind]
    for key, item in value.items():
        if key not in model.model_fields:
            what = f"{_kind_of(model)} {model.__name__}" if _kind_of(model) else model.__name__
            raise SpaceError(join_path(path, key), f"unknown field of {what}; known: {', '.join(model.model_fields)}")
        check_fields(item, _models(model.model_fields[key].annotation), join_path(path, key))
