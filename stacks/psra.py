"""PSRA stack: frontend, the bundled origin-calculation API (built from app/), origin engine.

The data stores (psra-db, psra-redis) are built by the core stack; the API reads their
credentials from OpenBao (`psra/database/credentials`, `psra/database/redis-password`)
through its AppRole.
"""

from __future__ import annotations

from stacks.apps import Fields, build_app_services, datastore_fields, issuer_url
from stacks.context import PlatformContext

API_PREFIX = "PSRA_"


def build(context: PlatformContext) -> None:
    spec = context.spec
    realm = spec.keycloak.realm
    audience = next((c.audience for c in spec.keycloak.clients if c.client_id == "psra-client" and c.audience), "psra-api")
    build_app_services(
        context,
        "psra",
        per_service={
            "psra-frontend": Fields(
                env={"NEXT_PUBLIC_API_URL": f"https://{spec.host('api.psra')}", "API_INTERNAL_URL": "http://psra-api:8000", "NEXTAUTH_URL": f"https://{spec.host('psra')}"}
            ),
            "psra-api": Fields(
                env={
                    f"{API_PREFIX}KEYCLOAK_URL": f"https://{spec.host('auth')}",
                    f"{API_PREFIX}KEYCLOAK_REALM": realm,
                    f"{API_PREFIX}OIDC_AUDIENCE": audience,
                    f"{API_PREFIX}OPENBAO_NAMESPACE": "psra",
                }
            ).add(datastore_fields(context, {"REDIS": "psra-redis"}, API_PREFIX)),
            "origin-engine": Fields(env={"OIDC_ISSUER": issuer_url(context)}),
        },
        env_prefixes={"psra-api": API_PREFIX},
    )
