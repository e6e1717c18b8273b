"""`archspace plan`: a genotype's resolved genes and, stage by stage and block by block, map sizes,
channels, ops and analytic params/FLOPs; for an invalid genotype, everything up to the failing field.

Torch-free: it reads the shape plan and the analytic closed forms only.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from pydantic import BaseModel

from archspace.cost.analytic.core import Cost, cost_of, norm
from archspace.errors import GenotypeError
from archspace.genotype.base import Shape
from archspace.genotype.plan import PlanProgress, plan_until_error
from archspace.genotype.schema import Genotype


@dataclass(frozen=True)
class PlanRow:
    """One line of the plan: a layer's field path, op, input and output maps, params and FLOPs."""

    where: str
    op: str
    input: str
    output: str
    params: int | None
    flops: int | None


@dataclass(frozen=True)
class Explanation:
    """The resolved genotype, the rows planned before any error, and the error (marked at its field)."""

    name: str
    image: str
    genotype: dict[str, Any]
    rows: list[PlanRow]
    error: str | None = None
    error_path: str | None = None

    @property
    def total(self) -> Cost:
        return Cost(sum(r.params or 0 for r in self.rows), sum(r.flops or 0 for r in self.rows))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "image": self.image, "genotype": self.genotype, "rows": [asdict(r) for r in self.rows],
            "params": self.total.params, "flops": self.total.flops, "error": self.error, "error_path": self.error_path,
        }


def shape_text(x: Shape | None) -> str:
    return "" if x is None else f"{x.channels}x{x.height}x{x.width}"


def describe(spec: BaseModel | None) -> str:
    """`kind gene=value ...` with the genes that differ from their defaults."""
    if spec is None:
        return "-"
    genes = []
    for name, f in type(spec).model_fields.items():
        value = getattr(spec, name)
        if name == "kind" or (not f.is_required() and value == f.get_default(call_default_factory=True)):
            continue
        if isinstance(value, BaseModel):
            value = f"({describe(value)})"
        elif isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
            value = "[" + ", ".join(describe(v) for v in value) + "]"
        genes.append(f"{name}={json.dumps(value, default=str).replace(' ', '')}" if not isinstance(value, str) else f"{name}={value}")
    kind = getattr(spec, "kind", None)
    return " ".join(([kind] if kind else []) + genes)


def _block_rows(genotype: Genotype, progress: PlanProgress, stage_index: int, blocks, costs: bool) -> list[PlanRow]:
    stage = genotype.stages[stage_index]
    rows = []
    for b in blocks:
        c = cost_of(stage.block, stage, b) if costs else None
        op = f"{stage.block.kind}: {describe(stage.mixer)}" + (f" + {describe(stage.ffn)}" if stage.ffn is not None else "")
        rows.append(PlanRow(f"stages[{stage_index}].blocks[{b.index}]", op, shape_text(b.input), shape_text(b.output),
                            c.params if c else None, c.flops if c else None))
    return rows


def explain(genotype: Genotype, size: int | tuple[int, int] | None = None) -> Explanation:
    """Plan `genotype` (checked only for structure) at its size or `size`, as far as it is valid."""
    progress, error = plan_until_error(genotype, size)
    rows: list[PlanRow] = []
    if progress.stem is not None:
        c = cost_of(genotype.stem, progress.image)
        rows.append(PlanRow("stem", describe(genotype.stem), shape_text(progress.image), shape_text(progress.stem), c.params, c.flops))
    for i, sp in enumerate(progress.stages):
        stage = genotype.stages[i]
        d = cost_of(stage.downsample, sp.input, sp.downsampled)
        rows.append(PlanRow(f"stages[{i}].downsample", describe(stage.downsample), shape_text(sp.input), shape_text(sp.downsampled), d.params, d.flops))
        rows += _block_rows(genotype, progress, i, sp.blocks, True)
        if stage.out_norm != "none":
            o = sp.output
            n = norm(stage.out_norm, o.channels, o.height, o.width)
            rows.append(PlanRow(f"stages[{i}].out_norm", stage.out_norm, shape_text(o), shape_text(o), n.params, n.flops))
    if error is None:
        last = progress.stages[-1].output
        h = cost_of(genotype.head, last, genotype.num_classes)
        embedding = getattr(genotype.head, "embedding_size", None)
        out = f"{embedding} (embedding)" if embedding and not genotype.num_classes else str(genotype.num_classes)
        rows.append(PlanRow("head", describe(genotype.head), shape_text(last), out, h.params, h.flops))
    else:
        i = len(progress.stages)
        if progress.downsampled is not None and i < len(genotype.stages):
            stage = genotype.stages[i]
            d = cost_of(stage.downsample, progress.entering, progress.downsampled)
            rows.append(PlanRow(f"stages[{i}].downsample", describe(stage.downsample), shape_text(progress.entering),
                                shape_text(progress.downsampled), d.params, d.flops))
            rows += _block_rows(genotype, progress, i, progress.current, True)
            failing = progress.current[-1].output if progress.current else progress.downsampled
            rows.append(PlanRow(f"stages[{i}].blocks[{len(progress.current)}]", describe(stage.mixer), shape_text(failing), "", None, None))
        elif progress.entering is not None and i < len(genotype.stages):
            rows.append(PlanRow(f"stages[{i}].downsample", describe(genotype.stages[i].downsample), shape_text(progress.entering), "", None, None))
    image = f"{progress.image.height}x{progress.image.width}"
    return Explanation(genotype.name, image, genotype.model_dump(mode="json"), rows,
                       None if error is None else str(error), None if error is None else error.path)


def stage_lines(genotype: Genotype) -> list[str]:
    """The resolved genotype, one line per part (every gene whose value differs from its default shown)."""
    g = genotype
    lines = [f"input         {g.in_chans}x{g.image_size}x{g.image_size}, {g.num_classes} classes, drop_path_rate {g.drop_path_rate}",
             f"stem          {describe(g.stem)}"]
    for i, s in enumerate(g.stages):
        lines.append(f"stages[{i}]     depth {s.depth}, {s.channels} ch, norm {s.norm}, act {s.act}, out_norm {s.out_norm}"
                     + (f", drop_path {s.drop_path}" if s.drop_path is not None else ""))
        lines.append(f"  downsample  {describe(s.downsample)}")
        lines.append(f"  block       {describe(s.block)}")
        lines.append(f"  mixer       {describe(s.mixer)}")
        lines.append(f"  ffn         {describe(s.ffn)}")
    lines.append(f"head          {describe(g.head)}")
    return lines


def parse_size(text: str) -> int | tuple[int, int]:
    """'256' -> 256, '800x1216' -> (800, 1216); one-line error otherwise."""
    parts = text.lower().split("x")
    if len(parts) in (1, 2) and all(p.isdigit() and int(p) > 0 for p in parts):
        return int(parts[0]) if len(parts) == 1 else (int(parts[0]), int(parts[1]))
    raise GenotypeError("--img-size", f"expected S or HxW with positive integers, got {text!r}")


def _num(n: int | None, unit: float, suffix: str) -> str:
    return "" if n is None else f"{n / unit:.3f}{suffix}"


def run_plan(args) -> int:
    """Print the resolved genotype and its plan; exit 2, with the failing field marked, when it is invalid."""
    import sys

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from archspace.genotype.io import load_genotype

    genotype = load_genotype(args.file, structure_only=True)
    size = parse_size(args.img_size) if args.img_size else None
    explanation = explain(genotype, size)
    if args.json:
        print(json.dumps(explanation.to_dict()))
    else:
        console = Console(width=160)
        console.print(f"[bold]{escape(genotype.name)}[/bold]  id {genotype.id}  planned at {explanation.image}", highlight=False)
        for line in stage_lines(genotype):
            console.print(line, highlight=False, markup=False)
        table = Table(title="plan (analytic params and FLOPs, one FLOP = one multiply-add)")
        for i, col in enumerate(["layer", "op", "input", "output", "params", "FLOPs"]):
            table.add_column(col, justify="right" if i >= 4 else "left", overflow="fold")
        for row in explanation.rows:
            table.add_row(escape(row.where), escape(row.op), row.input, row.output, _num(row.params, 1e6, "M"), _num(row.flops, 1e9, "G"))
        if explanation.error is None:
            total = explanation.total
            table.add_row("total", "", "", "", _num(total.params, 1e6, "M"), _num(total.flops, 1e9, "G"), style="bold")
        else:
            table.add_row(escape(f"✗ {explanation.error_path}"), escape(explanation.error.split(": ", 1)[-1]), "", "", "", "", style="bold red")
        console.print(table)
    if explanation.error is not None:
        print(f"archspace: error: {args.file}: {explanation.error}", file=sys.stderr)
        return 2
    return 0
