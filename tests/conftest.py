"""Test configuration: slow tests run with --runslow or when $CI is set (as in .ci/run on CI); heavy tests
(zoo-wide export, compile and input-size sweeps: tens of minutes on 2 cores) run only with
--runheavy or $ARCHSPACE_HEAVY set, so CI stays inside its time limit."""
from __future__ import annotations

import os

import pytest
import torch


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--runslow", action="store_true", help="also run tests marked slow")
    parser.addoption("--runheavy", action="store_true", help="also run tests marked heavy (implies --runslow)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    heavy = config.getoption("--runheavy") or bool(os.environ.get("ARCHSPACE_HEAVY"))
    slow = heavy or config.getoption("--runslow") or bool(os.environ.get("CI"))
    skip_slow = pytest.mark.skip(reason="slow: run with --runslow (CI runs them)")
    skip_heavy = pytest.mark.skip(reason="heavy: run with --runheavy or ARCHSPACE_HEAVY=1")
    for item in items:
        if "heavy" in item.keywords and not heavy:
            item.add_marker(skip_heavy)
        elif "slow" in item.keywords and not slow:
            item.add_marker(skip_slow)


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
