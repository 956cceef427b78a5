"""What the seed says the platform should look like, as the audit compares against it.

The seed catalog (`infra/spec/catalog.yaml`) is the auditor's reference: the routes that may
be public (everything else sits behind forward-auth), the documented exceptions to the
hardened container defaults, the egress allow-list with its reasons, the AppRole access
matrix and the realm's groups, roles and clients. It is rendered for the domain the
audited export declares (its `domain` stack output).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from infra.spec import catalog
from infra.spec.models import KeycloakRealmSpec, OpenBaoSpec, ServiceSpec

FALLBACK_DOMAIN = "example.invalid"


@dataclass(frozen=True)
class SeedReference:
    domain: str
    services: dict[str, ServiceSpec]
    openbao: OpenBaoSpec
    keycloak: KeycloakRealmSpec

    @property
    def public_hosts(self) -> frozenset[str]:
        """Hostnames the seed serves without forward-auth (Keycloak, the PSRA API's own OIDC)."""
        return frozenset(route.host for svc in self.services.values() for route in svc.routes if not route.forward_auth)

    def writable_root_allowed(self, service: str) -> bool:
        svc = self.services.get(service)
        return svc is not None and not svc.read_only_root

    def root_user_allowed(self, service: str) -> bool:
        svc = self.services.get(service)
        return svc is not None and svc.user in {"0", "root"}

    def documented_capabilities(self, service: str) -> frozenset[str]:
        svc = self.services.get(service)
        return frozenset(cap.upper().removeprefix("CAP_") for cap in svc.cap_add) if svc is not None else frozenset()

    def egress_reason(self, service: str) -> str | None:
        svc = self.services.get(service)
        return svc.egress_reason if svc is not None and svc.egress else None

    def seed_matrix(self) -> dict[str, tuple[str, ...]]:
        """AppRole -> the seed secret paths it reads (KV and transit)."""
        return {role.name: (*role.secret_paths, *role.transit_keys) for role in self.openbao.approles}

    def seed_path_of(self, acl_path: str) -> str | None:
        """`psra/kv/data/database/credentials` -> `psra/database/credentials` (transit: encrypt or decrypt)."""
        for path in self.openbao.secret_paths:
            if path.engine == "transit":
                prefix = f"{path.namespace}/" if path.namespace else ""
                if acl_path in {f"{prefix}{path.mount}/{op}/{path.key}" for op in ("encrypt", "decrypt")}:
                    return path.seed_path
            elif acl_path == path.acl_path:
                return path.seed_path
        return None


@lru_cache(maxsize=8)
def seed_reference(domain: str | None) -> SeedReference:
    data = catalog.load(domain or FALLBACK_DOMAIN)
    return SeedReference(
        domain=domain or FALLBACK_DOMAIN,
        services={raw["name"]: ServiceSpec.model_validate(raw) for raw in data["services"]},
        openbao=OpenBaoSpec.model_validate(data["openbao"]),
        keycloak=KeycloakRealmSpec.model_validate(data["keycloak"]),
    )


@lru_cache(maxsize=1)
def seed_subdomains() -> frozenset[str]:
    """The subdomains the seed routes (`auth`, `api.psra` …), without any domain."""
    rendered = seed_reference(None)
    suffix = f".{rendered.domain}"
    return frozenset(route.host.removesuffix(suffix) for svc in rendered.services.values() for route in svc.routes)
