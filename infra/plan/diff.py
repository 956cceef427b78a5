"""Compare two export documents: resources added, removed, and changed (by input name)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from infra.plan.document import ExportedResource, is_secret


@dataclass
class PlanDiff:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: dict[str, list[str]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.added or self.removed or self.changed)


def _same(old: Any, new: Any) -> bool:
    # Ciphertexts differ between secrets providers (and between runs of a real one), so two
    # secrets compare equal: a changed secret cannot be seen without decrypting it.
    if is_secret(old) and is_secret(new):
        return True
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new, strict=True))
    return old == new


def diff_exports(old: list[ExportedResource], new: list[ExportedResource]) -> PlanDiff:
    before = {r.urn: r for r in old}
    after = {r.urn: r for r in new}
    result = PlanDiff(added=sorted(set(after) - set(before)), removed=sorted(set(before) - set(after)))
    for urn in sorted(set(before) & set(after)):
        old_inputs, new_inputs = before[urn].inputs, after[urn].inputs
        keys = sorted(k for k in set(old_inputs) | set(new_inputs) if not _same(old_inputs.get(k), new_inputs.get(k)))
        if keys:
            result.changed[urn] = keys
    return result
