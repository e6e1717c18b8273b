"""Closed-form params and FLOPs from the genotype alone, without building the network.

Every spec class registers a closed form with the same arguments as its builder (see
archspace.ops.registry). Counting follows fvcore exactly, so the two agree: one multiply-add
is one FLOP; conv and linear count weights x outputs (bias free); eval-mode BatchNorm counts
2 per element, LayerNorm and GroupNorm 5 per element (affine); activations, additions and
other element-wise ops count 0; adaptive average pooling counts 1 per input element.
"""
from archspace.cost.analytic.core import Cost, analytic_cost, closed_form, cost_of, registered_closed_forms
from archspace.cost.analytic import families  # noqa: F401  (registers the closed forms)

__all__ = ["Cost", "analytic_cost", "closed_form", "cost_of", "registered_closed_forms"]
