"""Export shape rule (DOC-*): a resource whose properties have the wrong shape is reported, not skipped.

`parse_export` reads a property of the wrong shape (inputs that are text instead of a mapping, say)
as empty so the other rules can run; without this rule such a resource would pass every check
unseen. A real `pulumi stack export` never has one: it is a hand-edited or tampered document.
"""

from __future__ import annotations

from collections.abc import Iterator

from infra.audit.model import Rule, Severity
from infra.audit.resources import Resources
from infra.plan.document import ExportedResource


def _malformed(resource: ExportedResource, _: Resources) -> Iterator[str]:
    for problem in resource.malformed:
        yield f"{resource.type} {resource.name}: {problem}; its properties were not checked"


RULES: tuple[Rule, ...] = (
    Rule(
        "DOC-01",
        Severity.HIGH,
        "every resource of the export has the shape Pulumi writes",
        "audit an unedited `pulumi stack export` or `cli.py plan --json` document",
        "Pulumi stack export format (version 3)",
        subjects=lambda r: [resource for resource in r.all if resource.malformed],
        violations=_malformed,
        export_only=True,
    ),
)
