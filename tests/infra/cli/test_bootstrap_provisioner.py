"""`cli.py bootstrap provisioner` up to the point where it needs a server (regression: it used
the bootstrap module without importing it, so every call ended in a NameError traceback)."""

from __future__ import annotations

from tests.infra.conftest import CliRun


def test_provisioner_without_pulumi_says_so_in_one_sentence(cli_without_pulumi: CliRun, tmp_path) -> None:
    token_file = tmp_path / "root-token"
    token_file.write_text("s.not-a-real-token\n")
    result = cli_without_pulumi("bootstrap", "provisioner", "--stack", "dev", "--root-token-file", str(token_file))
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "NameError" not in output
    assert result.returncode == 2, output
    assert "pulumi" in output.lower() and "install" in output.lower(), output
    assert "s.not-a-real-token" not in output
