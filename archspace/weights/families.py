"""Key maps from each official code base onto archspace's module names (facts about the official layouts, no code)."""
from __future__ import annotations

import re

import torch
from torch import nn

from archspace.errors import ArchspaceError
from archspace.ops.window import HaloAttention
from archspace.weights.convert import Family, Rule, drop_unused_leading_rows, same_up_to_unit_dims

_LEAVES = r"(?P<tail>weight|bias|running_mean|running_var|num_batches_tracked)"


def _mixer(model: nn.Module, key: str) -> nn.Module:
    """The mixer module a key of ours lies in."""
    return model.get_submodule(key[: key.index(".mixer") + len(".mixer")])


def stm_kv(t: torch.Tensor, shape: torch.Size, model: nn.Module, key: str) -> torch.Tensor:
    """STM HaloAttn's kv channels run head-major, [h][k|v][d]; ours split k|v first, [k|v][h][d] (PVT's kv already does)."""
    t = same_up_to_unit_dims(t, shape)
    owner = _mixer(model, key)
    if not isinstance(owner, HaloAttention):
        return t
    d = t.shape[0] // (2 * owner.heads)
    return t.reshape(owner.heads, 2, d, *t.shape[1:]).transpose(0, 1).reshape(shape)


def halo_rel_table(t: torch.Tensor, shape: torch.Size, model: nn.Module, key: str) -> torch.Tensor:
    """STM HaloAttn adds q.r with the unscaled q; ours uses the scaled q, so r is divided by the scale.
    Its tables have 2*(block+2*halo)-1 rows, the first 2*halo... of which no query-key offset ever reads: dropped."""
    return drop_unused_leading_rows(t, shape) / _mixer(model, key).scale


def dcn_points_transposed(t: torch.Tensor, shape: torch.Size, model: nn.Module, key: str) -> torch.Tensor:
    """STM DCNv3 orders its KxK sampling points column-major in x (its grid stacks (y, x) values read as (x, y));
    ours row-major: point i*K+j there is point j*K+i here. Rows of the offset (G, P, 2) and mask (G, P) layers move."""
    t = same_up_to_unit_dims(t, shape)
    mixer = _mixer(model, key)
    k = int(round(mixer.points**0.5))
    rows = t.reshape(mixer.groups, k, k, -1, *t.shape[1:])
    return rows.transpose(1, 2).reshape(shape)


def nest(src: str, dst: str, table: dict[str, str], transform=same_up_to_unit_dims) -> list[Rule]:
    """Rules under a prefix: a fragment ending in '.' is a module (its weight/bias/BN stats follow), else an exact leaf."""
    rules = []
    for a, b in table.items():
        if a.endswith("."):
            rules.append(Rule(src + re.escape(a) + _LEAVES, dst + b + r"\g<tail>", transform))
        else:
            rules.append(Rule(src + re.escape(a), dst + b, transform))
    return rules


# ---------------------------------------------------------------- TransXNet (LMMMEng/TransXNet models/transxnet.py)
_TRANSXNET_BLOCK = {
    "pos_embed.": "cpe.",
    "norm1.": "norm1.",
    "norm2.": "norm2.",
    "token_mixer.local_unit.weight": "mixer.idconv.weight",
    "token_mixer.local_unit.bias": "mixer.idconv.bias",
    "token_mixer.local_unit.proj.0.conv.": "mixer.idconv.reduce.",
    "token_mixer.local_unit.proj.0.bn.": "mixer.idconv.norm.",
    "token_mixer.local_unit.proj.1.": "mixer.idconv.expand.",
    "token_mixer.global_unit.q.": "mixer.osra.q.",
    "token_mixer.global_unit.kv.": "mixer.osra.kv.",
    "token_mixer.global_unit.local_conv.": "mixer.osra.local.",
    "token_mixer.global_unit.sr.0.conv.": "mixer.osra.sr.0.",
    "token_mixer.global_unit.sr.0.bn.": "mixer.osra.sr.1.",
    "token_mixer.global_unit.sr.1.conv.": "mixer.osra.sr.3.",
    "token_mixer.global_unit.sr.1.bn.": "mixer.osra.sr.4.",
    "token_mixer.proj.0.": "mixer.ste.dw.",
    "token_mixer.proj.2.": "mixer.ste.norm1.",
    "token_mixer.proj.3.": "mixer.ste.squeeze.",
    "token_mixer.proj.5.": "mixer.ste.norm2.",
    "token_mixer.proj.6.": "mixer.ste.expand.",
    "token_mixer.proj.7.": "mixer.ste.norm3.",
    "mlp.fc1.0.": "ffn.fc1.",
    "mlp.fc1.2.": "ffn.norm1.",
    "mlp.norm.": "ffn.norm2.",
    "mlp.fc2.0.": "ffn.fc2.",
    "mlp.fc2.1.": "ffn.norm3.",
    "layer_scale_1.weight": "ls1.gamma",
    "layer_scale_1.bias": "ls1.beta",
    "layer_scale_2.weight": "ls2.gamma",
    "layer_scale_2.bias": "ls2.beta",
}


def _transxnet_rules() -> list[Rule]:
    rules = nest("", "", {"patch_embed.proj.conv.": "stem.0.0.", "patch_embed.proj.bn.": "stem.0.1.", "classifier.0.": "head.norm.", "classifier.2.": "head.fc."})
    rules.append(Rule(r"relative_pos_enc\.(?P<s>\d)", r"stages.\g<s>.blocks.0.mixer.osra.pos_bias"))
    for stage in range(4):  # network = [stage0, down1, stage1, down2, stage2, down3, stage3]
        prefix = rf"network\.{2 * stage}\.(?P<i>\d+)\."
        rules += nest(prefix, rf"stages.{stage}.blocks.\g<i>.", _TRANSXNET_BLOCK)
        rules.append(Rule(prefix + r"mlp\.dwconv\.proj\.(?P<k>\d+)\." + _LEAVES, rf"stages.{stage}.blocks.\g<i>.ffn.dw.\g<k>.\g<tail>"))
        if stage:
            rules += nest(rf"network\.{2 * stage - 1}\.", f"stages.{stage}.downsample.", {"proj.conv.": "0.", "proj.bn.": "1."})
    return rules


TRANSXNET = Family(
    "official-transxnet",
    "LMMMEng/TransXNet",
    tuple(_transxnet_rules()),
    note="models/transxnet.py; genotypes transxnet_t/s/b (default D-Mixer/MS-FFN genes, layer_scale_bias, pre-pool head norm)",
)


# ---------------------------------------------------------------- STM-Evaluation unified models (classification/models)
_STM_COMMON = {
    "gamma_1": "ls1.gamma", "gamma_2": "ls2.gamma", "gamma1": "ls1.gamma", "gamma2": "ls2.gamma",
    "norm1.": "norm1.", "norm2.": "norm2.", "mlp.fc1.": "ffn.fc1.", "mlp.fc2.": "ffn.fc2.",
}
_STM_MIXERS = {
    "dw_norm.": "norm1.", "pw_norm.": "norm2.", "pwconv1.": "ffn.fc1.", "pwconv2.": "ffn.fc2.",  # U-DWConv (unified ConvNeXt)
    "dw_input_proj.": "mixer.0.", "dwconv.": "mixer.1.", "dw_out_proj.": "mixer.2.",
    "attn.relative_position_bias_table": "mixer.rel_pos", "attn.qkv.": "mixer.qkv.",  # U-Swin
    "attn.q.": "mixer.q.", "attn.proj.": "mixer.proj.",  # U-PVT, U-HaloNet, U-Swin
    "attn.sr.": "mixer.sr.", "attn.norm.": "mixer.norm.",  # U-PVT spatial reduction
    "attn.dw_conv.0.": "mixer.dw_conv.", "attn.dw_conv.1.norm.": "mixer.dw_norm.",  # U-InternImage (DCNv3)
    "attn.value_proj.": "mixer.input_proj.", "attn.output_proj.": "mixer.output_proj.",
}


def _stm_rules() -> list[Rule]:
    rules = nest("downsample_layers.0.stem.", "stem.", {"0.": "0.0.", "1.": "0.1.", "3.": "1.0.", "4.": "1.1."})
    rules.append(Rule(r"downsample_layers\.(?P<s>\d)\.reduction\.(?P<k>\d)\." + _LEAVES, r"stages.\g<s>.downsample.\g<k>.\g<tail>"))
    rules.append(Rule(r"stage_norms\.(?P<s>\d)\." + _LEAVES, r"stages.\g<s>.norm.\g<tail>"))
    rules += nest("", "", {"conv_head.0.": "head.pre_pool.0.", "conv_head.1.": "head.pre_pool.1.", "head.": "head.fc."})
    block = r"stages\.(?P<s>\d)\.(?P<i>\d+)\."
    ours = r"stages.\g<s>.blocks.\g<i>."
    rules += nest(block, ours, {**_STM_COMMON, **_STM_MIXERS})
    rules.append(Rule(block + r"pos_embed", ours + "pos_embed"))  # U-PVT: absolute position embedding of a stage's first block
    # U-HaloNet: the kv head layout and the relative tables (unused leading rows, unscaled q) differ; see the transforms
    rules += nest(block, ours, {"attn.pos_embed.height_rel": "mixer.rel_row", "attn.pos_embed.width_rel": "mixer.rel_col"}, halo_rel_table)
    rules += nest(block, ours, {"attn.kv.": "mixer.kv."}, stm_kv)
    rules += nest(block, ours, {"attn.sampling_offsets.": "mixer.offset.", "attn.attention_weights.": "mixer.mask."}, dcn_points_transposed)
    return rules


STM = Family(
    "official-stm",
    "OpenGVLab/STM-Evaluation",
    tuple(_stm_rules()),
    ignored=(r".*relative_position_index", r".*attn_mask"),
    note="classification/models unified_{convnext,swin,halo,pvt,dcn_v3}_{micro,tiny,small,base}",
)

# ---------------------------------------------------------------- ConTNet (yan-hao-tian/ConTNet ConTNet.py)
_CONT_ENCODER = {"pe.0": "pe_h", "pe.1": "pe_w", "attn.qkv.": "attn.qkv.", "attn.proj.": "attn.proj.",
                 "mlp.fc1.": "mlp.fc1.", "mlp.fc2.": "mlp.fc2.", "norm1.": "norm1.", "norm2.": "norm2."}


def _contnet_rules() -> list[Rule]:
    rules = nest("", "", {"layer0.conv.conv.": "stem.0.0.", "fc.": "head.fc."})
    for stage in range(4):
        block = rf"layer{stage + 1}\.ConTBlock(?P<i>\d+)\."
        ours = rf"stages.{stage}.blocks.\g<i>."
        rules += nest(block, ours, {"bn.": "norm.", "out_conv.conv.": "conv.", "downsample.conv.": "shortcut."})
        for encoder in (1, 2):
            rules += nest(block + rf"ste{encoder}\.", ours + f"mixer.{encoder - 1}.", _CONT_ENCODER)
    return rules


CONTNET = Family(
    "official-contnet",
    "yan-hao-tian/ConTNet",
    tuple(_contnet_rules()),
    note="ConTNet.py build_model('ConT-Ti|S|M|B') with main.py's defaults (no avgdown, no relative PE, qkv bias, post-norm)",
)

# ---------------------------------------------------------------- SCSC (megvii-research/SCSC cbtnet.py, scsc_swin.py)
_CBTNET_BLOCK = {
    "reduction_c.": "mixer.reduce.0.", "bn1.": "mixer.reduce.1.", "bn2.": "mixer.norm.", "recover_c.": "mixer.recover.0.",
    "bn3.": "mixer.recover.1.", "routing_fc.": "mixer.embed.", "downsample.0.": "shortcut.0.", "downsample.1.": "shortcut.1.",
    "se.fc.0.": "se.fc1.", "se.fc.2.": "se.fc2.",
}


def _cbtnet_rules() -> list[Rule]:
    rules = nest("", "", {"conv1.": "stem.0.0.", "bn1.": "stem.0.1.", "fc.": "head.fc."})
    for stage in range(4):
        block = rf"layer{stage + 1}\.(?P<i>\d+)\."
        ours = rf"stages.{stage}.blocks.\g<i>."
        rules += nest(block, ours, _CBTNET_BLOCK)
        rules.append(Rule(block + r"layers\.(?P<k>\d+)\.0\." + _LEAVES, ours + r"mixer.branches.\g<k>.\g<tail>"))
    return rules


CBTNET = Family(
    "official-cbtnet",
    "megvii-research/SCSC",
    tuple(_cbtnet_rules()),
    note="cbtnet.py cbtnet50 = genotype resnet50_scsc_v3_official (ResNet-SCSC-V3 with the official channel shuffle)",
)

def _scsc_swin_rules() -> list[Rule]:
    rules = nest("", "", {"patch_embed.proj.": "stem.0.", "patch_embed.norm.": "stem.1.", "norm.": "head.norm.", "head.": "head.fc."})
    block = r"layers\.(?P<s>\d)\.blocks\.(?P<i>\d+)\."
    ours = r"stages.\g<s>.blocks.\g<i>."
    mixer = {"attn2conv." + k: v for k, v in _CBTNET_BLOCK.items() if not k.startswith(("downsample", "se"))}
    rules += nest(block, ours, {**mixer, "attn2conv.se.fc.0.": "mixer.se.fc1.", "attn2conv.se.fc.2.": "mixer.se.fc2.",
                                "bn.": "norm2.", "mlp.fc1.": "ffn.fc1.", "mlp.fc2.": "ffn.fc2."})
    rules.append(Rule(block + r"attn2conv\.layers\.(?P<k>\d+)\." + _LEAVES, ours + r"mixer.branches.\g<k>.\g<tail>"))
    for stage in range(3):  # the official patch merging closes stage s; ours opens stage s + 1
        rules.append(Rule(rf"layers\.{stage}\.downsample\.(?P<rest>.+)", rf"stages.{stage + 1}.downsample.\g<rest>"))
    return rules


SCSC_SWIN = Family(
    "official-scsc-swin",
    "megvii-research/SCSC",
    tuple(_scsc_swin_rules()),
    note="scsc_swin.py SCSC_Swin() defaults = genotype swin_t_scsc_official",
)


# ---------------------------------------------------------------- timm baselines (resnet50, convnext_tiny, swin_tiny, pvt_v2_b2)
_RESNET_BLOCK = {"conv1.": "reduce.0.", "bn1.": "reduce.1.", "conv2.": "mixer.", "bn2.": "norm2.", "conv3.": "expand.0.",
                 "bn3.": "expand.1.", "downsample.0.": "shortcut.0.", "downsample.1.": "shortcut.1."}
_TIMM_BLOCK = {
    "gamma": "ls.gamma", "conv_dw.": "mixer.", "mlp.fc1.": "ffn.fc1.", "mlp.fc2.": "ffn.fc2.", "mlp.dwconv.": "ffn.dwconv.",
    "attn.relative_position_bias_table": "mixer.rel_pos", "attn.qkv.": "mixer.qkv.", "attn.q.": "mixer.q.", "attn.kv.": "mixer.kv.",
    "attn.proj.": "mixer.proj.", "attn.sr.": "mixer.sr.", "attn.norm.": "mixer.norm.",
}


def _timm_rules() -> list[Rule]:
    rules = nest("", "", {"conv1.": "stem.0.0.", "bn1.": "stem.0.1.", "fc.": "head.fc.", "head.": "head.fc."})
    rules += [
        Rule(r"patch_embed\.proj\." + _LEAVES, (r"stem.0.\g<tail>", r"stem.0.0.\g<tail>")),
        Rule(r"patch_embed\.norm\." + _LEAVES, (r"stem.1.\g<tail>", r"stem.0.1.\g<tail>")),
        Rule(r"norm\." + _LEAVES, r"stages.3.norm.\g<tail>"),  # Swin's final norm
        Rule(r"layers\.(?P<s>\d)\.downsample\.(?P<rest>.+)", r"stages.\g<s>.downsample.\g<rest>"),
        Rule(r"stages\.(?P<s>\d)\.downsample\.proj\." + _LEAVES, r"stages.\g<s>.downsample.0.\g<tail>"),  # PVT-v2
        Rule(r"stages\.(?P<s>\d)\.downsample\.norm\." + _LEAVES, r"stages.\g<s>.downsample.1.\g<tail>"),
    ]
    for stage in range(4):
        rules += nest(rf"layer{stage + 1}\.(?P<i>\d+)\.", rf"stages.{stage}.blocks.\g<i>.", _RESNET_BLOCK)
    for prefix in (r"layers\.(?P<s>\d)\.blocks\.(?P<i>\d+)\.", r"stages\.(?P<s>\d)\.blocks\.(?P<i>\d+)\."):
        rules += nest(prefix, r"stages.\g<s>.blocks.\g<i>.", _TIMM_BLOCK)
        rules += nest(prefix, r"stages.\g<s>.blocks.\g<i>.", {"norm1.": "norm1.", "norm2.": "norm2."})
    rules.append(Rule(r"(?P<same>.+)", r"\g<same>"))  # everything else keeps its name (ConvNeXt's stem, norms, head)
    return rules


TIMM = Family(
    "timm",
    "huggingface/pytorch-image-models",
    tuple(_timm_rules()),
    ignored=(r".*relative_position_index", r".*attn_mask"),
    note="timm's resnet50, convnext_tiny, swin_tiny_patch4_window7_224, pvt_v2_b2 (genotypes resnet50, convnext_t, swin_t, pvt_v2_b2)",
)

FAMILIES: dict[str, Family] = {f.name: f for f in (TRANSXNET, STM, CONTNET, CBTNET, SCSC_SWIN, TIMM)}


def family_for(name: str) -> Family:
    """The family named by `--from`; one line listing the known ones otherwise."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ArchspaceError(f"--from: unknown family {name!r}; known: {', '.join(sorted(FAMILIES))}") from None
