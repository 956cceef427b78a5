"""What the stack modules share while the program runs.

Stacks are built in `STACK_NAMES` order; a later stack finds what an earlier one made
(networks, the Docker provider, Traefik's middleware names, Keycloak client secrets …)
here instead of through globals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from components.network import PlatformNetworks
from infra.spec.models import PlatformSpec


@dataclass
class PlatformContext:
    spec: PlatformSpec
    docker_provider: docker.Provider
    networks: PlatformNetworks
    shared: dict[str, Any] = field(default_factory=dict)

    def docker_opts(self, **kwargs: Any) -> pulumi.ResourceOptions:
        """Options for resources on the platform's Docker host."""
        return pulumi.ResourceOptions(provider=self.docker_provider, **kwargs)
