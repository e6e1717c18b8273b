"""Closed forms of the FFNs."""
from __future__ import annotations

from archspace.cost.analytic.core import Cost, closed_form, conv, norm
from archspace.genotype.base import Site
from archspace.genotype.specs.ffn import IRBFFN, MLPFFN, hidden_channels


@closed_form(MLPFFN)
def mlp(spec: MLPFFN, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    hidden = hidden_channels(c, spec.ratio)
    return conv(c, hidden, 1, h, w, bias=spec.bias) + conv(hidden, c, 1, h, w, bias=spec.bias)


@closed_form(IRBFFN)
def irb(spec: IRBFFN, site: Site) -> Cost:
    c, (h, w) = site.channels, site.shape.resolution
    hidden = hidden_channels(c, spec.ratio)
    kind = site.norm if spec.norm else "none"
    return (
        conv(c, hidden, 1, h, w, bias=spec.bias)
        + norm(kind, hidden, h, w)
        + conv(hidden, hidden, spec.kernel, h, w, groups=hidden, bias=spec.bias)
        + norm(kind, hidden, h, w)
        + conv(hidden, c, 1, h, w, bias=spec.bias)
        + norm(kind, c, h, w)
    )
