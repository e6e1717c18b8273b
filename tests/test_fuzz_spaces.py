"""Fuzzing (hypothesis) of search-space and search-config files: mutated documents (genes pushed past their
ranges, wrong types, junk) and byte-damaged files are loaded and sampled, or refused with one of our
one-line errors; no other exception escapes SearchSpace.from_dict/from_file, sample, or config loading."""
from __future__ import annotations

import random
import tempfile
from pathlib import Path

import pytest
import yaml
from fuzzing import check_refusal, mutated, mutated_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archspace.errors import ArchspaceError
from archspace.search.config import config_from_dict, load_config
from archspace.search.sampling import RandomTrial
from archspace.search.space import SearchSpace

ROOT = Path(__file__).resolve().parents[1]
SPACES = sorted((ROOT / "search_spaces").glob("*.yaml"))
CONFIGS = sorted((ROOT / "searches").glob("*.yaml"))
SPACE_DOCS = [yaml.safe_load(p.read_text()) for p in SPACES]
CONFIG_DOCS = [yaml.safe_load(p.read_text()) for p in CONFIGS]
SPACE_TEXTS = [p.read_text() for p in SPACES]
CONFIG_TEXTS = [p.read_text() for p in CONFIGS]
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def _space_case(doc) -> None:
    try:
        space = SearchSpace.from_dict(doc, folder=ROOT / "search_spaces")
        for seed in range(2):
            try:
                space.sample(RandomTrial(random.Random(seed)))
            except ArchspaceError as err:  # InvalidSample is a GenotypeError
                check_refusal(err)
    except ArchspaceError as err:
        check_refusal(err)


def _config_case(doc) -> None:
    try:
        config_from_dict(doc, base=ROOT / "searches")
    except ArchspaceError as err:
        check_refusal(err)


def _file_case(data: bytes, loader) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.yaml"
        path.write_bytes(data)
        try:
            loader(path)
        except ArchspaceError as err:
            check_refusal(err)


def _cases(n: int):
    fuzz = settings(FUZZ, max_examples=n)
    return [
        fuzz(given(mutated(SPACE_DOCS))(_space_case)),
        fuzz(given(mutated(CONFIG_DOCS))(_config_case)),
        fuzz(given(mutated_text(SPACE_TEXTS))(lambda data: _file_case(data, SearchSpace.from_file))),
        fuzz(given(mutated_text(CONFIG_TEXTS))(lambda data: _file_case(data, load_config))),
    ]


@pytest.mark.parametrize("which", range(4), ids=["space-docs", "config-docs", "space-files", "config-files"])
def test_fuzz_spaces_and_configs(which):
    _cases(75)[which]()


@pytest.mark.slow
@pytest.mark.parametrize("which", range(4), ids=["space-docs", "config-docs", "space-files", "config-files"])
def test_fuzz_spaces_and_configs_many(which):
    _cases(500)[which]()  # 4 x 500 = 2000 examples


def _sampled_genotypes() -> list[dict]:
    from archspace.genotype.io import canonical_dict
    from archspace.search.sampling import valid_samples

    return [canonical_dict(g) for p in SPACES for g in valid_samples(SearchSpace.from_file(p), 2, 0)[0]]


def test_space_samples_pushed_past_their_ranges_are_refused_with_one_line():
    from archspace.genotype.io import genotype_from_dict

    @settings(FUZZ, max_examples=60)
    @given(mutated(_sampled_genotypes()))
    def case(doc):
        try:
            genotype_from_dict(doc)
        except ArchspaceError as err:
            check_refusal(err, doc)

    case()


def test_space_show_cli_on_damaged_files_is_one_line(capsys):
    from archspace.cli import main

    @settings(FUZZ, max_examples=25)
    @given(mutated_text(SPACE_TEXTS))
    def case(data):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "s.yaml"
            path.write_bytes(data)
            code = main(["space", "show", str(path), "-n", "3", "--seed", "0"])
            err = capsys.readouterr().err
            assert code in (0, 2) and "Traceback" not in err, err[-500:]

    case()
