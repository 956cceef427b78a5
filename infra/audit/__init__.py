"""Stage 3, document -> reports. Takes a stack-export document (a plan's or a real export) and
gives the audit (rules from `security-invariants.md`), the auditor reports and the
architecture diagram (`diagram`).

`audit(resources)` runs every rule on an export (a plan's or a real `pulumi stack export`)
and builds the secret access matrix, the network exposure map and the identity matrix.
The same rules back the policy pack in `policy/` (all but the export-only ones, which must tell a secret from plaintext).
"""

from __future__ import annotations

from dataclasses import dataclass

from infra.audit import (
    backups,
    container,
    export_shape,
    keycloak,
    monitoring,
    network,
    openbao,
    secrets,
    traefik,
)
from infra.audit.model import Finding, Rule, Severity
from infra.audit.reports import Reports, build_reports
from infra.audit.resources import Resources
from infra.plan.document import ExportedResource

RULES: tuple[Rule, ...] = (
    *container.RULES,
    *network.RULES,
    *traefik.RULES,
    *keycloak.RULES,
    *openbao.RULES,
    *secrets.RULES,
    *backups.RULES,
    *monitoring.RULES,
    *export_shape.RULES,
)
RULES_BY_ID: dict[str, Rule] = {rule.id: rule for rule in RULES}
if len(RULES_BY_ID) != len(RULES):
    raise RuntimeError("two audit rules share an id")


@dataclass(frozen=True)
class AuditResult:
    source: str
    findings: list[Finding]
    reports: Reports
    resource_count: int

    def at_least(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity >= severity]

    def counts(self) -> dict[str, int]:
        return {s.label: sum(1 for f in self.findings if f.severity == s) for s in sorted(Severity, reverse=True)}


def run_rules(resources: Resources, rules: tuple[Rule, ...] = RULES) -> list[Finding]:
    return sorted((finding for rule in rules for finding in rule.check(resources)), key=lambda f: (-f.severity, f.rule, f.urn, f.message))


def audit(exported: list[ExportedResource], source: str = "export") -> AuditResult:
    resources = Resources(exported)
    return AuditResult(source, run_rules(resources), build_reports(resources), len(exported))
