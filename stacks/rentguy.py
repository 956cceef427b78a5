"""RentGuy stack: frontend and API; the API reads its database and Redis passwords from OpenBao."""

from __future__ import annotations

from stacks.apps import Fields, build_app_services, datastore_fields
from stacks.context import PlatformContext


def build(context: PlatformContext) -> None:
    spec = context.spec
    build_app_services(
        context,
        "rentguy",
        per_service={
            "rentguy-frontend": Fields(env={"API_INTERNAL_URL": "http://rentguy-api:8000", "NEXTAUTH_URL": f"https://{spec.host('rentguy')}"}),
            "rentguy-api": datastore_fields(context, {"DATABASE": "rentguy-db", "REDIS": "rentguy-redis"}),
        },
    )
