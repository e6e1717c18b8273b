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

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from archspace import safeload
from archspace.errors import GenotypeError
from archspace.genotype.io import PROVENANCE_FIELDS, canonical_dict, genotype_from_dict
from archspace.genotype.schema import Genotype
from archspace.search.compiler import Compiler, tied_name
from archspace.search.encode import Mismatch, match
from archspace.search.genes import Choice, Expr, Fixed, Gene, Mapping, Node, Sequence, SpaceError, Subset
from archspace.search.resolve import EndTrial, Pending, Resolver, first_difference
from archspace.search.space_size import log10_size
from archspace.search.templates import TEMPLATE_KEYS, build_template, check_fields

__all__ = ["Gene", "GeneInfo", "InvalidSample", "SearchSpace", "SpaceError"]

TOP_KEYS = ("name", "description", "anchors", "base", "each_stage", "genotype", "variants")
VARIANT_PARAM = "variant"
MAX_SPACE_BYTES = 2**20  # the shipped spaces are 2-3 KB


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
                templates[str(label)] = build_template(spec, folder, f"variants.{label}", source)
        else:
            templates = {"": build_template({k: data[k] for k in TEMPLATE_KEYS if k in data}, folder, "", source)}
        genes: list[Gene] = []
        roots = {}
        for label, template in templates.items():
            where = f"variants.{label}" if label else ""
            try:
                check_fields(template, [Genotype], "")
            except SpaceError as err:
                raise err.under(where) from None
            compiler = Compiler(len(template["stages"]))
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
            name = tied_name(members, tie)
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
                self.sample_dict(EndTrial(end))

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
        return Resolver(raw).tree(raw)

    def _draw(self, node: Node, trial: Any, values: dict[str, Any]) -> Any:
        if isinstance(node, Fixed):
            return node.value  # shared; Resolver.tree copies every container
        if isinstance(node, Mapping):
            return {k: self._draw(v, trial, values) for k, v in node.items.items()}
        if isinstance(node, Sequence):
            return [self._draw(v, trial, values) for v in node.items]
        if isinstance(node, Expr):
            return Pending(node)
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
            match(self.root, target, params, "")
        except Mismatch as err:
            raise SpaceError(err.path, f"{err.reason} (space {self.name})") from None
        from optuna.trial import FixedTrial

        try:
            got = self.sample(FixedTrial(params))
        except InvalidSample as err:
            raise SpaceError(err.path, f"the space's expressions give an invalid genotype here: {err.reason}") from None
        if got.id != genotype.id:
            ours = {k: v for k, v in canonical_dict(got).items() if k not in PROVENANCE_FIELDS}
            diff = first_difference(ours, {k: v for k, v in target.items() if k not in PROVENANCE_FIELDS})
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
        """log10 of the number of distinct parameter assignments, and "counted" or "estimated" (see space_size)."""
        return log10_size(self.root, self._genes)

