"""The adaptation rule: every zoo genotype goes onto 32 px data, validates and builds; tied genes follow the maps."""
from pathlib import Path

import pytest
import torch

from archspace import build
from archspace.errors import GenotypeError
from archspace.genotype import load_genotype
from archspace.genotype.adapt import adapt, changed_genes, tile

ZOO = sorted(Path(__file__).resolve().parents[1].joinpath("genotypes").glob("*.json"))


@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_every_zoo_genotype_adapts_to_32px_and_builds(path):
    g = load_genotype(path)
    a = adapt(g, 32, 1, 10)
    assert (a.image_size, a.in_chans, a.num_classes) == (32, 1, 10)
    assert [s.channels for s in a.stages] == [s.channels for s in g.stages]
    assert [s.depth for s in a.stages] == [s.depth for s in g.stages]
    torch.manual_seed(0)
    with torch.no_grad():
        y = build(a).eval()(torch.randn(1, 1, 32, 32))
    assert y.shape == (1, 10)


@pytest.mark.parametrize("path", ZOO, ids=[p.stem for p in ZOO])
def test_adapting_to_the_target_resolution_changes_nothing(path):
    g = load_genotype(path)
    assert adapt(g, g.image_size, g.in_chans, g.num_classes).id == g.id


def test_tile_is_the_largest_divisor_not_above_the_gene():
    assert tile(7, [56]) == 7
    assert tile(7, [8]) == 4
    assert tile(14, [8]) == 8
    assert tile(8, [6]) == 6
    assert tile(5, [4, 6]) == 2
    assert tile(3, [1]) == 1


def test_map_tied_genes_follow_the_smaller_maps():
    swin = load_genotype(Path(ZOO[0]).with_name("swin_t.json"))
    assert [s.mixer.window for s in adapt(swin, 32, 3, 10).stages] == [4, 4, 2, 1]
    cont = load_genotype(Path(ZOO[0]).with_name("contnet_s.json"))
    assert [s.mixer.patches for s in adapt(cont, 32, 3, 10).stages] == [(4, 8), (4, 4), (2, 2), (1, 1)]
    xnet = load_genotype(Path(ZOO[0]).with_name("transxnet_t.json"))
    a = adapt(xnet, 48, 3, 10)
    assert [s.mixer.sr_stride for s in a.stages] == [6, 3, 1, 1]
    assert set(changed_genes(xnet, a)) == {f"stages[{i}].mixer.sr_stride" for i in range(3)}


def test_hmhsa_grids_adapt_level_by_level_on_pooled_maps():
    g = load_genotype(Path(ZOO[0]).with_name("transcnn_small.json"))
    data = g.model_dump(mode="json")
    data["stages"][0]["mixer"]["grids"] = [7, 2, None]  # 56 -> cells of 7, pooled by 7 -> 8x8, cells of 2
    from archspace.genotype import genotype_from_dict

    g3 = genotype_from_dict(data)
    a = adapt(g3, 64, 3, 10)  # stage-0 map 16: grid 7 -> 4, pooled by 4 -> 4x4, grid 2 stays
    assert a.stages[0].mixer.grids == (4, 2, None)


def test_a_network_that_cannot_run_on_the_image_is_refused_with_the_field():
    g = load_genotype(Path(ZOO[0]).with_name("transcnn_small.json"))
    with pytest.raises(GenotypeError, match=r"stages\[1\]\.downsample.*28 px"):
        adapt(g, 28, 3, 10)
    with pytest.raises(GenotypeError, match="image_size"):
        adapt(g, 4, 3, 10)
