"""Export: ONNX checked in onnxruntime and torch.export programs, both with a dynamic batch axis; torch.compile."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

import archspace
from archspace.cli import main
from archspace.export import export_genotype
from archspace.genotype.io import dump_genotype, genotype_from_dict
from archspace.zoo import zoo_genotype, zoo_names


def kinds(genotype) -> tuple:
    """Every spec kind a genotype uses (stem, head, and per stage mixer, FFN, block, downsample, norm, act)."""
    parts = {genotype.stem.kind, genotype.head.kind}
    for s in genotype.stages:
        parts |= {s.mixer.kind, s.ffn.kind if s.ffn else "-", s.block.kind, s.downsample.kind, s.norm, s.act, s.out_norm}
    return tuple(sorted(parts))


def representatives() -> list[str]:
    """One zoo genotype (the shallowest) per distinct set of kinds: every op, block and layout the zoo traces.

    Zoo entries that differ only in widths, depths or genes trace to the same graph structure;
    exporting or compiling all 39 at 224 px would take the slow suite past its budget on 2 cores.
    """
    best: dict[tuple, str] = {}
    for name in zoo_names():
        g = zoo_genotype(name)
        key = kinds(g)
        if key not in best or sum(s.depth for s in g.stages) < sum(s.depth for s in zoo_genotype(best[key]).stages):
            best[key] = name
    return sorted(best.values())


def tiny(mixer: dict, ffn: dict | None = None):
    """One 8x8 stage around one mixer at 32 px."""
    return genotype_from_dict({"name": "tiny", "image_size": 32, "num_classes": 5, "stem": {"kind": "patchify", "channels": 16, "patch": 4},
                               "stages": [{"depth": 2, "channels": 16, "mixer": mixer, "ffn": ffn or {"kind": "mlp", "ratio": 2}, "norm": "batchnorm"}]})


def test_cli_exports_onnx_and_a_program_with_a_dynamic_batch(tmp_path, capsys):
    path = tmp_path / "g.json"
    dump_genotype(tiny({"kind": "dmixer", "heads": 1, "sr_stride": 2}, {"kind": "msffn"}), path)  # IDConv: per-sample kernels
    assert main(["export", str(path), "--onnx", str(tmp_path / "g.onnx"), "--exported-program", str(tmp_path / "g.pt2")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].startswith("onnx") and "at batch 3" in out[0] and out[1].startswith("exported-program")
    assert all(float(line.split("PyTorch ")[1].split()[0]) <= 1e-4 for line in out)
    import onnx

    dims = onnx.load(str(tmp_path / "g.onnx")).graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, 32, 32]


def test_export_refuses_a_difference_above_the_tolerance(tmp_path):
    with pytest.raises(archspace.ArchspaceError, match="differs from PyTorch by"):
        export_genotype(tiny({"kind": "swin", "heads": 2, "window": 4}), program=str(tmp_path / "g.pt2"), atol=-1.0)


def test_missing_export_extra_is_one_line(tmp_path):
    path = tmp_path / "g.json"
    dump_genotype(tiny({"kind": "dwconv", "kernel": 3}), path)
    code = "import sys; sys.modules['onnxruntime'] = None; from archspace.cli import main; sys.exit(main(sys.argv[1:]))"
    result = subprocess.run([sys.executable, "-c", code, "export", str(path), "--onnx", str(tmp_path / "g.onnx")], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.strip() == 'archspace: error: ONNX export needs onnxruntime, from the export extra: pip install -e ".[export]"'


@pytest.mark.heavy
@pytest.mark.parametrize("name", representatives())
def test_zoo_genotypes_export_within_1e4(name, tmp_path):
    checks = export_genotype(zoo_genotype(name), onnx=str(tmp_path / "m.onnx"), program=str(tmp_path / "m.pt2"))
    assert [c.format for c in checks] == ["onnx", "exported-program"] and all(c.max_abs_diff <= 1e-4 for c in checks)


@pytest.mark.heavy
@pytest.mark.parametrize("name", representatives())
def test_zoo_genotypes_compile_without_graph_breaks(name):
    """Dynamo captures each network whole (fullgraph) and AOT autograd runs it; inductor's codegen is torch's own."""
    torch._dynamo.reset()  # each network compiles from scratch: recompiles of the shared forward must not pile up across tests
    genotype = zoo_genotype(name)
    model = archspace.build(genotype).eval()
    x = torch.randn(1, genotype.in_chans, genotype.image_size, genotype.image_size)
    with torch.no_grad():
        assert torch.allclose(torch.compile(model, fullgraph=True, backend="aot_eager")(x), model(x), atol=1e-4)


@pytest.mark.slow
def test_inductor_compiles_the_size_following_ops():
    model = archspace.build(tiny({"kind": "hmhsa", "grids": [4, None], "heads": 2}), dynamic_img_size=True).eval()
    x = torch.randn(2, 3, 40, 40)  # 10x10 map: padded to the 4-token grid cells
    with torch.no_grad():
        assert torch.allclose(torch.compile(model, fullgraph=True)(x), model(x), atol=1e-4)
