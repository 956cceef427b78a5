"""Building a spec'd service as a hardened container from inside a stack.

Every stack does the same wiring: look the service up in the spec, hand it the platform
networks and Traefik's routing policy (published by the core stack), reuse volumes that
another container already created, and record what it made for later stacks (the
backup stack mounts the named volumes; monitoring scrapes the containers).
"""

from __future__ import annotations

from typing import Any

import pulumi_docker as docker

from components.container import ContainerArgs, HardenedContainer
from infra.spec.models import ServiceSpec
from infra.spec.traefik_labels import RoutingPolicy
from stacks.context import PlatformContext

# keys of `context.shared` that stacks exchange values under
ROUTING = "routing"
VOLUMES = "volumes"
CONTAINERS = "containers"
CLIENT_SECRETS = "keycloak_client_secrets"
APPROLE_CREDENTIALS = "approle_credentials"


def service_spec(context: PlatformContext, name: str) -> ServiceSpec:
    for service in context.spec.services:
        if service.name == name:
            return service
    raise KeyError(f"service {name!r} is not in the spec; known: {', '.join(s.name for s in context.spec.services)}")


def routing(context: PlatformContext) -> RoutingPolicy | None:
    """Traefik's routing policy, once the core stack has published it."""
    return context.shared.get(ROUTING)


def volumes(context: PlatformContext) -> dict[str, docker.Volume]:
    """Every named volume created so far, by docker volume name."""
    return context.shared.setdefault(VOLUMES, {})


def service_container(context: PlatformContext, name: str, **fields: Any) -> HardenedContainer:
    """`HardenedContainer(name, ContainerArgs(service=<spec of name>, networks, routing, …, **fields))`.

    `fields` are the remaining `ContainerArgs` fields (env, secret_files, config_files,
    command, labels, healthcheck, host_mounts, depends_on, image …).
    """
    service = fields.pop("service", None) or service_spec(context, name)
    args = ContainerArgs(
        service=service,
        networks=context.networks.networks,
        routing=fields.pop("routing", routing(context)),
        shared_volumes=fields.pop("shared_volumes", volumes(context)),
        **fields,
    )
    return register(context, HardenedContainer(service.name, args, context.docker_opts()))


def register(context: PlatformContext, container: HardenedContainer) -> HardenedContainer:
    """Record a container and its volumes for later stacks (backup, monitoring)."""
    volumes(context).update(container.volumes)
    context.shared.setdefault(CONTAINERS, {})[container.service.name] = container
    return container
