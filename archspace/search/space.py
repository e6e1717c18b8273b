"""Search spaces in the genotype's own vocabulary: a YAML genotype whose fields may be genes.

```yaml
name: transxnet
anchors: [transxnet_t, transxnet_s]     # published genotypes the space contains (zoo names)
base: transxnet_t                       # a zoo name or a genotype file; the rest overrides it
each_stage:                             # merged into every stage (a gene here is one gene per stage)
  mixer: {attn_ratio: {choice: [0.25, 0.5, 0.75]}}
genotype:                               # the genotype's own fields; any may be a gene
  stages:
    - {depth: {int: [2, 5]}, channels: {choice: [48, 64]}}
```

Genes: `choice` (values or whole specs; a spec's genes exist only when it is chosen), `int` / `float`
ranges (`step`, `log`), `subset` (`size`), `expr` (derived from other fields); `tie: NAME` makes
several genes one. `variants:` instead of `base`/`each_stage`/`genotype` offers whole templates.
Sampling is Optuna define-by-run and the parameter names are genotype field paths
(`stages[2].mixer.kind`), see docs/search_spaces.md. No torch here.
"""
from __future__ import annotations

import ast
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel

from archspace import safeload
from archspace.errors import ArchspaceError, GenotypeError, join_path
from archspace.genotype.io import PROVENANCE_FIELDS, canonical_dict, genotype_from_dict, load_genotype
from archspace.genotype.schema import Genotype
from archspace.search import expr as expr_mod
from archspace.search.genes import (
    Choice,
    Expr,
    Fixed,
    Gene,
    Mapping,
    Node,
    Sequence,
    SpaceError,
    Subset,
    has_genes,
    is_gene,
    parse_gene,
)

__all__ = ["Gene", "GeneInfo", "InvalidSample", "SearchSpace", "SpaceError"]

TOP_KEYS = ("name", "description", "anchors", "base", "each_stage", "genotype", "variants")
TEMPLATE_KEYS = ("base", "each_stage", "genotype")
VARIANT_PARAM = "variant"
MAX_SPACE_BYTES = 2**20  # the shipped spaces are 2-3 KB
_STAGE = re.compile(r"^stages\[(\d+)\]")


class InvalidSample(GenotypeError):
    """A sampled combination of genes that the genotype's own validation refuses (path and reason from it)."""


@dataclass(frozen=True)
class GeneInfo:
    """One parameter of the space, for `archspace space show` and the runner's gene columns."""

    name: str
    kind: str
    domain: str
    paths: tuple[str, ...]
    condition: str
    count: float


# ------------------------------------------------------------------------------------- templates


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


def _template(spec: dict[str, Any], folder: Path, where: str, source: str = "") -> dict[str, Any]:
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


# ----------------------------------------------------------------------------------- schema check


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field annotation can hold (through unions, optionals, tuples)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models(arg)]


def _kind_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    return None if field is None else field.default


def _check_fields(value: Any, models: list[type[BaseModel]], path: str) -> None:
    """Refuse unknown fields and kinds anywhere in a template, options of choices included."""
    if not models:
        return
    if is_gene(value):
        for option in value.get("choice") or []:
            _check_fields(option, models, path)
        return
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_fields(item, models, f"{path}[{i}]")
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
        _check_fields(item, _models(model.model_fields[key].annotation), join_path(path, key))


# -------------------------------------------------------------------------------------- compiling


def _stage_of(path: str) -> int | None:
    m = _STAGE.match(path)
    return int(m.group(1)) if m else None


class _Compiler:
    """Turns a template (plain data with gene mappings) into a node tree, collecting every gene."""

    def __init__(self, stages: int):
        self.stages = stages
        self.genes: list[Gene] = []

    def node(self, value: Any, path: str, conditions: tuple[tuple[str, Any], ...], suffix: str) -> Node:
        if is_gene(value):
            return self.gene(value, path, conditions, suffix)
        if not has_genes(value):
            return Fixed(value)
        if isinstance(value, dict):
            return Mapping({k: self.node(v, join_path(path, k), conditions, suffix) for k, v in value.items()})
        return Sequence([self.node(v, f"{path}[{i}]", conditions, suffix) for i, v in enumerate(value)])

    def gene(self, value: dict[str, Any], path: str, conditions: tuple[tuple[str, Any], ...], suffix: str) -> Gene:
        gene = parse_gene(value, path)
        gene.conditions, gene.stages = conditions, self.stages
        self.genes.append(gene)
        if isinstance(gene, Choice):
            by_kind = all(isinstance(o, dict) and "kind" in o for o in gene.raw)
            gene.name = (join_path(path, "kind") if by_kind else path) + suffix
            gene.options = [
                self.node(option, path, conditions + ((gene.name, label),), f"{suffix}@{label}")
                for option, label in zip(gene.raw, gene.labels)
            ]
        else:
            gene.name = path + suffix
        if isinstance(gene, Expr):
            gene.stage = _stage_of(path)
        return gene


def _tied_name(genes: list[Gene], tie: str) -> str:
    """One parameter name for tied genes: `stages[*].x` over all stages, `stages[1,2].x` over some, else the tie."""
    keys = {_STAGE.sub("stages[#]", g.name) for g in genes}
    indices = sorted({_stage_of(g.name) for g in genes} - {None})
    if len(keys) != 1 or not indices or any(_stage_of(g.name) is None for g in genes):
        return tie
    every = indices == list(range(genes[0].stages)) and all(g.stages == genes[0].stages for g in genes)
    return keys.pop().replace("stages[#]", "stages[*]" if every else f"stages[{','.join(map(str, indices))}]", 1)


# --------------------------------------------------------------------------------------- sampling


class _Pending:
    """A derived value waiting for the rest of the sample."""

    def __init__(self, gene: Expr):
        self.gene = gene


def _walk_path(data: Any, path: str) -> Any:
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        if part.startswith("["):
            data = data[int(part[1:-1])]
        else:
            data = data[part]
    return data


class _Resolver:
    """Evaluates the expressions of a sampled tree (each once, in dependency order)."""

    def __init__(self, data: dict[str, Any]):
        self.data = data
        self.busy: set[int] = set()

    def value(self, item: Any) -> Any:
        if not isinstance(item, _Pending):
            return item
        gene = item.gene
        if id(item) in self.busy:
            raise SpaceError(gene.path, f"expression {gene.text!r} depends on itself")
        self.busy.add(id(item))

        def lookup(name: str) -> Any:
            if name == "stage" and gene.stage is not None:
                return gene.stage
            scopes = ([self.data["stages"][gene.stage]] if gene.stage is not None else []) + [self.data]
            for scope in scopes:
                try:
                    found = _walk_path(scope, name)
                except (KeyError, IndexError, TypeError):
                    continue
                return self.value(found)
            raise expr_mod.ExprError(f"names {name!r}, which the space does not set")

        try:
            result = expr_mod.evaluate(gene.tree, lookup)
        except expr_mod.ExprError as err:
            reason = str(err).removeprefix(f"{ast.unparse(gene.tree)!r}: ")  # the whole expression is named once
            raise SpaceError(gene.path, f"expression {gene.text!r}: {reason}") from None
        self.busy.discard(id(item))
        return result

    def tree(self, item: Any) -> Any:
        if isinstance(item, dict):
            return {k: self.tree(v) for k, v in item.items()}
        if isinstance(item, list):
            return [self.tree(v) for v in item]
        return self.value(item)


class _EndTrial:
    """A stand-in for an Optuna trial that answers every gene with its first (`end` 0) or last (-1) value."""

    def __init__(self, end: int):
        self.end = end

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any:
        return choices[self.end]

    def suggest_int(self, name: str, low: int, high: int, **_: Any) -> int:
        return (low, high)[self.end]

    def suggest_float(self, name: str, low: float, high: float, **_: Any) -> float:
        return (low, high)[self.end]


class _Mismatch(Exception):
    def __init__(self, path: str, reason: str):
        self.path, self.reason = path, reason


def _first_difference(a: Any, b: Any, path: str = "") -> tuple[str, Any, Any] | None:
    """The first field path where two canonical dicts differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            found = _first_difference(a.get(key), b.get(key), join_path(path, key))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            found = _first_difference(x, y, f"{path}[{i}]")
            if found:
                return found
        return None
    return None if a == b else (path, a, b)


# ------------------------------------------------------------------------------------------ space


class SearchSpace:
    """A search space: sample(trial) -> Genotype (Optuna define-by-run), contains, encode, genes, size."""

    def __init__(self, name: str, root: Node, genes: list[Gene], anchors: tuple[str, ...] = (), description: str = "", source: str = ""):
        self.name = name
        self.root = root
        self._genes = genes
        self.anchors = anchors
        self.description = description
        self.source = source

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_file(cls, path: str | Path) -> "SearchSpace":
        """Read a space file; every problem is one SpaceError line naming the file and the field."""
        path = Path(path)
        if path.is_dir():
            raise SpaceError("", f"{path}: is a folder, not a search space file (give a .yaml file in it)")
        try:
            text = safeload.read_text(path, "search space file", MAX_SPACE_BYTES)
            data = safeload.parse_text(text, "yaml", str(path))
        except GenotypeError as err:  # too large, deep, many-valued (an alias bomb), not UTF-8, not YAML, a folder
            raise SpaceError("", str(err)) from None
        try:
            space = cls.from_dict(data, default_name=path.stem, folder=path.parent, source=str(path))
            space.check_expressions()
            return space
        except SpaceError as err:
            raise SpaceError(f"{path}: {err.path}" if err.path else str(path), err.reason) from None
        except GenotypeError as err:  # a base genotype file that does not load
            raise SpaceError(str(path), str(err)) from None

    @classmethod
    def from_dict(cls, data: Any, default_name: str = "space", folder: Path | str = ".", source: str = "") -> "SearchSpace":
        """Build a space from parsed YAML; `folder` resolves a relative `base` file."""
        if not isinstance(data, dict):
            raise SpaceError("", f"a search space must be a mapping, got {type(data).__name__}")
        for key in data:
            if key not in TOP_KEYS:
                raise SpaceError(str(key), f"unknown key; a space file has {', '.join(TOP_KEYS)}")
        name = data.get("name", default_name)
        if not isinstance(name, str) or not name:
            raise SpaceError("name", f"must be a non-empty string, got {name!r}")
        anchors = data.get("anchors") or []
        if not isinstance(anchors, list) or not all(isinstance(a, str) for a in anchors):
            raise SpaceError("anchors", f"must be a list of zoo names, got {anchors!r}")
        folder = Path(folder)
        if "variants" in data:
            if any(k in data for k in TEMPLATE_KEYS):
                raise SpaceError("variants", "a space has either variants or base/each_stage/genotype, not both")
            variants = data["variants"]
            if not isinstance(variants, dict) or not variants:
                raise SpaceError("variants", "must map variant names to templates (base, each_stage, genotype)")
            templates = {}
            for label, spec in variants.items():
                if not isinstance(spec, dict):
                    raise SpaceError(f"variants.{label}", "must be a template mapping (base, each_stage, genotype)")
                templates[str(label)] = _template(spec, folder, f"variants.{label}", source)
        else:
            templates = {"": _template({k: data[k] for k in TEMPLATE_KEYS if k in data}, folder, "", source)}
        genes: list[Gene] = []
        roots = {}
        for label, template in templates.items():
            where = f"variants.{label}" if label else ""
            try:
                _check_fields(template, [Genotype], "")
            except SpaceError as err:
                raise err.under(where) from None
            compiler = _Compiler(len(template["stages"]))
            suffix, conditions = (f"@{label}", ((VARIANT_PARAM, label),)) if label else ("", ())
            roots[label] = compiler.node(template, "", conditions, suffix)
            genes += compiler.genes
        if len(templates) > 1:
            root: Node = Choice("", None, name=VARIANT_PARAM, options=list(roots.values()), labels=list(roots), raw=list(roots))
            genes.insert(0, root)  # type: ignore[arg-type]
        else:
            root = roots[""] if "" in roots else next(iter(roots.values()))
        cls._tie(genes)
        return cls(name, root, genes, tuple(anchors), str(data.get("description", "")), source)

    @staticmethod
    def _tie(genes: list[Gene]) -> None:
        """Give tied genes one parameter name and check their domains agree; refuse name clashes."""
        groups: dict[str, list[Gene]] = {}
        for gene in genes:
            if gene.tie:
                groups.setdefault(gene.tie, []).append(gene)
        for tie, members in groups.items():
            first = members[0]
            for other in members[1:]:
                if other.signature() != first.signature():
                    raise SpaceError(other.path, f"tie {tie!r} joins genes with different domains: {first.domain()} at {first.path}, {other.domain()} here")
            name = _tied_name(members, tie)
            for gene in members:
                gene.name = name
        owners: dict[str, Gene] = {}
        for gene in genes:
            if isinstance(gene, Expr):
                continue
            holder = owners.setdefault(gene.name, gene)
            if holder is not gene and not (gene.tie and gene.tie == holder.tie):
                raise SpaceError(gene.path, f"parameter name {gene.name!r} is used twice; rename a tie")

    # ------------------------------------------------------------------ sampling
    def check_expressions(self) -> None:
        """Evaluate every expression at the lowest and at the highest value of every gene, so that one that
        always fails (out of bounds, a missing field) is refused when the space loads, not in every trial."""
        if any(isinstance(gene, Expr) for gene in self._genes):
            for end in (0, -1):
                self.sample_dict(_EndTrial(end))

    def sample(self, trial: Any) -> Genotype:
        """A genotype from an Optuna trial (define-by-run); raises InvalidSample when validation refuses it.

        The reason is also stored as the trial's user attribute "invalid" so the runner can count it.
        """
        data = self.sample_dict(trial)
        try:
            genotype = genotype_from_dict(data)
        except GenotypeError as err:
            if hasattr(trial, "set_user_attr"):
                trial.set_user_attr("invalid", str(err))
            raise InvalidSample(err.path, err.reason) from None
        return genotype.model_copy(update={"name": f"{self.name}-{genotype.id}"})

    def sample_dict(self, trial: Any) -> dict[str, Any]:
        """The sampled genotype as a plain dict, before validation."""
        values: dict[str, Any] = {}
        raw = self._draw(self.root, trial, values)
        return _Resolver(raw).tree(raw)

    def _draw(self, node: Node, trial: Any, values: dict[str, Any]) -> Any:
        if isinstance(node, Fixed):
            return node.value  # shared; _Resolver.tree copies every container
        if isinstance(node, Mapping):
            return {k: self._draw(v, trial, values) for k, v in node.items.items()}
        if isinstance(node, Sequence):
            return [self._draw(v, trial, values) for v in node.items]
        if isinstance(node, Expr):
            return _Pending(node)
        assert isinstance(node, Gene)
        if node.name not in values:
            values[node.name] = node.suggest(trial)
        value = values[node.name]
        if isinstance(node, Choice):
            try:
                index = node.index(value)
            except ValueError:
                raise SpaceError(node.path, f"parameter {node.name!r} = {value!r} is not among {node.domain()}") from None
            return self._draw(node.options[index], trial, values)
        if isinstance(node, Subset):
            if value not in node.labels:
                raise SpaceError(node.path, f"parameter {node.name!r} = {value!r} is not a {node.domain()}")
            return json.loads(value)
        return value

    # ------------------------------------------------------------------ encode / contains
    def encode(self, genotype: Genotype) -> dict[str, Any]:
        """Parameters that sample `genotype` back (same id); raises SpaceError naming the first gene it falls outside."""
        target = canonical_dict(genotype)
        params: dict[str, Any] = {}
        try:
            self._match(self.root, target, params, "")
        except _Mismatch as err:
            raise SpaceError(err.path, f"{err.reason} (space {self.name})") from None
        from optuna.trial import FixedTrial

        try:
            got = self.sample(FixedTrial(params))
        except InvalidSample as err:
            raise SpaceError(err.path, f"the space's expressions give an invalid genotype here: {err.reason}") from None
        if got.id != genotype.id:
            ours = {k: v for k, v in canonical_dict(got).items() if k not in PROVENANCE_FIELDS}
            diff = _first_difference(ours, {k: v for k, v in target.items() if k not in PROVENANCE_FIELDS})
            path, ours, theirs = diff if diff else ("", None, None)
            raise SpaceError(path, f"the genotype has {theirs!r}; the space gives {ours!r} (space {self.name})")
        return params

    def contains(self, genotype: Genotype) -> bool:
        """Whether some parameters sample exactly `genotype` (same id)."""
        try:
            self.encode(genotype)
        except SpaceError:
            return False
        return True

    def _match(self, node: Node, value: Any, params: dict[str, Any], path: str) -> None:
        if isinstance(node, Fixed):
            if not _same(node.value, value):
                raise _Mismatch(path, f"the genotype has {value!r}; the space fixes {node.value!r}")
            return
        if isinstance(node, Mapping):
            if not isinstance(value, dict):
                raise _Mismatch(path, f"the genotype has {value!r}; the space has a mapping")
            for key, child in node.items.items():
                if not path and key in PROVENANCE_FIELDS:
                    continue
                if key not in value:
                    raise _Mismatch(join_path(path, key), "the space sets a field the genotype does not have")
                self._match(child, value[key], params, join_path(path, key))
            return
        if isinstance(node, Sequence):
            if not isinstance(value, list) or len(value) != len(node.items):
                raise _Mismatch(path, f"the genotype has {value!r}; the space has {len(node.items)} entries")
            for i, child in enumerate(node.items):
                self._match(child, value[i], params, f"{path}[{i}]")
            return
        if isinstance(node, Expr):
            return  # checked by sampling the parameters back
        assert isinstance(node, Gene)
        if isinstance(node, Choice):
            self._match_choice(node, value, params, path)
            return
        try:
            param = node.param_of(value)
        except ValueError as err:
            raise _Mismatch(path, str(err)) from None
        self._bind(node, param, params, path)

    def _match_choice(self, node: Choice, value: Any, params: dict[str, Any], path: str) -> None:
        kind = value.get("kind") if isinstance(value, dict) else None
        order = [i for i, o in enumerate(node.raw) if not (isinstance(o, dict) and "kind" in o and o["kind"] != kind)]
        failure: _Mismatch | None = None
        for i in order:
            trial = dict(params)
            try:
                self._bind(node, node.labels[i], trial, path)
                self._match(node.options[i], value, trial, path)
            except _Mismatch as err:
                failure = failure or err
                continue
            params.clear()
            params.update(trial)
            return
        if failure is not None and (kind is not None or len(order) == 1):
            raise failure
        shown = value.get("kind") if isinstance(value, dict) else value
        raise _Mismatch(path, f"the genotype has {shown!r}, not among {node.domain()}")

    @staticmethod
    def _bind(gene: Gene, param: Any, params: dict[str, Any], path: str) -> None:
        if gene.name in params and not _same(params[gene.name], param):
            raise _Mismatch(path, f"tied gene {gene.name!r} is {params[gene.name]!r} elsewhere but {param!r} here")
        params[gene.name] = param

    # ------------------------------------------------------------------ description
    def genes(self) -> list[GeneInfo]:
        """One entry per parameter (tied genes once), then the derived values, in sampling order."""
        infos: dict[str, GeneInfo] = {}
        for gene in self._genes:
            key = f"={gene.name}" if isinstance(gene, Expr) else gene.name
            condition = " and ".join(f"{n}={'null' if v is None else v}" for n, v in gene.conditions)
            if key in infos:
                old = infos[key]
                infos[key] = GeneInfo(old.name, old.kind, old.domain, old.paths + (gene.path,), old.condition, old.count)
                continue
            infos[key] = GeneInfo(gene.name or gene.path, gene.kind, gene.domain(), (gene.path,), condition, gene.count())
        return list(infos.values())

    def log10_size(self) -> tuple[float, str]:
        """log10 of the number of distinct parameter assignments, and "counted" or "estimated".

        Counted exactly over the tree (a choice sums its options, everything else multiplies); a tied gene
        counts once. Estimated (an upper bound) when a tied gene sits inside a conditional branch, since
        it may then be counted where it is not active. Infinite with a continuous float gene.
        """
        groups: dict[str, list[Gene]] = {}
        for gene in self._genes:
            if gene.tie:
                groups.setdefault(gene.name, []).append(gene)
        exact = all(any(not g.conditions for g in members) for members in groups.values())
        spec_ties = {n: m for n, m in groups.items() if isinstance(m[0], Choice) and _has_inner_genes(m[0])}
        log = sum(math.log10(m[0].count()) for n, m in groups.items() if n not in spec_ties)
        if spec_ties:
            log += _log10_spec_ties(self.root, spec_ties, set(groups))
        else:
            log += _log10(self.root, set(groups))
        return log, "counted" if exact else "estimated"


def _has_inner_genes(choice: Choice) -> bool:
    return any(not isinstance(o, Fixed) for o in choice.options)


def _log10(node: Node, tied: set[str], fixed: dict[str, int] | None = None) -> float:
    """log10 count of a subtree; tied genes count 1 here (their factor is added once by the caller)."""
    if isinstance(node, Fixed) or isinstance(node, Expr):
        return 0.0
    if isinstance(node, (Mapping, Sequence)):
        items = node.items.values() if isinstance(node, Mapping) else node.items
        return sum(_log10(c, tied, fixed) for c in items)
    assert isinstance(node, Gene)
    if isinstance(node, Choice):
        if fixed is not None and node.name in fixed:
            return _log10(node.options[fixed[node.name]], tied, fixed)
        logs = [_log10(o, tied, fixed) for o in node.options]
        return max(logs) if node.name in tied else _log_sum(logs)
    count = node.count()
    if math.isinf(count):
        return math.inf
    return 0.0 if node.name in tied else math.log10(count)


def _log10_spec_ties(root: Node, spec_ties: dict[str, list[Gene]], tied: set[str]) -> float:
    """Sum over every label combination of the tied spec choices (their branches differ per label)."""
    names = list(spec_ties)
    combos = itertools.product(*(range(len(spec_ties[n][0].labels)) for n in names))
    return _log_sum([_log10(root, tied, dict(zip(names, combo))) for combo in combos])


def _log_sum(logs: list[float]) -> float:
    """log10 of a sum of numbers given as log10s."""
    top = max(logs)
    if math.isinf(top):
        return math.inf
    return top + math.log10(sum(10 ** (x - top) for x in logs))


def _same(a: Any, b: Any) -> bool:
    """Equality of JSON values where 4 == 4.0 but True != 1."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b
