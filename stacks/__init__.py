"""The Pulumi program: one module per concern, built in `STACK_NAMES` order from the spec."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_docker as docker

from components.network import NetworksArgs, PlatformNetworks
from infra.spec.models import PlatformSpec
from stacks import ai as ai_stack
from stacks import backup as backup_stack
from stacks import core as core_stack
from stacks import monitoring as monitoring_stack
from stacks import psra as psra_stack
from stacks import rentguy as rentguy_stack
from stacks import security as security_stack
from stacks import wpcs as wpcs_stack
from stacks.context import PlatformContext

StackBuilder = Callable[[PlatformContext], None]

# Stack name -> builder, run in `STACK_NAMES` order (core first: every later stack routes
# through its Traefik and finds its data stores' credentials).
BUILDERS: dict[str, StackBuilder] = {
    "core": core_stack.build,
    "security": security_stack.build,
    "psra": psra_stack.build,
    "rentguy": rentguy_stack.build,
    "wpcs": wpcs_stack.build,
    "ai": ai_stack.build,
    "monitoring": monitoring_stack.build,
    "backup": backup_stack.build,
}


def build_platform(spec: PlatformSpec) -> PlatformContext:
    provider = docker.Provider("docker", host=spec.docker_host)
    networks = PlatformNetworks(
        "networks",
        NetworksArgs(networks=spec.networks, stack=spec.stack_name),
        pulumi.ResourceOptions(providers=[provider]),
    )
    context = PlatformContext(spec=spec, docker_provider=provider, networks=networks)
    for stack in spec.stacks:
        BUILDERS[stack](context)
    pulumi.export("domain", spec.domain)
    pulumi.export("stacks", list(spec.stacks))
    pulumi.export("networks", {net.name: str(net.subnet) for net in spec.networks})
    return context
