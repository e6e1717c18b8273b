"""Cost of a network: params and FLOPs (analytic, and fvcore on the built module), latency, memory.

Convention: one FLOP is one multiply-add (fvcore and the papers). `archspace.cost(genotype)` (this
package is callable) returns a `CostSummary`; see `summarize` for the options.
"""
import sys
import types

from archspace.cost.summary import CostSummary, summarize


class _CallableModule(types.ModuleType):
    """Lets `archspace.cost(genotype)` work whether `archspace.cost` is the function or this package."""

    def __call__(self, genotype, **kwargs) -> CostSummary:
        return summarize(genotype, **kwargs)

    def __getattr__(self, name: str):
        """fvcore counting imports torch: loaded on first use, so the analytic cost stays torch-free."""
        if name in ("Counts", "count_model"):
            from archspace.cost import counting

            return getattr(counting, name)
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")


sys.modules[__name__].__class__ = _CallableModule

__all__ = ["CostSummary", "Counts", "count_model", "summarize"]
