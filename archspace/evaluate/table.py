"""The `table` evaluator: score = the stand-alone accuracy a trained-architecture table recorded (`archspace bench build`).

As NAS-Bench-201 users do, a search looks each architecture up instead of training it: instant, and the score is
the trained accuracy itself (mean over the seeds the table trained). The search's data must be the table's task;
an architecture the table lacks is refused in one line.
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from statistics import fmean
from typing import Any, Literal

from pydantic import Field

from archspace.digest import file_sha256
from archspace.errors import ArchspaceError
from archspace.evaluate.registry import BaseEvaluator, EvaluatorConfig, Report, SetupContext, register_evaluator

ROWS_FILE = "rows.jsonl"
PROTOCOL_FILE = "protocol.json"


def read_rows(folder: str | Path) -> list[dict[str, Any]]:
    """Every complete row of a table folder's rows.jsonl (a torn or damaged line is skipped)."""
    path = Path(folder) / ROWS_FILE
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "arch_id" in row and "seed" in row:
            out.append(row)
    return out


class TableEvaluatorConfig(EvaluatorConfig):
    """Score = an accuracy recorded in a trained-architecture table (mean over its seeds)."""

    kind: Literal["table"] = "table"
    path: str = Field(description="the table folder (protocol.json and rows.jsonl, as `archspace bench build` writes them)")
    metric: Literal["val_acc", "test_acc"] = Field("val_acc", description="which recorded accuracy is the score")


@register_evaluator
class TableEvaluator(BaseEvaluator):
    """Looks each (task-adapted) genotype up by id in the table's rows."""

    config_class = TableEvaluatorConfig
    cfg: TableEvaluatorConfig
    score_is_accuracy = True

    @property
    def score_name(self) -> str:
        return f"table {'validation' if self.cfg.metric == 'val_acc' else 'test'} accuracy"

    def setup(self, ctx: SetupContext) -> None:
        folder = Path(self.cfg.path)
        rows = read_rows(folder)
        if not rows:
            raise ArchspaceError(f"evaluator.path: {folder} holds no table rows (build one with `archspace bench build`)")
        data = json.loads((folder / PROTOCOL_FILE).read_text(encoding="utf-8")).get("data", {})
        bundle = ctx.bundle
        if bundle is not None and (data.get("name"), data.get("image_size") or bundle.image_size) != (bundle.name, bundle.image_size):
            raise ArchspaceError(f"evaluator.path: the table was trained on {data.get('name')} "
                                 f"(image_size {data.get('image_size') or 'native'}), the search's data is {bundle.name} at {bundle.image_size} px")
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            grouped[row["adapted_id"]].append(row)
        self.rows = dict(grouped)

    def fingerprint(self) -> str | None:
        """The sha256 of rows.jsonl (None while there is none): a table rebuilt or extended in the same folder may
        record other accuracies, so published rows cached from the old rows must not be reused."""
        path = Path(self.cfg.path) / ROWS_FILE
        return file_sha256(path) if path.is_file() else None

    def evaluate(self, genotype, bundle, seed: int = 0, device: Any = "cpu", report: Report | None = None) -> dict[str, float]:
        rows = getattr(self, "rows", None)
        if rows is None:
            raise ArchspaceError("table evaluator: setup() was not run")
        found = rows.get(genotype.id)
        if found is None:
            raise ArchspaceError(f"table: architecture {genotype.id[:12]} is not in {self.cfg.path} ({len(rows)} architectures)")
        return {
            "score": fmean(float(r[self.cfg.metric]) for r in found),
            "val_acc": fmean(float(r["val_acc"]) for r in found),
            "test_acc": fmean(float(r["test_acc"]) for r in found),
            "table_seeds": float(len(found)),
            "table_train_s": fmean(float(r["train_s"]) for r in found),
        }
