"""OpenBao as declared: ACL policies (HCL parsed), who holds them, and the server's HCL.

Policies are read from the `vault.Policy` resources exactly as they will be written to the
server. A policy's paths are made absolute (namespace-prefixed) so they compare with the
root-namespace layout of the catalog. Policies held by AppRoles are *application*
policies; policies held only by OIDC/JWT roles or identity groups are operator policies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import hcl2
from lark.exceptions import LarkError

from infra.audit.model import strings, text
from infra.audit.resources import Container, Resources
from infra.plan.document import ExportedResource

POLICY = "vault:index/policy:Policy"
APPROLE_ROLE = "vault:appRole/authBackendRole:AuthBackendRole"
JWT_ROLE = "vault:jwt/authBackendRole:AuthBackendRole"
IDENTITY_GROUP = "vault:identity/group:Group"
AUDIT = "vault:index/audit:Audit"
MOUNT = "vault:index/mount:Mount"
HCL_OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


class HclError(ValueError):
    """Text that is not valid HCL."""


@lru_cache(maxsize=256)
def parse_hcl(source: str) -> dict[str, Any]:
    """Parsed HCL (cached by text: parsing is the audit's slowest step; callers never mutate it)."""
    try:
        return hcl2.loads(source, serialization_options=HCL_OPTIONS)
    except (LarkError, ValueError) as exc:
        raise HclError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from exc


@dataclass(frozen=True)
class Grant:
    path: str  # absolute: `<namespace>/<path>` for a namespaced policy
    capabilities: tuple[str, ...]


def policy_grants(source: str, namespace: str = "") -> list[Grant]:
    """The `path "…" { capabilities = […] }` stanzas of an ACL policy."""
    grants: list[Grant] = []
    prefix = f"{namespace.strip('/')}/" if namespace else ""
    for block in parse_hcl(source).get("path", []):
        for path, body in block.items():
            capabilities = body.get("capabilities", []) if isinstance(body, dict) else []
            grants.append(Grant(prefix + path.lstrip("/"), tuple(str(c) for c in capabilities)))
    return grants


@dataclass(frozen=True)
class DeclaredPolicy:
    resource: ExportedResource

    @property
    def urn(self) -> str:
        return self.resource.urn

    @property
    def name(self) -> str:
        return text(self.resource.inputs.get("name")) or self.resource.name

    @property
    def namespace(self) -> str:
        return text(self.resource.inputs.get("namespace")) or ""

    @property
    def source(self) -> str | None:
        return text(self.resource.inputs.get("policy"))

    @cached_property
    def grants(self) -> list[Grant]:
        """Raises HclError when the policy text does not parse."""
        return policy_grants(self.source, self.namespace) if self.source else []


def _holders(resources: list[ExportedResource]) -> set[str]:
    return {name for role in resources for key in ("tokenPolicies", "policies") for name in strings(role.inputs.get(key))}


class VaultConfig:
    """Every declared policy, and which of them applications (AppRoles) hold."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        self.policies = [DeclaredPolicy(p) for p in resources.of_type(POLICY)]
        self.approle_roles = resources.of_type(APPROLE_ROLE)

    @cached_property
    def application_policy_names(self) -> set[str]:
        held_by_apps = _holders(self.approle_roles)
        held_by_operators = _holders(self.resources.of_type(JWT_ROLE, IDENTITY_GROUP))
        unheld = {p.name for p in self.policies} - held_by_apps - held_by_operators
        return held_by_apps | unheld

    def application_policies(self) -> list[DeclaredPolicy]:
        return [p for p in self.policies if p.name in self.application_policy_names]

    def by_name(self, name: str) -> DeclaredPolicy | None:
        return next((p for p in self.policies if p.name == name), None)

    def role_name(self, role: ExportedResource) -> str:
        return text(role.inputs.get("roleName")) or role.name

    def readable_paths(self, role: ExportedResource) -> dict[str, tuple[str, ...]]:
        """ACL path -> capabilities, over every policy an AppRole's tokens carry."""
        paths: dict[str, tuple[str, ...]] = {}
        for name in strings(role.inputs.get("tokenPolicies")) + strings(role.inputs.get("policies")):
            policy = self.by_name(name)
            if policy is None:
                continue
            try:
                for grant in policy.grants:
                    paths[grant.path] = tuple(sorted(set(paths.get(grant.path, ())) | set(grant.capabilities)))
            except HclError:
                continue
        return paths


def server_config(resources: Resources, container: Container) -> dict[str, list[Any]]:
    """The OpenBao server HCL of a container (its and its file seed's `.hcl` uploads), merged.

    Every top-level key maps to the list of its values across files. Raises HclError.
    """
    merged: dict[str, list[Any]] = {}
    for upload in resources.service_files(container.service):
        content = upload.readable
        if content is None or not upload.path.endswith(".hcl"):
            continue
        for key, value in parse_hcl(content).items():
            merged.setdefault(key, []).extend(value if isinstance(value, list) else [value])
    return merged


def find_values(node: Any, key: str) -> list[Any]:
    """Every value stored under `key` anywhere below `node` (blocks come as nested lists/dicts)."""
    found: list[Any] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                # `server_config` keeps a top-level setting as the list of its values across files
                found.extend(v if isinstance(v, list) else [v])
            found.extend(find_values(v, key))
    elif isinstance(node, list):
        for item in node:
            found.extend(find_values(item, key))
    return found


def blocks(config: dict[str, list[Any]], kind: str) -> list[tuple[str, dict[str, Any]]]:
    """`listener "tcp" {…}` -> [("tcp", {…})]."""
    result: list[tuple[str, dict[str, Any]]] = []
    for block in config.get(kind, []):
        if isinstance(block, dict):
            for label, body in block.items():
                result.append((label, body if isinstance(body, dict) else {}))
    return result
