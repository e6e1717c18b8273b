"""Evaluating candidates: data (`data`), zero-cost proxies (`proxies`), short training (`training`),
extra objectives (`metrics`) and the evaluator the search calls (`evaluator.make_evaluator`)."""
