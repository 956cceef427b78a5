"""WPCS stack: frontend and API on MySQL; the API reads its database password from OpenBao."""

from __future__ import annotations

from stacks.apps import Fields, build_app_services, datastore_fields
from stacks.context import PlatformContext


def build(context: PlatformContext) -> None:
    spec = context.spec
    build_app_services(
        context,
        "wpcs",
        per_service={
            "wpcs-frontend": Fields(env={"API_INTERNAL_URL": "http://wpcs-api:8000", "NEXTAUTH_URL": f"https://{spec.host('wpcs')}"}),
            "wpcs-api": datastore_fields(context, {"DATABASE": "wpcs-db"}),
        },
    )
