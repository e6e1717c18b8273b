"""Evaluating candidates: data (`data`), zero-cost proxies (`proxies`), short training (`training`), extra
objectives (`metrics`), and the evaluator kinds the search calls, one module each (`proxy`, `train`, ...)
behind one protocol and registry (`registry.make_evaluator`; how to add a kind: `registry`'s docstring)."""
