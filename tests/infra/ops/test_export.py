"""The auditor export with the real Pulumi CLI: the offline plan of prod imported as the state of a
real file-backend stack (secrets encrypted by the CLI with the stack's passphrase), exported by
`cli.py export`, audited. The export never decrypts, and refuses a document that comes back decrypted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from infra.audit import audit
from infra.ops.deploy import DeployError
from infra.ops.export import decrypted_paths, sealed_document
from infra.plan.document import SECRET_SIG, parse_export, read_export
from tests.infra.conftest import CliRun
from tests.infra.ops.imported_plan import ImportedPlan, import_plan
from tests.servers.pulumi_cli import PulumiProject

PASSPHRASE = "correct horse battery staple (test only)"


@pytest.fixture
def imported_prod(pulumi_project: PulumiProject) -> ImportedPlan:
    return import_plan(pulumi_project, "prod", PASSPHRASE)


def findings(resources: list) -> list[tuple[str, str, str, str]]:  # noqa: ANN001
    return sorted((f.rule, f.severity.label, f.urn, f.message) for f in audit(resources).findings)


def test_the_export_of_a_real_stack_keeps_every_secret_encrypted_and_audits_like_the_plan(
    real_cli: CliRun, pulumi_project: PulumiProject, imported_prod: ImportedPlan, tmp_path: Path
) -> None:
    state = pulumi_project.state_file("prod").read_text()
    assert not [p for p in imported_prod.plaintexts if p in state]
    output = tmp_path / "audit" / "export.json"
    completed = real_cli("export", "--stack", "prod", "-o", str(output), PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert completed.returncode == 0, completed.stderr
    assert "wrote" in completed.stdout and "360 resources, secrets encrypted" in completed.stdout
    written = output.read_text()
    assert not [p for p in imported_prod.plaintexts if p in written + completed.stdout + completed.stderr]
    document = json.loads(written)
    assert decrypted_paths(document["deployment"]) == []
    assert written.count(SECRET_SIG) == written.count('"ciphertext"') == len(imported_prod.plaintexts) == 206
    assert document["deployment"]["secrets_providers"]["type"] == "passphrase"
    on_the_plan = findings(parse_export(imported_prod.plan))
    assert on_the_plan and findings(read_export(output)) == on_the_plan


def test_the_ciphertexts_open_with_the_stack_passphrase_and_nothing_else(
    pulumi_project: PulumiProject, imported_prod: ImportedPlan
) -> None:
    shown = pulumi_project.pulumi("stack", "export", "--show-secrets", "--stack", "prod", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert shown.returncode == 0, shown.stderr
    assert all(plaintext in shown.stdout for plaintext in imported_prod.plaintexts)
    wrong = pulumi_project.pulumi("stack", "export", "--show-secrets", "--stack", "prod", PULUMI_CONFIG_PASSPHRASE="wrong")
    assert wrong.returncode != 0 and "incorrect passphrase" in wrong.stderr
    assert not [p for p in imported_prod.plaintexts if p in wrong.stdout + wrong.stderr]


def test_export_needs_no_passphrase(real_cli: CliRun, imported_prod: ImportedPlan, tmp_path: Path) -> None:
    """Exporting never decrypts, so the CLI is not given a passphrase when none is at hand."""
    output = tmp_path / "export.json"
    completed = real_cli("export", "--stack", "prod", "-o", str(output))
    assert completed.returncode == 0, completed.stderr
    assert decrypted_paths(json.loads(output.read_text())["deployment"]) == []


def test_export_of_an_unknown_stack(real_cli: CliRun, pulumi_project: PulumiProject, tmp_path: Path) -> None:
    completed = real_cli("export", "--stack", "prod", "-o", str(tmp_path / "export.json"), PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert completed.returncode == 2
    assert completed.stderr.strip() == (
        f"Stack prod does not exist in the backend {pulumi_project.backend_url}: create it with `python cli.py up --stack prod`, "
        "or point PULUMI_BACKEND_URL at the backend that holds it."
    )
    assert not (tmp_path / "export.json").exists()


def test_a_decrypted_document_is_refused(pulumi_project: PulumiProject, imported_prod: ImportedPlan) -> None:
    """The real CLI prints plaintexts only when asked (`--show-secrets`, which the export never passes);
    its answer to that is what the check must refuse, without repeating any of it."""
    shown = pulumi_project.pulumi("stack", "export", "--show-secrets", "--stack", "prod", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    assert shown.returncode == 0, shown.stderr
    with pytest.raises(DeployError) as refused:
        sealed_document(shown.stdout, "prod")
    assert refused.value.exit_code == 1
    assert refused.value.message.startswith("Refusing to write the export of stack prod: 206 secret(s) came back decrypted (first at ")
    assert not [p for p in imported_prod.plaintexts if p in refused.value.message]
