"""Building a stack's data stores and publishing their credentials.

`context.shared["datastore_credentials"][<store name>]` holds a `DatastoreCredentials`
(passwords as Pulumi secrets) for every store built so far: the security stack writes
them to OpenBao at the seed's secret paths, the backup stack dumps with them. The
security stack calls `build_datastores(context, "security")` for Keycloak's database.
"""

from __future__ import annotations

import pulumi

from components.datastore import Datastore, DatastoreArgs, DatastoreCredentials
from stacks.context import PlatformContext
from stacks.services import register

CREDENTIALS = "datastore_credentials"


def credentials(context: PlatformContext) -> dict[str, DatastoreCredentials]:
    return context.shared.setdefault(CREDENTIALS, {})


def build_datastores(context: PlatformContext, stack: str) -> dict[str, Datastore]:
    """Every data store the spec assigns to `stack`, by name."""
    built: dict[str, Datastore] = {}
    for store in context.spec.datastores_of(stack):
        datastore = Datastore(
            store.name,
            DatastoreArgs(store=store, networks=context.networks.networks),
            pulumi.ResourceOptions(providers=[context.docker_provider]),
        )
        register(context, datastore.container)
        credentials(context)[store.name] = datastore.credentials
        built[store.name] = datastore
    return built
