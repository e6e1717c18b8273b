"""Cost of a network: params and FLOPs (fvcore on the built module)."""
from archspace.cost.counting import Counts, count_model

__all__ = ["Counts", "count_model"]
