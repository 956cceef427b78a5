"""The Pulumi program entry point shared by `__main__.py` (real engine) and the offline plan."""

from __future__ import annotations

from infra.config import from_pulumi_config
from stacks import build_platform


def main() -> None:
    build_platform(from_pulumi_config())
