"""The STM-evaluation analyses (Hu et al., §5.5 and §6) as tools: effective receptive field, translation /
rotation / scale invariance, FGSM robustness and throughput, per model, as a comparison across models,
and as search objectives (`archspace.probe.metrics.probe_metric`).

Kept torch-free at import so the CLI can register `archspace probe` cheaply.
"""
