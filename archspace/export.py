"""`archspace export`: a genotype's network as ONNX (checked in onnxruntime) or a torch.export ExportedProgram.

Both have a dynamic batch axis. Before reporting success each file is loaded back and run at a batch size
other than the traced one, and its output compared with PyTorch's (max abs difference within `atol`).
"""
from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from archspace.builder import ArchNet, build
from archspace.errors import ArchspaceError
from archspace.genotype import Genotype

EXTRA = 'pip install -e ".[export]"'
TRACE_BATCH, CHECK_BATCH = 2, 3


@dataclass(frozen=True)
class ExportCheck:
    """One exported file and how far its output is from PyTorch's."""

    format: str
    path: str
    max_abs_diff: float
    batch_checked: int


def require_export_extra() -> None:
    """One line naming the extra when onnx / onnxscript / onnxruntime are missing."""
    for name in ("onnx", "onnxscript", "onnxruntime"):
        try:
            importlib.import_module(name)
        except ImportError:
            raise ArchspaceError(f"ONNX export needs {name}, from the export extra: {EXTRA}") from None


def _dynamic_batch():
    return {"x": {0: torch.export.Dim("batch", min=1, max=4096)}}


def _reference(model: ArchNet, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model(x)


def _check(fmt: str, path: Path, got: torch.Tensor, want: torch.Tensor, atol: float) -> ExportCheck:
    diff = (got.float() - want.float()).abs().max().item()
    if not diff <= atol:
        raise ArchspaceError(f"{fmt} export of {path} differs from PyTorch by {diff:.3g} (> {atol:g}); the file is not trustworthy")
    return ExportCheck(fmt, str(path), diff, want.shape[0])


def export_onnx(model: ArchNet, path: Path, size: tuple[int, int], atol: float = 1e-4, opset: int = 18) -> ExportCheck:
    """torch.onnx (dynamo) export with a dynamic batch axis, then onnxruntime vs PyTorch at another batch."""
    require_export_extra()
    import onnxruntime

    x = torch.randn(TRACE_BATCH, model.genotype.in_chans, *size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (x,), dynamo=True, dynamic_shapes=_dynamic_batch(), input_names=["image"],
                                    output_names=["output"], opset_version=opset, verbose=False, report=False)
    program.save(str(path))
    check = torch.randn(CHECK_BATCH, model.genotype.in_chans, *size)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = torch.from_numpy(session.run(None, {"image": check.numpy()})[0])
    return _check("onnx", path, got, _reference(model, check), atol)


def export_program(model: ArchNet, path: Path, size: tuple[int, int], atol: float = 1e-4) -> ExportCheck:
    """torch.export with a dynamic batch axis, saved as .pt2, loaded back and compared at another batch."""
    x = torch.randn(TRACE_BATCH, model.genotype.in_chans, *size)
    program = torch.export.export(model, (x,), dynamic_shapes=_dynamic_batch())
    torch.export.save(program, str(path))
    check = torch.randn(CHECK_BATCH, model.genotype.in_chans, *size)
    with torch.no_grad():
        got = torch.export.load(str(path)).module()(check)
    return _check("exported-program", path, got, _reference(model, check), atol)


def export_genotype(genotype: Genotype, onnx: str | None = None, program: str | None = None,
                    img_size: int | tuple[int, int] | None = None, atol: float = 1e-4) -> list[ExportCheck]:
    """Build `genotype` (eval mode, at its size or `img_size`) and write the requested files, each checked."""
    if onnx is None and program is None:
        raise ArchspaceError("nothing to export: give --onnx FILE and/or --exported-program FILE")
    if onnx is not None:
        require_export_extra()
    torch.manual_seed(0)
    model = build(genotype, img_size=img_size).eval()
    size = model.img_size
    checks = []
    if onnx is not None:
        checks.append(export_onnx(model, Path(onnx), size, atol))
    if program is not None:
        checks.append(export_program(model, Path(program), size, atol))
    return checks


def run_export(args) -> int:
    """The CLI command: export, check, print one line per file."""
    from archspace.explain import parse_size
    from archspace.genotype.io import load_genotype

    genotype = load_genotype(args.file)
    size = parse_size(args.img_size) if args.img_size else None
    for check in export_genotype(genotype, args.onnx, args.exported_program, size, args.atol):
        print(f"{check.format:17s} {check.path}  max |diff| vs PyTorch {check.max_abs_diff:.2e} at batch {check.batch_checked} "
              f"(dynamic batch axis; tolerance {args.atol:g})")
    return 0
