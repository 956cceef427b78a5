"""`cli.py audit` end to end (exit codes, formats) and the auditor reports, on crafted exports
and on today's production plan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from infra.audit import audit
from infra.audit.model import Severity
from infra.audit.reference import seed_reference
from infra.audit.render import as_html, as_markdown
from infra.plan.document import parse_export
from tests.harness import Planned
from tests.infra.audit.crafted import DOMAIN, compliant_document, container, dumps
from tests.infra.audit.rule_cases import CASES

ROOT = Path(__file__).resolve().parents[3]
# High findings of the prod plan that come from stacks still being built (none left today;
# add one only with a linked issue). The test holds the line at zero high findings.
PLATFORM_GAPS: frozenset[str] = frozenset()


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)


def test_prod_plan_has_no_high_findings_beyond_platform_gaps(prod_plan: Planned) -> None:
    result = audit(prod_plan.resources, "prod")
    high = {f.rule for f in result.at_least(Severity.HIGH)}
    assert high <= PLATFORM_GAPS, [f"{f.rule} {f.message}" for f in result.at_least(Severity.HIGH) if f.rule not in PLATFORM_GAPS]


def test_prod_plan_secret_access_matches_the_seed_matrix(prod_plan: Planned) -> None:
    rows = {row.approle: row for row in audit(prod_plan.resources, "prod").reports.secret_access}
    assert set(rows) == set(seed_reference("sevensa.nl").seed_matrix())
    assert [name for name, row in rows.items() if not row.matches_seed] == []
    assert "psra/transit/psra-key" in rows["psra-role"].declared


VIOLATIONS = {
    "plaintext password in env": "SEC-01",
    "published database port": "NW-01",
    "wildcard policy": "BAO-03",
    "'*' redirect URI": "KC-04",
    "latest image": "CR-10",
}


@pytest.mark.parametrize("violation", sorted(VIOLATIONS))
def test_audit_exits_1_naming_the_rule(violation: str, tmp_path: Path) -> None:
    rule = VIOLATIONS[violation]
    document = compliant_document()
    urn = CASES[rule].fire(document)
    export = tmp_path / "export.json"
    export.write_text(dumps(document))
    completed = run_cli("audit", str(export), "--format", "json")
    assert completed.returncode == 1, completed.stderr
    findings = json.loads(completed.stdout)["findings"]
    assert {(f["rule"], f["urn"]) for f in findings} >= {(rule, urn)}


def test_audit_of_a_compliant_export_exits_0_even_on_low(tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text(dumps(compliant_document()))
    completed = run_cli("audit", str(export), "--format", "json", "--fail-on", "low")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads(completed.stdout)["counts"] == {"high": 0, "medium": 0, "low": 0}


def test_fail_on_threshold_decides_the_exit_code(tmp_path: Path) -> None:
    document = compliant_document()
    CASES["CR-08"].fire(document)  # a low-severity finding only
    export = tmp_path / "export.json"
    export.write_text(dumps(document))
    assert run_cli("audit", str(export), "--format", "json").returncode == 0
    assert run_cli("audit", str(export), "--format", "json", "--fail-on", "low").returncode == 1


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    missing = run_cli("audit", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    (tmp_path / "v2.json").write_text(json.dumps({"version": 2, "deployment": {}}))
    assert run_cli("audit", str(tmp_path / "v2.json")).returncode == 2
    assert run_cli("audit", str(tmp_path / "v2.json"), "--format", "pdf").returncode == 2


def test_reports_show_what_is_declared_and_where_it_departs_from_the_seed() -> None:
    document = compliant_document()
    CASES["BAO-03"].fire(document)  # psra-role's policy is now one glob: psra/kv/data/*
    container(document, "psra-frontend")["inputs"]["networksAdvanced"].append({"name": "egress-net"})
    reports = audit(parse_export(document), "crafted").reports

    psra = next(row for row in reports.secret_access if row.approle == "psra-role")
    assert psra.declared == ()
    assert psra.unmapped == ("psra/kv/data/*",)
    assert "psra/database/credentials" in psra.missing and not psra.matches_seed

    exposure = {row.container: row for row in reports.exposure}
    assert exposure["traefik"].published == ("0.0.0.0:80->80", "0.0.0.0:443->443")
    assert exposure["psra-db"].networks == ("psra-db-net (internal)",) and not exposure["psra-db"].egress
    assert exposure["psra-frontend"].egress and exposure["psra-frontend"].egress_reason is None
    assert exposure["keycloak"].egress_reason == "SMTP for account e-mails"
    assert exposure["keycloak"].hosts == (f"auth.{DOMAIN}",)

    assert [(g.group, g.roles, g.clients) for g in reports.identity] == [("PSRA Users", ("psra-user",), ("psra-client",))]
    assert reports.seed_clients_by_role["psra-user"] == ["psra-client"]


def test_markdown_and_html_carry_findings_and_reports() -> None:
    document = compliant_document()
    CASES["KC-04"].fire(document)
    result = audit(parse_export(document), "crafted <export>")
    markdown = as_markdown(result)
    assert "| high | KC-04 | `Client psra-client` |" in markdown
    assert "### Secret access matrix" in markdown and "| psra-role |" in markdown
    html = as_html(result)
    assert "crafted &lt;export&gt;" in html and "<export>" not in html
    assert html.count("<tr") == 1 + len(result.findings) + 1 + len(result.reports.secret_access) + 1 + len(
        result.reports.exposure
    ) + 1 + len(result.reports.identity)
