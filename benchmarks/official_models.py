"""Build an official model, with random weights, from the user's checkout of its repository.

Each family names the file(s) of the official repository it imports; nothing is copied from them.
Light shims stand in for the OpenMMLab and CUDA-only imports the classification models do not use
(benchmarks/official_shims.py), and old timm import paths are aliased to where timm 1.x keeps them.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import warnings
from pathlib import Path
from typing import Callable

import timm
from torch import nn

import official_shims

_TIMM_ALIASES = {"timm.models.layers.halo_attn": "timm.layers.halo_attn", "timm.models.layers.helpers": "timm.layers.helpers"}


def _require_einops() -> None:
    try:
        import einops  # noqa: F401
    except ImportError:
        raise SystemExit('the official STM-Evaluation / ConTNet code imports einops: pip install -e ".[official]"') from None


def _alias_old_timm_paths() -> None:
    for old, new in _TIMM_ALIASES.items():
        sys.modules.setdefault(old, importlib.import_module(new))


def _load_file(path: Path, name: str) -> types.ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    if not path.is_file():
        raise FileNotFoundError(f"--official: {path} not found (is this a checkout of the right repository?)")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # timm's register_model looks the module up
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        spec.loader.exec_module(module)
    return module


def transxnet(root: Path, constructor: str) -> nn.Module:
    """LMMMEng/TransXNet models/transxnet.py (mmcv's ConvModule and builders shimmed)."""
    official_shims.install()
    return getattr(_load_file(root / "models" / "transxnet.py", "official_transxnet"), constructor)()


def stm(root: Path, constructor: str) -> nn.Module:
    """OpenGVLab/STM-Evaluation classification/models (timm-registered unified_* models)."""
    _require_einops()
    _alias_old_timm_paths()
    sys.modules.setdefault("MultiScaleDeformableAttention", official_shims.multi_scale_deformable_attention())
    if "official_stm" not in sys.modules:
        sys.path.insert(0, str(root / "classification"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sys.modules["official_stm"] = importlib.import_module("models")
        _int_windows(sys.modules["models.blocks.swin"])
    return timm.create_model(constructor)


def _int_windows(swin: types.ModuleType) -> None:
    """The STM Swin block passes an int window to timm's window_partition/reverse, which timm 1.x wants as a pair."""
    partition, reverse = swin.window_partition, swin.window_reverse
    swin.window_partition = lambda x, w: partition(x, timm.layers.to_2tuple(w))
    swin.window_reverse = lambda x, w, h, w_: reverse(x, timm.layers.to_2tuple(w), h, w_)


def contnet(root: Path, constructor: str) -> nn.Module:
    """yan-hao-tian/ConTNet ConTNet.py; constructor 'ConT-Ti' etc. with main.py's default flags."""
    _require_einops()
    module = _load_file(root / "ConTNet.py", "official_contnet")
    return module.build_model(arch=constructor, use_avgdown=False, relative=False, qkv_bias=True, pre_norm=False)


def scsc(root: Path, constructor: str) -> nn.Module:
    """megvii-research/SCSC cbtnet.py (cbtnet50) or scsc_swin.py (SCSC_Swin)."""
    if constructor.startswith("cbtnet"):
        model = getattr(_load_file(root / "cbtnet.py", "official_cbtnet"), constructor)()
        for block in model.modules():  # the released forward loops over `patch_sizes`, which no constructor sets;
            if hasattr(block, "layers") and not hasattr(block, "patch_sizes"):  # with one conv per kernel only its length is read
                block.patch_sizes = [None] * len(block.layers)
        return model
    return getattr(_load_file(root / "scsc_swin.py", "official_scsc_swin"), constructor)()


def timm_model(root: Path | None, constructor: str) -> nn.Module:
    """timm's own implementation (no checkout needed)."""
    return timm.create_model(constructor)


BUILDERS: dict[str, Callable[[Path, str], nn.Module]] = {
    "official-transxnet": transxnet,
    "official-stm": stm,
    "official-contnet": contnet,
    "official-scsc": scsc,
    "timm": timm_model,
}
