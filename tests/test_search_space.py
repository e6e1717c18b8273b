"""Search spaces: shipped spaces hold their anchors, encode/sample round trip, conditional and tied genes,
subsets, derived values, sizes, one-line errors, valid shares, and the `archspace space` CLI."""
from __future__ import annotations

import itertools
import math
import random
import re
import textwrap
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import FixedTrial

from archspace.cli import main
from archspace.errors import ArchspaceError, GenotypeError
from archspace.genotype import load_genotype
from archspace.search.sampling import RandomTrial, measure, raw_samples
from archspace.search.space import InvalidSample, SearchSpace, SpaceError
from archspace.zoo import zoo_genotype

ROOT = Path(__file__).resolve().parent.parent
SPACES = sorted((ROOT / "search_spaces").glob("*.yaml"))
REQUIRED = {"hybrid", "scsc", "transxnet", "transcnn", "contnet", "unified"}

optuna.logging.set_verbosity(optuna.logging.WARNING)


def space_of(text: str) -> SearchSpace:
    return SearchSpace.from_dict(yaml.safe_load(textwrap.dedent(text)))


# A small space on the U-Swin-micro skeleton: a per-stage spec choice with conditional genes, a tie,
# a subset, and derived heads.
SMALL = """
    name: small
    base: u_swin_micro
    each_stage:
      mixer:
        choice:
          - {kind: swin, heads: {expr: "channels // 32"}, window: {choice: [7]}}
          - {kind: dmixer, attn_ratio: {choice: [0.25, 0.5]}, heads: 1, sr_stride: {expr: "[8, 4, 2, 1][stage]"}}
          - {kind: scsc, kernels: {subset: [3, 5, 7, 9], size: [2, 3]}, g: 2}
      ffn:
        ratio: {choice: [2, 4], tie: mlp_ratio}
"""


def mixer_kinds(genotype):
    return [s.mixer.kind for s in genotype.stages]


class Forcing(RandomTrial):
    """Random draws, except the parameters named in `force`."""

    def __init__(self, seed: int, **force):
        super().__init__(random.Random(seed))
        self.force = force

    def suggest_categorical(self, name, choices):
        for key, value in self.force.items():
            if name == key.replace("__", "."):
                self.params[name] = value
                return value
        return super().suggest_categorical(name, choices)


# ------------------------------------------------------------------------------ shipped spaces


def test_every_required_space_is_shipped_with_anchors():
    names = {p.stem for p in SPACES}
    assert REQUIRED <= names
    for path in SPACES:
        assert SearchSpace.from_file(path).anchors, f"{path.name} lists no anchors"


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_shipped_space_contains_its_anchors_and_round_trips(path):
    space = SearchSpace.from_file(path)
    for name in space.anchors:
        anchor = zoo_genotype(name)
        assert space.contains(anchor), name
        params = space.encode(anchor)
        assert space.sample(FixedTrial(params)).id == anchor.id, name


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_enqueued_anchor_comes_back_from_a_real_study(path):
    space = SearchSpace.from_file(path)
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
    anchor = zoo_genotype(space.anchors[-1])
    study.enqueue_trial(space.encode(anchor))
    trial = study.ask()
    assert space.sample(trial).id == anchor.id
    assert set(trial.params) == set(space.encode(anchor))


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_shipped_space_valid_share_is_measured_and_counted(path):
    space = SearchSpace.from_file(path)
    stats = measure(space, 150, seed=0)
    assert stats.total == 150
    assert stats.valid + sum(stats.reasons.values()) == stats.total
    assert stats.share >= 0.3, f"{path.name}: only {stats.share:.0%} of raw samples are valid"
    log, how = space.log10_size()
    assert how in ("counted", "estimated") and 3 < log < 60


def test_other_published_models_are_outside_with_the_field_named():
    space = SearchSpace.from_file(ROOT / "search_spaces" / "transxnet.yaml")
    assert not space.contains(zoo_genotype("transcnn_small"))
    with pytest.raises(SpaceError) as err:
        space.encode(zoo_genotype("transxnet_b"))
    assert err.value.path and "\n" not in str(err.value)


def test_tpe_study_runs_define_by_run_over_the_hybrid_space():
    space = SearchSpace.from_file(ROOT / "search_spaces" / "hybrid.yaml")
    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=5))
    kinds, invalid = set(), 0
    for _ in range(25):
        trial = study.ask()
        try:
            genotype = space.sample(trial)
        except InvalidSample:
            invalid += 1
            assert "invalid" in trial.user_attrs
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        kinds.update(mixer_kinds(genotype))
        study.tell(trial, sum(s.depth for s in genotype.stages))
    assert len(kinds) >= 4
    names = {g.name for g in space.genes()}
    assert all(name in names for t in study.trials for name in t.params)


# ------------------------------------------------------------------------------ gene semantics


def test_conditional_genes_exist_only_when_their_spec_is_chosen():
    space = space_of(SMALL)
    trial = Forcing(0, **{"stages[0]__mixer__kind": "dmixer", "stages[1]__mixer__kind": "swin",
                          "stages[2]__mixer__kind": "scsc", "stages[3]__mixer__kind": "swin",
                          "stages[2]__mixer__kernels@scsc": "[3,5]"})
    genotype = space.sample(trial)
    assert mixer_kinds(genotype) == ["dmixer", "swin", "scsc", "swin"]
    assert "stages[0].mixer.attn_ratio@dmixer" in trial.params
    assert "stages[1].mixer.attn_ratio@dmixer" not in trial.params
    assert "stages[1].mixer.window@swin" in trial.params and "stages[0].mixer.window@swin" not in trial.params
    assert "stages[2].mixer.kernels@scsc" in trial.params
    # derived genes follow their stage: swin heads = channels // 32, D-Mixer stride from the stage index
    assert genotype.stages[1].mixer.heads == genotype.stages[1].channels // 32
    assert genotype.stages[0].mixer.sr_stride == 8
    conditions = {g.name: g.condition for g in space.genes()}
    assert conditions["stages[0].mixer.attn_ratio@dmixer"] == "stages[0].mixer.kind=dmixer"


def test_tied_genes_are_one_parameter_with_one_value():
    space = space_of(SMALL)
    names = [g.name for g in space.genes()]
    assert "stages[*].ffn.ratio" in names and not any(n.startswith("stages[0].ffn.ratio") for n in names)
    for seed in range(10):
        trial = RandomTrial(random.Random(seed))
        try:
            genotype = space.sample(trial)
        except InvalidSample:
            continue
        assert len({s.ffn.ratio for s in genotype.stages}) == 1
        assert genotype.stages[0].ffn.ratio == trial.params["stages[*].ffn.ratio"]


def test_tie_over_some_stages_is_named_by_them():
    space = space_of("""
        base: u_swin_micro
        genotype:
          stages: [{}, {depth: {int: [1, 3], tie: d}}, {depth: {int: [1, 3], tie: d}}, {}]
    """)
    assert [g.name for g in space.genes()] == ["stages[1,2].depth"]
    assert space.log10_size() == (pytest.approx(math.log10(3)), "counted")


def test_tie_with_different_domains_is_refused_naming_the_field():
    with pytest.raises(SpaceError) as err:
        space_of("""
            base: u_swin_micro
            genotype:
              stages: [{depth: {int: [1, 3], tie: d}}, {depth: {int: [1, 4], tie: d}}, {}, {}]
        """)
    assert err.value.path == "stages[1].depth" and "tie 'd'" in err.value.reason


def test_subset_sizes_and_order():
    space = space_of(SMALL)
    gene = next(g for g in space._genes if g.name == "stages[2].mixer.kernels@scsc")
    assert gene.count() == math.comb(4, 2) + math.comb(4, 3)
    seen = set()
    for seed in range(60):
        trial = Forcing(seed, **{"stages[2]__mixer__kind": "scsc"})
        try:
            kernels = space.sample(trial).stages[2].mixer.kernels
        except InvalidSample:
            continue
        assert 2 <= len(kernels) <= 3 and list(kernels) == sorted(kernels) and set(kernels) <= {3, 5, 7, 9}
        seen.add(kernels)
    assert len(seen) >= 5


def test_invalid_sample_raises_a_genotype_error_with_the_field():
    # 128 channels cannot split into m = 3 kernel branches; the genotype's own validation refuses it
    space = space_of(SMALL)
    trial = FixedTrial({"stages[0].mixer.kind": "swin", "stages[0].mixer.window@swin": 7,
                        "stages[1].mixer.kind": "swin", "stages[1].mixer.window@swin": 7,
                        "stages[2].mixer.kind": "scsc", "stages[2].mixer.kernels@scsc": "[3,5,7]",
                        "stages[3].mixer.kind": "swin", "stages[3].mixer.window@swin": 7, "stages[*].ffn.ratio": 4})
    with pytest.raises(InvalidSample) as err:
        space.sample(trial)
    assert isinstance(err.value, GenotypeError)
    assert err.value.path == "stages[2].mixer.kernels" and "do not divide the 128" in err.value.reason


def test_encode_reproduces_sampled_genotypes():
    space = SearchSpace.from_file(ROOT / "search_spaces" / "hybrid.yaml")
    done = 0
    for item in raw_samples(space, 40, seed=3):
        if isinstance(item, InvalidSample):
            continue
        assert space.sample(FixedTrial(space.encode(item))).id == item.id
        done += 1
    assert done >= 20


def test_size_is_counted_exactly_on_a_small_space():
    space = space_of("""
        base: u_swin_micro
        genotype:
          drop_path_rate: {float: [0.0, 0.2], step: 0.1}
          stages:
            - depth: {int: [1, 4]}
              mixer:
                choice:
                  - {kind: swin, heads: 1, window: {choice: [7]}}
                  - {kind: dwconv, kernel: {choice: [3, 5, 7]}}
            - {}
            - {ffn: {kind: mlp, ratio: {choice: [2, 4]}}}
            - {}
    """)
    combos = 3 * 4 * (1 + 3) * 2
    log, how = space.log10_size()
    assert how == "counted" and log == pytest.approx(math.log10(combos))
    # brute force: every assignment of the parameters gives a distinct genotype
    ids = set()
    for dpr, depth, kind, ratio in itertools.product([0.0, 0.1, 0.2], [1, 2, 3, 4], ["swin", "dwconv"], [2, 4]):
        extra = [{"stages[0].mixer.window@swin": 7}] if kind == "swin" else [{"stages[0].mixer.kernel@dwconv": k} for k in (3, 5, 7)]
        for e in extra:
            params = {"drop_path_rate": dpr, "stages[0].depth": depth, "stages[0].mixer.kind": kind, "stages[2].ffn.ratio": ratio, **e}
            ids.add(space.sample(FixedTrial(params)).id)
    assert len(ids) == combos


def test_size_of_a_tie_inside_a_branch_is_estimated():
    space = space_of("""
        base: u_swin_micro
        each_stage:
          mixer:
            choice:
              - {kind: swin, heads: 1, window: {choice: [7]}}
              - {kind: dwconv, kernel: {choice: [3, 5, 7], tie: k}}
    """)
    assert space.log10_size()[1] == "estimated"


def test_variants_choose_whole_templates():
    space = SearchSpace.from_file(ROOT / "search_spaces" / "scsc.yaml")
    names = [g.name for g in space.genes()]
    assert names[0] == "variant"
    assert "stages[2].mixer.kernels@resnet" in names and "stages[2].mixer.kernels@swin" in names
    assert space.encode(zoo_genotype("swin_t_scsc"))["variant"] == "swin"


def test_expression_errors_name_the_field():
    with pytest.raises(SpaceError) as err:
        space_of("""
            base: u_swin_micro
            genotype: {stages: [{mixer: {heads: {expr: "__import__('os')"}}}, {}, {}, {}]}
        """)
    assert err.value.path == "stages[0].mixer.heads" and "not allowed" in err.value.reason
    space = space_of("""
        base: u_swin_micro
        genotype: {stages: [{mixer: {heads: {expr: "nonexistent // 2"}}}, {}, {}, {}]}
    """)
    with pytest.raises(SpaceError, match=r"stages\[0\].mixer.heads: .*'nonexistent'"):
        space.sample(FixedTrial({}))


# ------------------------------------------------------------------------------ bad files


BAD = [
    ("genotype: {stages: [{mixr: {kind: swin}}, {}, {}, {}]}\nbase: u_swin_micro", "stages[0].mixr", "unknown field"),
    ("base: u_swin_micro\neach_stage: {mixer: {choice: [{kind: nope}]}}", "stages[0].mixer.kind", "unknown kind 'nope'"),
    ("base: u_swin_micro\ngenotype: {stages: [{depth: {int: [4]}}, {}, {}, {}]}", "stages[0].depth", "int needs [low, high]"),
    ("base: u_swin_micro\ngenotype: {stages: [{depth: {int: [1, 4], size: 2}}, {}, {}, {}]}", "stages[0].depth", "unknown key 'size'"),
    ("base: u_swin_micro\ngenotype: {stages: [{depth: {int: [5, 1]}}, {}, {}, {}]}", "stages[0].depth", "is empty"),
    ("base: u_swin_micro\ngenotype: {stages: [{}, {}]}", "genotype.stages", "has 2 stages; the base has 4"),
    ("base: u_swin_micro\neach_stage: {mixer: {choice: [{kind: swin, heads: 1}, {kind: swin, heads: 2}]}}", "stages[0].mixer", "appears twice"),
    ("base: u_swin_micro\neach_stage: {mixer: {choice: [{kind: scsc, kernels: {subset: [3, 5], size: 3}}]}}", "stages[0].mixer.kernels", "size 3"),
    ("base: no_such_model", "base", "no zoo genotype"),
    ("base: u_swin_micro\nbudget: 3", "budget", "unknown key"),
    ("base: u_swin_micro\nanchors: u_swin_micro", "anchors", "list of zoo names"),
    ("genotype: {name: x}", "genotype.stages", "is required"),
]


@pytest.mark.parametrize("text,path,reason", BAD, ids=[b[1] + ":" + b[2][:12] for b in BAD])
def test_bad_space_files_give_one_line_naming_the_field(tmp_path, text, path, reason):
    file = tmp_path / "bad.yaml"
    file.write_text(text)
    with pytest.raises(SpaceError) as err:
        SearchSpace.from_file(file)
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{file}: {path}: "), message
    assert reason in message, message


def test_cli_bad_file_is_one_line_and_exit_2(tmp_path, capsys):
    file = tmp_path / "bad.yaml"
    file.write_text("base: u_swin_micro\ngenotype: {stages: [{depht: 2}, {}, {}, {}]}\n")
    assert main(["space", "show", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "stages[0].depht: unknown field" in err
    assert main(["space", "show", str(tmp_path / "missing.yaml")]) == 2
    assert main(["space", "sample", str(ROOT / "search_spaces" / "contnet.yaml"), "-n", "2"]) == 2
    (tmp_path / "notyaml.yaml").write_text("a: [1,\n")
    assert main(["space", "show", str(tmp_path / "notyaml.yaml")]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_base_may_be_a_genotype_file_next_to_the_space(tmp_path):
    (tmp_path / "g.json").write_text((ROOT / "genotypes" / "u_swin_micro.json").read_text())
    (tmp_path / "s.yaml").write_text("base: g.json\ngenotype: {drop_path_rate: {choice: [0.0, 0.1]}}\n")
    space = SearchSpace.from_file(tmp_path / "s.yaml")
    assert space.name == "s" and space.contains(zoo_genotype("u_swin_micro"))


# ------------------------------------------------------------------------------ CLI


def test_cli_show_prints_genes_size_share_and_samples(capsys):
    assert main(["space", "show", str(ROOT / "search_spaces" / "unified.yaml"), "-n", "60"]) == 0
    out = capsys.readouterr().out
    assert "stages[*].mixer.kind" in out and "{dwconv, halo, dcnv3, sra, swin}" in out
    assert "distinct genotypes, valid or not (counted over the gene tree)" in out
    assert "of 60 raw samples" in out
    assert "u_swin_tiny (inside)" in out
    assert len(re.findall(r"\d+\.\d\dG", out)) >= 3  # three samples with their FLOPs


def test_cli_sample_writes_distinct_valid_genotypes_inside_the_space(tmp_path, capsys):
    path = ROOT / "search_spaces" / "transcnn.yaml"
    assert main(["space", "sample", str(path), "-n", "4", "--out", str(tmp_path), "--seed", "1"]) == 0
    files = sorted(tmp_path.glob("*.json"))
    assert len(files) == 4
    space = SearchSpace.from_file(path)
    for f in files:
        genotype = load_genotype(f)
        assert f.stem == genotype.id and space.contains(genotype)
    # same seed, same files
    again = tmp_path / "again"
    assert main(["space", "sample", str(path), "-n", "4", "--out", str(again), "--seed", "1"]) == 0
    assert sorted(p.name for p in again.glob("*.json")) == [p.name for p in files]


def test_a_parameter_outside_its_domain_is_one_line_naming_the_gene():
    space = space_of(SMALL)
    with pytest.raises(SpaceError, match=r"^stages\[0\].mixer: parameter 'stages\[0\].mixer.kind' = 'sra' is not among"):
        space.sample(Forcing(0, **{"stages[0]__mixer__kind": "sra"}))


def test_space_errors_are_archspace_errors():
    assert issubclass(SpaceError, ArchspaceError) and issubclass(InvalidSample, GenotypeError)


def test_sampled_dicts_do_not_share_state():
    space = space_of(SMALL)
    first = space.sample_dict(RandomTrial(random.Random(0)))
    first["stages"][0]["mixer"]["kind"] = "changed"
    first["stem"]["layers"][0]["act"] = "changed"
    second = space.sample_dict(RandomTrial(random.Random(0)))
    assert second["stages"][0]["mixer"]["kind"] != "changed" and second["stem"]["layers"][0]["act"] != "changed"
