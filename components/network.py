"""Segmented Docker networks, exactly as the spec lists them.

This is the component pattern every other component follows: typed `*Args` in, children
parented to the component and named after it, outputs registered at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from infra.spec.addressing import dynamic_range
from infra.spec.models import NetworkSpec

LABEL_PREFIX = "nl.sevensa.platform"


@dataclass(frozen=True)
class NetworksArgs:
    networks: tuple[NetworkSpec, ...]
    stack: str


class PlatformNetworks(pulumi.ComponentResource):
    """One `docker.Network` per spec entry: exact subnet and gateway, dynamic addresses only in
    the upper half (`dynamic_range`), `internal` per the spec."""

    networks: dict[str, docker.Network]

    def __init__(self, name: str, args: NetworksArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:Networks", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.networks = {
            net.name: docker.Network(
                f"{name}-{net.name}",
                name=net.name,
                driver="bridge",
                internal=net.internal,
                attachable=False,
                ipam_configs=[
                    docker.NetworkIpamConfigArgs(
                        subnet=str(net.subnet), gateway=str(next(net.subnet.hosts())), ip_range=str(dynamic_range(net.subnet))
                    )
                ],
                labels=[
                    docker.NetworkLabelArgs(label=f"{LABEL_PREFIX}.purpose", value=net.purpose),
                    docker.NetworkLabelArgs(label=f"{LABEL_PREFIX}.stack", value=args.stack),
                ],
                opts=child,
            )
            for net in args.networks
        }
        self.register_outputs({"networks": {name: network.name for name, network in self.networks.items()}})
