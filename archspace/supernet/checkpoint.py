"""A trained supernet's folder: `checkpoint.pt` (written atomically after every epoch) and `supernet.json`.

checkpoint.pt holds the layout (shapes of the shared tensors), the state_dict, the optimizer state, the
epochs done, the training config and where the space and data came from; supernet.json repeats the
readable part. A run killed at any moment resumes from the last complete epoch.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from archspace.atomic import write_json
from archspace.errors import ArchspaceError
from archspace.supernet.supernet import Supernet
from archspace.weights.checkpoint import load_torch_checkpoint, save_torch_checkpoint

CHECKPOINT = "checkpoint.pt"
META = "supernet.json"


def save(folder: Path, supernet: Supernet, optimizer_state: dict | None, meta: dict[str, Any]) -> None:
    """Write the checkpoint, then the readable summary, each atomically."""
    save_torch_checkpoint(folder / CHECKPOINT, {"layout": supernet.layout(), "state_dict": supernet.state_dict(), "optimizer": optimizer_state, "meta": meta})
    write_json(folder / META, meta)


def read(folder: str | Path) -> dict[str, Any] | None:
    """The checkpoint of `folder`, or None when there is none yet."""
    path = Path(folder) / CHECKPOINT
    if not path.is_file():
        return None
    return load_torch_checkpoint(path, "supernet checkpoint")


def load(folder: str | Path) -> tuple[Supernet, dict[str, Any]]:
    """The trained supernet of `folder` (eval mode) and its meta (space, data, epochs done)."""
    state = read(folder)
    if state is None:
        raise ArchspaceError(f"{folder}: no {CHECKPOINT}; train one with `archspace supernet train CONFIG --out {folder}`")
    supernet = Supernet.from_layout(state["layout"])
    supernet.load_state_dict(state["state_dict"])
    return supernet.eval(), state["meta"]


def width_divisor(folder: str | Path) -> int:
    """The width divisor `folder`'s supernet was trained at, from its supernet.json (no weights loaded)."""
    import json

    path = Path(folder) / META
    try:
        return int(json.loads(path.read_text(encoding="utf-8"))["config"]["width_divisor"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ArchspaceError(f"evaluator.checkpoint: cannot read the width divisor from {path} ({type(err).__name__}: {err}); "
                             "give evaluator.width_divisor") from None
