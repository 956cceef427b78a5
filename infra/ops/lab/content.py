"""Keycloak's and OpenBao's planned content, on the lab's own servers.

The conformance appliers (`tests/conformance/apply_keycloak.py`, `apply_openbao.py`) replay
the plan's pulumi-keycloak and pulumi-vault resources through the servers' APIs; the lab
hands them its own Keycloak and OpenBao containers. Families the lab cannot apply yet are
recorded in `PENDING` and reported as a failed check, never skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from infra.ops.lab.applier import FamilyApplier

KEYCLOAK = "keycloak:"
OPENBAO = "vault:"
PENDING: dict[str, str] = {}
"""Family prefix -> why it was not applied in this run (read by the report)."""


def _pending(prefix: str, reason: str, progress: Callable[[str], None]) -> FamilyApplier:
    def record(document: Mapping[str, Any]) -> None:
        PENDING[prefix] = reason
        progress(f"{prefix} content NOT applied: {reason}")

    return record


def content_appliers(stack: str, progress: Callable[[str], None]) -> dict[str, FamilyApplier]:
    """The appliers `lab up` passes for the resource families that are not Docker's."""
    return {
        KEYCLOAK: _pending(KEYCLOAK, "the realm is not replayed on the lab's Keycloak yet", progress),
        OPENBAO: _pending(OPENBAO, "OpenBao is not initialised, unsealed and filled in the lab yet", progress),
    }
