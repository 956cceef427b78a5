"""The Pulumi program: one module per concern, built in `STACK_NAMES` order from the spec."""

from __future__ import annotations

from collections.abc import Callable

import pulumi
import pulumi_docker as docker

from components.network import NetworksArgs, PlatformNetworks
from infra.spec import PlatformSpec
from stacks.context import PlatformContext

StackBuilder = Callable[[PlatformContext], None]

# Stack name -> builder. A stack without a builder yet contributes nothing but its
# networks; later issues register theirs here.
BUILDERS: dict[str, StackBuilder] = {}


def build_platform(spec: PlatformSpec) -> PlatformContext:
    provider = docker.Provider("docker", host=spec.docker_host)
    networks = PlatformNetworks(
        "networks",
        NetworksArgs(networks=spec.networks, stack=spec.stack_name),
        pulumi.ResourceOptions(providers=[provider]),
    )
    context = PlatformContext(spec=spec, docker_provider=provider, networks=networks)
    for stack in spec.stacks:
        builder = BUILDERS.get(stack)
        if builder is not None:
            builder(context)
    pulumi.export("domain", spec.domain)
    pulumi.export("stacks", list(spec.stacks))
    pulumi.export("networks", {net.name: str(net.subnet) for net in spec.networks})
    return context
