"""Shared fixtures: the offline plan harness and the real-server plugin."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.harness import Planned, plan_config  # noqa: E402

pytest_plugins = ["tests.servers.fixtures", "tests.servers.pulumi_cli"]


@pytest.fixture(scope="session")
def prod_plan() -> Planned:
    """The offline plan of the production config (all stacks), computed once per session."""
    return plan_config(stack="prod")
