"""Hostile search-space files: each is refused in one SpaceError line, quickly, before any large allocation."""
from __future__ import annotations

import contextlib
import re
import signal
import time
from pathlib import Path

import pytest

from archspace.cli import main
from archspace.search.expr import ExprError, evaluate, parse_expr
from archspace.search.space import SearchSpace, SpaceError

HEAD = "name: h\nbase: swin_t\n"
REST = "    - {}\n    - {}\n    - {}\n"
BOMB = "[&a0 [1,1,1,1,1,1,1,1,1,1], " + ", ".join(f"&a{i + 1} [{', '.join([f'*a{i}'] * 10)}]" for i in range(8)) + "]"


def stage0(gene: str) -> str:
    """A swin_t space whose first stage sets one field to `gene`."""
    return HEAD + "genotype:\n  stages:\n    - " + gene + "\n" + REST


def _alarm(signum, frame):
    raise TimeoutError("took too long: a hang")


@contextlib.contextmanager
def within(seconds: int):
    """Fail with TimeoutError after `seconds` (a hang), and fail if the block took more than half of them."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    start = time.perf_counter()
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert time.perf_counter() - start < seconds / 2


def refused(path: Path) -> str:
    """The one-line reason a space file is refused; fails the test after 10 s (a hang) or on any other exception."""
    with within(10), pytest.raises(SpaceError) as info:
        SearchSpace.from_file(path)
    message = str(info.value)
    assert "\n" not in message and len(message) < 400
    return message


CASES = [
    ("bomb_choice", stage0("{depth: {choice: [1, " + BOMB + "]}}"), "more than 50,000 values"),
    ("bomb_anchors", "name: h\nanchors: " + BOMB + "\nbase: swin_t\n", "more than 50,000 values"),
    ("deep_flow", HEAD + "description: " + "[" * 5000 + "]" * 5000 + "\n", "nested more than 64 levels"),
    ("deep_block", HEAD + "description:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(900)) + " " * 901 + "v: 1\n", "nested more than 64 levels"),
    ("big", HEAD + "description: |\n" + ("  " + "x" * 98 + "\n") * 52_000, "too large for a search space file"),
    ("pow", stage0("{depth: {expr: '10**10**10'}}"), "stages[0].depth: '10 ** 10 ** 10': exponent 1e+10 is outside"),
    ("repeat", stage0("{depth: {expr: 'max([1] * 10**10)'}}"), "stages[0].depth: '[1] * 10 ** 10' repeats a list to more than 1000"),
    ("expr_at_sampling", HEAD + "genotype:\n  stages:\n    - {depth: {int: [1, 80]}, mixer: {heads: {expr: '2 ** depth'}}}\n" + REST,
     "stages[0].mixer.heads: expression '2 ** depth': exponent 80 is outside +-64"),
    ("deep_expr", stage0("{depth: {expr: '" + "-" * 900 + "1'}}"), "nested more than 50 levels"),
    ("nan_bound", stage0("{ffn: {ratio: {float: [.nan, 4.0]}}}"), "ffn.ratio.float[0]: must be a finite number, got nan"),
    ("inf_bound", stage0("{ffn: {ratio: {float: [1.0, .inf]}}}"), "ffn.ratio.float[1]: must be a finite number, got inf"),
    ("float_steps", stage0("{ffn: {ratio: {float: [0.0, 1.0e+300], step: 1.0e-300}}}"), "has more than 1e+15 steps"),
    ("many_choices", stage0("{depth: {choice: [" + ", ".join(map(str, range(1, 45_000))) + "]}}"), "choice has 44,999 options"),
    ("huge_subset", stage0("{mixer: {window: {subset: [" + ", ".join(map(str, range(1, 200))) + "]}}}"), "subset has about 10^59 members (more than 4096)"),
    ("self_base", "name: h\nbase: self_base.yaml\n", "self_base.yaml is this search space file itself (a circular base)"),
]


@pytest.mark.parametrize("name, text, reason", CASES, ids=[case[0] for case in CASES])
def test_hostile_space_file_is_one_line_and_fast(tmp_path, name, text, reason):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    assert reason in refused(path)


def test_base_naming_another_space_file_says_so(tmp_path):
    (tmp_path / "a.yaml").write_text("name: a\nbase: b.yaml\n")
    (tmp_path / "b.yaml").write_text("name: b\nbase: a.yaml\ngenotype: {}\n")
    assert "b.yaml is a search space file, not a genotype" in refused(tmp_path / "a.yaml")


def test_a_folder_is_named_a_folder(tmp_path, capsys):
    assert "is a folder, not a search space file" in refused(tmp_path)
    assert main(["space", "show", str(tmp_path)]) == 2
    assert "no such" not in capsys.readouterr().err


def test_nan_bounds_from_python_are_refused():
    data = {"base": "swin_t", "genotype": {"stages": [{"ffn": {"ratio": {"float": [float("nan"), 4.0]}}}, {}, {}, {}]}}
    with pytest.raises(SpaceError, match="float bounds must be finite"):
        SearchSpace.from_dict(data)


@pytest.mark.parametrize("text, reason", [
    ("channels ** 100", "exponent 100 is outside"),
    ("[channels] * channels * 100", "repeats a list to more than 1000"),
    ("channels * 10**14", "exceeds 1e+15 in magnitude"),
    ("round(channels, channels * 10**9)", "round's digits are outside"),
    ("-kind", "a sign needs a number, got str"),
])
def test_expressions_over_fields_are_bounded_when_evaluated(text, reason):
    tree = parse_expr(text)  # names a field: checked when sampled
    with pytest.raises(ExprError, match=re.escape(reason)):
        evaluate(tree, {"channels": 64, "kind": "swin"}.__getitem__)


def test_bounded_expressions_keep_their_values():
    values = {"channels": 96, "stage": 2}.__getitem__
    assert evaluate(parse_expr("channels // 32"), values) == 3
    assert evaluate(parse_expr("[8, 4, 2, 1][stage]"), values) == 2
    assert evaluate(parse_expr("2 ** stage * 16"), values) == 64
    assert evaluate(parse_expr("max([1] * 3 + [channels])"), values) == 96


def test_sample_more_than_the_space_holds_says_how_many(tmp_path, capsys):
    path = tmp_path / "two.yaml"
    path.write_text(stage0("{depth: {int: [1, 2]}}"))
    with within(10):
        assert main(["space", "sample", str(path), "-n", "1000000", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert "-n 1000000 is more than the 2 distinct genotypes the space has" in err and "\n" not in err
    assert not (tmp_path / "out").exists()
