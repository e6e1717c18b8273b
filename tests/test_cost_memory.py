"""Analytic memory estimate vs the activations autograd really saves; measured CUDA peak."""
from __future__ import annotations

import pytest
import torch

import archspace
from archspace.cost.memory import (
    analytic_memory,
    measure_peak_memory,
    saved_activation_bytes,
)
from archspace.cost.random import preset_genotypes, random_genotypes
from archspace.errors import ArchspaceError


def test_estimate_grows_with_batch_and_training_costs_more():
    g = preset_genotypes(1, seed=0)[0]
    one, four = analytic_memory(g, 1), analytic_memory(g, 4)
    assert four.training_activation_bytes == 4 * one.training_activation_bytes
    assert four.inference_activation_bytes == 4 * one.inference_activation_bytes
    assert one.weight_bytes == four.weight_bytes > 0
    assert one.training_bytes > one.inference_bytes


@pytest.mark.parametrize("genotype", preset_genotypes(2, seed=4) + random_genotypes(2, seed=4), ids=lambda g: g.name)
def test_training_estimate_is_within_3x_of_saved_activations(genotype):
    x = torch.zeros(2, genotype.in_chans, genotype.image_size, genotype.image_size)
    measured = saved_activation_bytes(archspace.build(genotype), x)
    estimate = analytic_memory(genotype, 2).training_activation_bytes
    assert measured / 3 <= estimate <= 3 * measured, f"estimate {estimate} vs saved {measured}"


def test_measured_peak_needs_cuda():
    g = preset_genotypes(1, seed=0)[0]
    if torch.cuda.is_available():
        inference = measure_peak_memory(g, 2)
        training = measure_peak_memory(g, 2, train=True)
        assert training > inference > analytic_memory(g, 2).weight_bytes
    else:
        with pytest.raises(ArchspaceError, match="CUDA"):
            measure_peak_memory(g)
