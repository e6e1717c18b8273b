"""Small genotypes fitted to the digits data (32 px, 1 channel, 10 classes) for the evaluator tests."""
from __future__ import annotations

import pytest
import torch

from archspace.genotype import genotype_from_dict


def tiny_hybrid(width: int = 16, mixer: str = "sra", name: str = "tiny_hybrid", image_size: int = 32, in_chans: int = 1, num_classes: int = 10):
    """A two-stage network: a depthwise-conv stage, then an attention (or conv) stage."""
    second = {"kind": "sra", "heads": 2, "sr": 1} if mixer == "sra" else {"kind": "dwconv", "kernel": 3}
    stage = lambda channels, mix, downsample: {  # noqa: E731
        "depth": 1,
        "channels": channels,
        "downsample": downsample,
        "mixer": mix,
        "ffn": {"kind": "mlp", "ratio": 2},
    }
    return genotype_from_dict(
        {
            "name": name,
            "image_size": image_size,
            "in_chans": in_chans,
            "num_classes": num_classes,
            "stem": {"kind": "convs", "layers": [{"channels": width, "kernel": 3, "stride": 2, "norm": "batchnorm", "act": "relu"}]},
            "stages": [
                stage(width, {"kind": "dwconv", "kernel": 3}, {"kind": "none"}),
                stage(2 * width, second, {"kind": "conv", "kernel": 3, "stride": 2, "norm": "layernorm"}),
            ],
        }
    )


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread per test: small networks on a shared 2-core machine run faster without thread handoffs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
