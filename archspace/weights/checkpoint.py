"""Read a torch checkpoint without running code from it, and write one atomically: the one loader and the one
writer of torch files (official weights, converted state_dicts, supernet checkpoints, extracted subnets).

`torch.load(weights_only=True)` unpickles only tensors and plain containers. Raw training checkpoints also
hold their run's settings: timm's CheckpointSaver and the STM-evaluation / ConvNeXt `save_model` store the
argparse.Namespace of the command line under `args`, and a metric may be a numpy scalar. Those few
classes are allowed (they rebuild from plain data; nothing of theirs runs); anything else a checkpoint
pickles is named in the error, which differs from the one for a file that is no checkpoint at all.
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from archspace.atomic import write_bytes
from archspace.errors import ArchspaceError

_NUMPY_CORE = getattr(np, "_core", None) or np.core


def allowed_globals() -> list[Any]:
    """The classes a checkpoint may pickle besides tensors and plain containers."""
    dtypes = [getattr(np.dtypes, name) for name in ("Float64DType", "Float32DType", "Float16DType", "Int64DType", "Int32DType", "BoolDType")]
    return [argparse.Namespace, _NUMPY_CORE.multiarray.scalar, np.dtype, *dtypes]


def _name(obj: Any) -> str:
    return f"{obj.__module__}.{obj.__qualname__}"


def _refused_globals(path: Path) -> list[str]:
    """What a zip checkpoint pickles beyond torch's safe set and ours; empty when it is no checkpoint."""
    try:
        found = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
    except Exception:  # noqa: BLE001 - not a torch zip checkpoint: the caller says so
        return []
    allowed = {_name(obj) for obj in allowed_globals()}
    return sorted(name for name in found if name not in allowed)


def load_torch_checkpoint(path: str | Path, what: str = "checkpoint") -> Any:
    """torch.load with weights_only and the allow-list above; every failure is one ArchspaceError line."""
    path = Path(path)
    if not path.is_file():
        raise ArchspaceError(f"{what}: {path} {'is a folder, not a file' if path.is_dir() else 'not found'}")
    try:
        with torch.serialization.safe_globals(allowed_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt, foreign or code-carrying file: one line, no traceback
        refused = _refused_globals(path)
        if refused:
            shown = ", ".join(refused[:4]) + (f" and {len(refused) - 4} more" if len(refused) > 4 else "")
            raise ArchspaceError(
                f"{what}: {path} is a torch checkpoint that also pickles {shown}, which loading would have to run; "
                "re-save the state_dict alone (torch.save(ckpt['state_dict'], 'weights.pth')) where you trust the file"
            ) from None
        raise ArchspaceError(f"{what}: {path} is not a readable torch checkpoint ({type(exc).__name__})") from None


def save_torch_checkpoint(path: str | Path, obj: Any) -> Path:
    """torch.save `obj` to `path` atomically (archspace.atomic): a reader or a killed run never sees half a file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return write_bytes(path, buffer.getvalue())
