"""The audit rules as CrossGuard stack policies, one per rule id.

Each policy converts the engine's view of the stack into export entries and runs the
rule's own check, so a preview with `--policy-pack policy` and `cli.py audit` on the
resulting export report the same findings. Values unknown at preview stay Pulumi's unknown
sentinels and are skipped by the rules (invariants fact 4). Export-only rules (SEC-*) are
left out: the engine hands policies decrypted values (pulumi-policy#241).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy import Severity as PolicySeverity
from pulumi_policy.policy import PolicyResource
from pulumi_policy.proxy import _DictProxy, _ListProxy

from infra.audit import RULES
from infra.audit.model import Rule, Severity
from infra.audit.resources import Resources
from infra.plan.document import ExportedResource

PACK_NAME = "sevensa-platform-invariants"
ENFORCEMENT = {
    Severity.HIGH: EnforcementLevel.MANDATORY,
    Severity.MEDIUM: EnforcementLevel.ADVISORY,
    Severity.LOW: EnforcementLevel.ADVISORY,
}
SEVERITY = {Severity.HIGH: PolicySeverity.HIGH, Severity.MEDIUM: PolicySeverity.MEDIUM, Severity.LOW: PolicySeverity.LOW}


def plain(value: Any) -> Any:
    """The engine's unknown-checking proxies as plain dicts and lists (unknowns kept as sentinels)."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        value = value["__target"]
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [plain(item) for item in value]
    return value


def as_exported(resource: PolicyResource) -> ExportedResource:
    props = plain(resource.props)
    return ExportedResource(
        urn=resource.urn,
        type=resource.resource_type,
        custom=not resource.resource_type.startswith(("pulumi:pulumi:", "sevensa:")),
        inputs=props,
        outputs=props,
        parent=resource.parent.urn if resource.parent is not None else "",
        provider=resource.provider.urn if resource.provider is not None else "",
        dependencies=tuple(dependency.urn for dependency in resource.dependencies),
    )


def validator(rule: Rule):  # noqa: ANN201 - a StackValidation callback
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = Resources([as_exported(resource) for resource in args.resources])
        for finding in rule.check(resources):
            report_violation(f"{finding.message} (fix: {finding.fix})", finding.urn)

    return validate


def policy_for(rule: Rule) -> StackValidationPolicy:
    return StackValidationPolicy(
        name=rule.id.lower(),
        description=f"{rule.id}: {rule.title}",
        validate=validator(rule),
        enforcement_level=ENFORCEMENT[rule.severity],
        severity=SEVERITY[rule.severity],
        remediation_steps=rule.fix,
        tags=[rule.family.lower()],
    )


POLICIES: list[StackValidationPolicy] = [policy_for(rule) for rule in RULES if not rule.export_only]
