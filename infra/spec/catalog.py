"""The seed catalog (`catalog.yaml`): the seed document's tables as defaults.

`load(domain)` returns plain dicts (not models) so that stack config can be merged over
them before one validation pass; subdomains become hostnames under `domain` here.
"""

from __future__ import annotations

import copy
import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
PRIVATE_BLOCKS = tuple(ipaddress.IPv4Network(block) for block in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


@lru_cache(maxsize=1)
def _raw() -> dict[str, Any]:
    # our own file: libyaml's safe loader reads it in a tenth of the pure-Python one's time
    return yaml.load(CATALOG_FILE.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - a safe loader


def load(domain: str) -> dict[str, Any]:
    """A fresh, mutable copy of the catalog with every subdomain rendered under `domain`."""
    data = copy.deepcopy(_raw())
    for service in data["services"]:
        for route in service.get("routes", []):
            route["host"] = f"{route['host']}.{domain}"
    for client in data["keycloak"]["clients"]:
        client["redirect_hosts"] = [f"{host}.{domain}" for host in client["redirect_hosts"]]
    return data
