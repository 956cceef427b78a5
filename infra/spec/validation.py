"""Cross-field checks of a `PlatformSpec` that no single model can see.

Each problem names the config key that introduced the offending value (or the catalog
entry when the value is a seed default) so the user knows exactly what to edit.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from infra.spec.catalog import PRIVATE_BLOCKS
from infra.spec.addressing import dynamic_range
from infra.spec.models import PlatformSpec
from infra.spec.problems import Problem

MIN_PREFIX, MAX_PREFIX = 16, 28


def cross_check(
    spec: PlatformSpec,
    source: str,
    network_keys: dict[str, str],
    service_keys: dict[str, str],
    grant_keys: dict[tuple[str, str], str],
) -> list[Problem]:
    problems: list[Problem] = []

    def add(key: str, message: str) -> None:
        problems.append(Problem(source, key, message))

    _subnets(spec, network_keys, add)
    _memberships(spec, service_keys, add)
    if not spec.domain.endswith(".invalid"):  # an invalid domain is reported already
        _hostnames(spec, service_keys, add)
    _duplicates("service/datastore name", [s.name for s in spec.services] + [d.name for d in spec.datastores], "catalog", add)
    _duplicates("volume", [d.volume for d in spec.datastores], "catalog:datastores", add)
    _secret_matrix(spec, grant_keys, add)
    return problems


def _subnets(spec: PlatformSpec, keys: dict[str, str], add) -> None:
    allowed = ", ".join(str(block) for block in PRIVATE_BLOCKS)
    for net in spec.networks:
        key = f"{keys[net.name]}.subnet"
        if not any(net.subnet.subnet_of(block) for block in PRIVATE_BLOCKS):
            add(key, f"{net.subnet} is outside the private ranges ({allowed})")
        elif not MIN_PREFIX <= net.subnet.prefixlen <= MAX_PREFIX:
            add(key, f"{net.subnet} has prefix /{net.subnet.prefixlen}; allowed /{MIN_PREFIX} to /{MAX_PREFIX}")
    for index, net in enumerate(spec.networks):
        for other in spec.networks[index + 1 :]:
            if net.subnet.overlaps(other.subnet):
                # blame whichever side the user wrote; the catalog side is the seed's
                blamed, kept = (net, other) if not keys[net.name].startswith("catalog") else (other, net)
                add(f"{keys[blamed.name]}.subnet", f"{blamed.subnet} overlaps {kept.subnet} of network {kept.name!r}")


def _memberships(spec: PlatformSpec, keys: dict[str, str], add) -> None:
    networks = {net.name: net for net in spec.networks}
    known = ", ".join(sorted(networks))
    for service in spec.services:
        key = keys[service.name]
        for index, name in enumerate(service.networks):
            if name not in networks:
                add(f"{key}.networks[{index}]", f"unknown network {name!r}; known: {known}")
            elif not networks[name].internal and not service.egress:
                add(f"{key}.networks[{index}]", f"{name!r} is not internal; set egress: true with an egress_reason to allow it")
        if service.egress and not service.egress_reason:
            add(f"{key}.egress_reason", "egress needs a reason (it is shown in the audit's egress allow-list)")
        if service.egress and not any(not networks[n].internal for n in service.networks if n in networks):
            add(f"{key}.networks", "egress: true but no non-internal network (e.g. egress-net) is joined")
        for name, address in service.ipv4_addresses.items():
            if name not in service.networks:
                add(f"{key}.ipv4_addresses.{name}", f"address on {name!r}, which the service does not join")
            elif name in networks and address not in networks[name].subnet:
                add(f"{key}.ipv4_addresses.{name}", f"{address} is outside {networks[name].subnet}")
            elif name in networks and address in dynamic_range(networks[name].subnet):
                add(
                    f"{key}.ipv4_addresses.{name}",
                    f"{address} is in {dynamic_range(networks[name].subnet)}, where Docker assigns addresses to other containers; "
                    "use the lower half of the subnet",
                )
            elif name in networks and address == networks[name].subnet.network_address:
                add(f"{key}.ipv4_addresses.{name}", f"{address} is the network address of {name!r}")
            elif name in networks and address == next(networks[name].subnet.hosts()):
                add(f"{key}.ipv4_addresses.{name}", f"{address} is the gateway of {name!r}")
    for store in spec.datastores:
        if store.network not in networks:
            add(f"catalog:datastores.{store.name}.network", f"unknown network {store.network!r}; known: {known}")
    for index, (address, count) in enumerate(Counter(a for s in spec.services for a in s.ipv4_addresses.values()).items()):
        if count > 1:
            add("catalog:services.ipv4_addresses", f"{address} is assigned to {count} services")


def _hostnames(spec: PlatformSpec, keys: dict[str, str], add) -> None:
    hosts: Counter[str] = Counter()
    for service in spec.services:
        for index, route in enumerate(service.routes):
            hosts[route.host] += 1
            if route.host != spec.domain and not route.host.endswith("." + spec.domain):
                add(f"{keys[service.name]}.routes[{index}].host", f"{route.host!r} is outside the domain {spec.domain!r}")
    for host, count in hosts.items():
        if count > 1:
            add("platform:services", f"hostname {host!r} is routed {count} times; each hostname has exactly one router")


def _duplicates(what: str, names: Iterable[str], key: str, add) -> None:
    for name, count in Counter(names).items():
        if count > 1:
            add(key, f"duplicate {what} {name!r}")


def _secret_matrix(spec: PlatformSpec, grant_keys: dict[tuple[str, str], str], add) -> None:
    matrix = {p.seed_path: p for p in spec.openbao.secret_paths}
    kv_paths = sorted(p for p, s in matrix.items() if s.engine == "kv-v2")
    services = {s.name for s in spec.services}
    for role in spec.openbao.approles:
        for index, path in enumerate(role.secret_paths):
            key = grant_keys.get((role.name, path), f"catalog:openbao.approles.{role.name}.secret_paths[{index}]")
            if path not in matrix or matrix[path].engine != "kv-v2":
                add(key, f"secret path {path!r} is not in the secrets matrix; allowed: {', '.join(kv_paths)}")
        for path in role.transit_keys:
            if path not in matrix or matrix[path].engine != "transit":
                add(f"catalog:openbao.approles.{role.name}.transit_keys", f"{path!r} is not a transit key of the matrix")
        for name in role.services:
            if name not in services:
                add(f"catalog:openbao.approles.{role.name}.services", f"unknown service {name!r}")
        for count_path, count in Counter(role.secret_paths).items():
            if count > 1:
                add(grant_keys.get((role.name, count_path), f"catalog:openbao.approles.{role.name}"), f"duplicate path {count_path!r}")
    _duplicates("AppRole", [r.name for r in spec.openbao.approles], "catalog:openbao.approles", add)
    _duplicates("secret path", [p.seed_path for p in spec.openbao.secret_paths], "catalog:openbao.secret_paths", add)
