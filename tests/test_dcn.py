"""DCNv3 in plain PyTorch: shapes, gradients, closed form, and what its sampling must compute."""
from __future__ import annotations

import pytest
import torch
from fvcore.nn import FlopCountAnalysis
from oputils import assert_backward, assert_op_matches_closed_form, site
from torch.nn import functional as F

import archspace
from archspace import GenotypeError
from archspace.cost import count_model
from archspace.cost.analytic import analytic_cost
from archspace.cost.analytic.families.dcn import dcnv3_sampling
from archspace.genotype import genotype_from_dict
from archspace.genotype.specs.dcn import DCNv3Mixer
from archspace.ops.dcn import DCNv3, DeformableSampling, dcnv3_sample, kernel_points
from archspace.ops.registry import build_op


@pytest.mark.parametrize(
    "spec, at",
    [
        (DCNv3Mixer(groups=2), site(16, 6, 6)),
        (DCNv3Mixer(groups=4, kernel=5, dw_kernel=5, offset_scale=0.5), site(16, 5, 7)),
        (DCNv3Mixer(groups=1), site(8, 4, 4, norm="batchnorm", act="relu")),
    ],
)
def test_shape_backward_and_closed_form(spec, at):
    module = assert_op_matches_closed_form(spec, at)
    assert_backward(module, (2, at.channels, at.shape.height, at.shape.width))


def test_closed_form_isolates_the_deformable_sampling():
    """The paper-convention count leaves out exactly the DeformableSampling module's fvcore count."""
    spec, at = DCNv3Mixer(groups=2), site(16, 6, 6)
    m = build_op(spec, at).eval()
    analysis = FlopCountAnalysis(m, torch.randn(1, 16, 6, 6)).unsupported_ops_warnings(False)
    assert analysis.by_module()["sample"] == dcnv3_sampling(spec, at).flops == 5 * 16 * 36 * 9
    assert analysis.by_operator()["grid_sampler"] == 4 * 16 * 36 * 9


def random_inputs(b=2, h=5, w=6, g=2, cg=3, p=9):
    value = torch.randn(b, h, w, g * cg)
    mask = torch.rand(g, p)
    return value, mask


def grouped_conv(value: torch.Tensor, mask: torch.Tensor, shift: tuple[int, int] = (0, 0)) -> torch.Tensor:
    """Depthwise 3x3 conv whose kernel for the channels of group g is mask[g], reading x + dx, y + dy around each
    pixel of the zero-padded map, channels-last in and out."""
    _, h, w, c = value.shape
    g = mask.shape[0]
    dx, dy = shift
    pad = 1 + max(abs(dx), abs(dy))
    weight = mask.repeat_interleave(c // g, dim=0).reshape(c, 1, 3, 3)
    out = F.conv2d(F.pad(value.permute(0, 3, 1, 2), (pad,) * 4), weight, groups=c)
    y0, x0 = pad + dy - 1, pad + dx - 1
    return out[:, :, y0 : y0 + h, x0 : x0 + w].permute(0, 2, 3, 1)


def test_zero_offsets_reproduce_a_grouped_conv_with_the_modulation_weights():
    value, mask = random_inputs()
    b, h, w, _ = value.shape
    offset = torch.zeros(b, h, w, 2, 9, 2)
    out = dcnv3_sample(value, offset, mask.expand(b, h, w, 2, 9), kernel_points(3))
    torch.testing.assert_close(out, grouped_conv(value, mask), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("shift", [(1, 0), (0, 1), (-1, 2)])
def test_integer_offsets_shift_the_sampling_grid(shift):
    """An offset of (dx, dy) on every point reads x + dx, y + dy: the x/y order and the zero padding are right."""
    value, mask = random_inputs()
    b, h, w, _ = value.shape
    offset = torch.tensor(shift, dtype=torch.float32).expand(b, h, w, 2, 9, 2)
    out = dcnv3_sample(value, offset, mask.expand(b, h, w, 2, 9), kernel_points(3))
    torch.testing.assert_close(out, grouped_conv(value, mask, shift), atol=1e-5, rtol=1e-5)


def test_half_pixel_offset_interpolates_bilinearly():
    value = torch.randn(1, 4, 4, 2)
    offset = torch.zeros(1, 4, 4, 1, 1, 2)
    offset[..., 0] = 0.5
    out = dcnv3_sample(value, offset, torch.ones(1, 4, 4, 1, 1), kernel_points(1))
    torch.testing.assert_close(out[:, :, :3], (value[:, :, :3] + value[:, :, 1:]) / 2)
    torch.testing.assert_close(out[:, :, 3], value[:, :, 3] / 2)  # half of the right neighbour is zero padding


def test_fresh_dcnv3_is_a_3x3_average_between_its_projections():
    """InternImage's init (zero offsets, uniform softmax modulation): out = W_o avgpool3x3(W_v x) with zero padding."""
    m = DCNv3(8, groups=2).eval()
    x = torch.randn(2, 8, 5, 4)
    value = m.input_proj(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    pooled = F.avg_pool2d(value, 3, 1, 1, count_include_pad=True).permute(0, 2, 3, 1)
    torch.testing.assert_close(m(x), m.output_proj(pooled).permute(0, 3, 1, 2), atol=1e-5, rtol=1e-5)


def test_offset_scale_scales_grid_and_offsets():
    s = DeformableSampling(3, offset_scale=2.0)
    value, mask = random_inputs(g=1, cg=2)
    b, h, w, _ = value.shape
    offset = torch.zeros(b, h, w, 1, 9, 2)
    out = s(value, offset, mask.expand(b, h, w, 1, 9))
    expected = dcnv3_sample(value, offset, mask.expand(b, h, w, 1, 9), kernel_points(3) * 2)
    torch.testing.assert_close(out, expected)


def dcn_dict(mixer: dict) -> dict:
    stage = lambda c, ds: {
        "depth": 1, "channels": c, "downsample": ds, "block": {"kind": "metaformer", "layer_scale": 1e-6},
        "mixer": mixer, "ffn": {"kind": "mlp", "ratio": 4}, "out_norm": "layernorm",
    }
    return {
        "name": "tiny_dcn", "image_size": 32,
        "stem": {"kind": "convs", "layers": [{"channels": 16, "kernel": 3, "stride": 2, "bias": True, "norm": "layernorm", "act": "none"}]},
        "stages": [stage(16, {"kind": "none"}), stage(24, {"kind": "conv", "kernel": 3, "stride": 2, "bias": False, "norm": "layernorm"})],
        "head": {"kind": "linear", "hidden": {"ratio": 1.5, "norm": "batchnorm", "act": "gelu", "position": "pre_pool"}},
    }


@pytest.mark.parametrize(
    "mixer, path",
    [
        ({"kind": "dcnv3", "groups": 16}, "stages[1].mixer.groups"),  # 16 does not divide 24
        ({"kind": "dcnv3", "groups": 3}, "stages[0].mixer.groups"),
        ({"kind": "dcnv3", "groups": 2, "kernel": 4}, "stages[0].mixer.kernel"),
        ({"kind": "dcnv3", "groups": 2, "dw_kernel": 2}, "stages[0].mixer.dw_kernel"),
    ],
)
def test_bad_genes_are_refused_with_their_path(mixer, path):
    with pytest.raises(GenotypeError) as info:
        genotype_from_dict(dcn_dict(mixer))
    assert info.value.path == path, str(info.value)


def test_small_network_closed_form_equals_fvcore():
    g = genotype_from_dict(dcn_dict({"kind": "dcnv3", "groups": 8}))
    model = archspace.build(g)
    counts = count_model(model, g.image_size)
    total = analytic_cost(g).total
    assert (total.params, total.flops) == (counts.params, counts.flops)
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 1000)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["u_internimage_micro", "u_internimage_tiny"])
def test_zoo_genotype_closed_form_equals_fvcore(name):
    g = archspace.load_genotype(f"genotypes/{name}.json")
    counts = count_model(archspace.build(g), g.image_size)
    total = analytic_cost(g).total
    assert (total.params, total.flops) == (counts.params, counts.flops)
