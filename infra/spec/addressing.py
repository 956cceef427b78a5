"""Which addresses of a network Docker hands out itself, and which the spec may fix."""

from __future__ import annotations

import ipaddress


def dynamic_range(subnet: ipaddress.IPv4Network) -> ipaddress.IPv4Network:
    """Where Docker assigns addresses on its own: the upper half of the subnet.

    The spec's fixed addresses live in the lower half. Without a range Docker gives the
    first free address to whichever container starts first, which may be one the spec fixed
    for another (found by the lab: keycloak-db took Traefik's 172.20.8.2, and Traefik then
    failed to start with "Address already in use").
    """
    return list(subnet.subnets(prefixlen_diff=1))[1] if subnet.prefixlen < 31 else subnet
