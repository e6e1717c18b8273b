"""The built network follows timm's model API."""
from __future__ import annotations

import pytest
import timm
import torch

from archspace import build, load_genotype
from archspace.genotype import genotype_from_dict


@pytest.fixture(scope="module")
def convnext():
    g = load_genotype("genotypes/convnext_t.json")
    g = genotype_from_dict({**g.model_dump(mode="json"), "image_size": 64})
    return build(g, num_classes=7).eval()


def test_forward_features_head_and_pre_logits(convnext):
    x = torch.randn(2, 3, 64, 64)
    feats = convnext.forward_features(x)
    assert feats.shape == (2, 768, 2, 2)
    assert convnext.forward_head(feats).shape == (2, 7)
    assert convnext.forward_head(feats, pre_logits=True).shape == (2, convnext.num_features)
    torch.testing.assert_close(convnext(x), convnext.forward_head(feats))


def test_feature_info_matches_intermediates(convnext):
    x = torch.randn(1, 3, 64, 64)
    final, inter = convnext.forward_intermediates(x)
    assert [f["num_chs"] for f in convnext.feature_info] == [t.shape[1] for t in inter] == [96, 192, 384, 768]
    assert [f["reduction"] for f in convnext.feature_info] == [64 // t.shape[-1] for t in inter] == [4, 8, 16, 32]
    torch.testing.assert_close(final, convnext.forward_features(x))
    only = convnext.forward_intermediates(x, indices=[1, 2], stop_early=True, intermediates_only=True)
    assert [t.shape[1] for t in only] == [192, 384]
    assert len(convnext.forward_intermediates(x, indices=2, intermediates_only=True)) == 2


def test_reset_classifier(convnext):
    convnext.reset_classifier(3)
    assert convnext.get_classifier().out_features == 3
    assert convnext(torch.randn(1, 3, 64, 64)).shape == (1, 3)
    convnext.reset_classifier(0)
    assert convnext(torch.randn(1, 3, 64, 64)).shape == (1, convnext.num_features)


def test_build_overrides_in_chans_and_drop_path():
    g = load_genotype("genotypes/resnet50.json")
    model = build(g, in_chans=1, num_classes=5, drop_path_rate=0.2)
    assert model.stem[0][0].in_channels == 1
    assert model.genotype.drop_path_rate == 0.2
    assert model(torch.randn(1, 1, 64, 64)).shape == (1, 5)


def test_timm_create_model_and_features_only():
    import archspace  # noqa: F401  (registers the zoo with timm)

    model = timm.create_model("archspace_resnet50", num_classes=10)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 10)
    features = timm.create_model("archspace_convnext_t", features_only=True, out_indices=(1, 3))
    outs = features(torch.randn(1, 3, 64, 64))
    assert [o.shape[1] for o in outs] == features.feature_info.channels() == [192, 768]
    assert features.feature_info.reduction() == [8, 32]
    with pytest.raises(Exception, match="ships no pretrained weights"):
        timm.create_model("archspace_resnet50", pretrained=True)
