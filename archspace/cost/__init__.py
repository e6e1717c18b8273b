"""Cost of a network: params and FLOPs (analytic, and fvcore on the built module), latency, memory.

Convention: one FLOP is one multiply-add (fvcore and the papers). `archspace.cost(genotype)` (this
package is callable) returns a `CostSummary`; see `summarize` for the options.

Importing this package does not import torch: `archspace.cost.analytic` (closed forms) is torch-free,
and the fvcore counting (`count_model`, `Counts`) is loaded on first use.
"""
import importlib
import sys
import types

_LAZY = {
    "CostSummary": "archspace.cost.summary",
    "summarize": "archspace.cost.summary",
    "Counts": "archspace.cost.counting",
    "count_model": "archspace.cost.counting",
}


class _CallableModule(types.ModuleType):
    """Lets `archspace.cost(genotype)` work whether `archspace.cost` is the function or this package."""

    def __call__(self, genotype, **kwargs):
        from archspace.cost.summary import summarize

        return summarize(genotype, **kwargs)

    def __getattr__(self, name: str):
        if name in _LAZY:
            return getattr(importlib.import_module(_LAZY[name]), name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["CostSummary", "Counts", "count_model", "summarize"]
