"""PSRA stack: the origin app built from app/ (JSON API at api.psra, web pages at psra behind forward-auth), origin engine.

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
            "psra-api": Fields(
                env={
                    f"{API_PREFIX}KEYCLOAK_URL": f"https://{spec.host('auth')}",
                    f"{API_PREFIX}KEYCLOAK_REALM": realm,
                    f"{API_PREFIX}OIDC_AUDIENCE": audience,
                    f"{API_PREFIX}OPENBAO_NAMESPACE": "psra",
                    # the web pages (psra.<domain>, behind forward-auth): logout returns here
                    f"{API_PREFIX}PUBLIC_URL": f"https://{spec.host('psra')}",
                }
            ).add(datastore_fields(context, {"REDIS": "psra-redis"}, API_PREFIX)),
            "origin-engine": Fields(env={"OIDC_ISSUER": issuer_url(context)}),
        },
        env_prefixes={"psra-api": API_PREFIX},
    )
