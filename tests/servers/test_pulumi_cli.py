"""The real Pulumi CLI the tests use: the pinned build, and a loud failure when it is missing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.servers.pulumi_cli import PulumiCli, PulumiCliMissing, locate, pinned_version


def test_the_built_cli_reports_the_sdk_pin(pulumi_cli: PulumiCli) -> None:
    assert pulumi_cli.version == pinned_version() == "v3.260.0"
    assert pulumi_cli.path.parts[-3:] == (".tools", "bin", "pulumi")


def test_a_missing_cli_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(PulumiCliMissing) as missing:
        locate(tmp_path / "pulumi")
    assert str(missing.value) == (
        f"the real Pulumi CLI {pinned_version()} is not at {tmp_path / 'pulumi'}: build it with `make pulumi-cli` (scripts/build-pulumi-cli.sh)"
    )


def test_another_version_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "pulumi"
    other.write_text(f"#!{sys.executable}\nprint('v3.0.0-dev')\n")
    other.chmod(0o755)
    with pytest.raises(PulumiCliMissing, match=r"reports version 'v3.0.0-dev', the tests need v3\.260\.0: build it with `make pulumi-cli`"):
        locate(other)
