"""Closed forms of the dynamic-convolution family: DCNv3."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, closed_form, conv, linear, norm
from archspace.genotype.base import Site
from archspace.genotype.specs.dcn import DCNv3Mixer

GRID_SAMPLE_FLOPS = 4  # fvcore's aten::grid_sampler handle: 4 per output element ("assume bilinear")


def dcnv3_sampling(spec: DCNv3Mixer, site: Site) -> Cost:
    """The deformable sampling: grid_sample (4 per sampled element) + the modulated sum (1 MAC per sampled element).

    This is what U-InternImage's table leaves out (its CUDA op is invisible to the counter).
    """
    c, (h, w) = site.channels, site.shape.resolution
    sampled = c * h * w * spec.kernel**2
    return Cost(0, (GRID_SAMPLE_FLOPS + 1) * sampled).tagged("deform_sampling")


@closed_form(DCNv3Mixer)
def dcnv3(spec: DCNv3Mixer, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    n, points = h * w, spec.kernel**2
    return (
        linear(c, c, n)
        + conv(c, c, spec.dw_kernel, h, w, groups=c, bias=True)
        + norm(site.norm, c, h, w)
        + linear(c, spec.groups * points * 2, n)
        + linear(c, spec.groups * points, n)
        + dcnv3_sampling(spec, site)
        + linear(c, c, n)
    )
