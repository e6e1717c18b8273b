"""Weight-sharing supernet over a search space (issue 19): train once, rate many subnets, extract any exactly.

`new_supernet(space, image_size, in_chans, num_classes)` sizes and initialises one; `Supernet(x, genotype)`
runs a subnet on slices of the shared tensors; `Supernet.extract(genotype)` gives its stand-alone state_dict.
See docs/supernet.md.
"""
from archspace.supernet.create import new_supernet
from archspace.supernet.supernet import Supernet

__all__ = ["Supernet", "new_supernet"]
