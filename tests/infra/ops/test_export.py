"""The auditor export never decrypts: it asks the CLI for `stack export` without
`--show-secrets`, and refuses to write a document whose secrets came back decrypted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.audit import audit
from infra.ops.export import EXPORT_ARGS, decrypted_paths
from infra.plan.document import read_export
from tests.infra.conftest import CliRun
from tests.infra.ops.export_fixture import (
    FIXTURE,
    PASSPHRASE,
    PLAINTEXTS,
    SIG,
    decrypt,
    decrypted,
    key_from_state,
)


@pytest.fixture
def fixture_document() -> dict:
    return json.loads(FIXTURE.read_text())


def test_fixture_is_a_real_passphrase_export_with_secrets(fixture_document: dict) -> None:
    key = key_from_state(PASSPHRASE, fixture_document["deployment"]["secrets_providers"]["state"]["salt"])
    stack_outputs = fixture_document["deployment"]["resources"][0]["outputs"]
    assert json.loads(decrypt(key, stack_outputs["cookieSecret"]["ciphertext"])) == PLAINTEXTS["cookie"]
    with pytest.raises(ValueError, match="incorrect passphrase"):
        key_from_state("not the passphrase", fixture_document["deployment"]["secrets_providers"]["state"]["salt"])
    assert not set(PLAINTEXTS.values()) & set(json.dumps(fixture_document).split('"'))


def export_with(cli: CliRun, tmp_path: Path, fixture_document: dict, *extra: str) -> tuple[int, str, Path]:
    decrypted_file = tmp_path / "show-secrets.json"
    decrypted_file.write_text(json.dumps(decrypted(fixture_document), indent=4))
    output = tmp_path / "audit" / "export.json"
    completed = cli(
        "export",
        "--stack",
        "prod",
        "-o",
        str(output),
        *extra,
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        FAKE_PULUMI_EXPORT=str(FIXTURE),
        FAKE_PULUMI_EXPORT_DECRYPTED=str(decrypted_file),
    )
    return completed.returncode, completed.stdout + completed.stderr, output


def test_export_keeps_every_secret_encrypted(cli_with_fake_pulumi, tmp_path: Path, fixture_document: dict) -> None:  # noqa: ANN001
    cli = cli_with_fake_pulumi("")
    code, output_text, output = export_with(cli, tmp_path, fixture_document)
    assert code == 0, output_text
    written = output.read_text()
    assert json.loads(written) == fixture_document
    for plaintext in PLAINTEXTS.values():
        assert plaintext not in written
    assert decrypted_paths(json.loads(written)["deployment"]) == []
    export_calls = [call for call in cli.calls() if "export" in call]
    assert export_calls == [["--non-interactive", *EXPORT_ARGS, "--stack", "prod"]]
    assert not any("--show-secrets" in call for call in cli.calls())
    assert [f.rule for f in audit(read_export(output)).findings if f.rule.startswith("SEC")] == []


def test_a_decrypted_document_is_refused_not_written(cli_with_fake_pulumi, tmp_path: Path, fixture_document: dict) -> None:  # noqa: ANN001
    """If the CLI ever answered with plaintext secrets, the export refuses to write them."""
    cli = cli_with_fake_pulumi("")
    (tmp_path / "plain.json").write_text(json.dumps(decrypted(fixture_document), indent=4))
    decrypted_file = tmp_path / "plain.json"
    output = tmp_path / "export.json"
    completed = cli(
        "export",
        "--stack",
        "prod",
        "-o",
        str(output),
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        FAKE_PULUMI_EXPORT=str(decrypted_file),
        FAKE_PULUMI_EXPORT_DECRYPTED=str(decrypted_file),
    )
    assert completed.returncode == 1
    assert "Refusing to write the export of stack prod: 5 secret(s) came back decrypted" in completed.stderr
    assert not output.exists()
    for plaintext in PLAINTEXTS.values():
        assert plaintext not in completed.stdout + completed.stderr


def test_decrypted_envelopes_are_found_anywhere(fixture_document: dict) -> None:
    envelopes = json.dumps(fixture_document).count(SIG)
    assert envelopes == 5  # stack output, random result and bcrypt hash, upload content in inputs and outputs
    assert len(decrypted_paths(decrypted(fixture_document)["deployment"])) == envelopes
    assert decrypted_paths(fixture_document["deployment"]) == []
