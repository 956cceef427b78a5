"""Every condition of the cross-field checks (`infra.spec.validation.cross_check`): a bad case with
its exact key and message, and a near miss that must pass, boundaries from both sides.

The checks run on a small hand-made platform (three networks, three services, two datastores,
one AppRole) so each case's problem list is exact: one problem, or none.
"""

from __future__ import annotations

import ipaddress

import pytest

from infra.spec.models import AppRoleSpec, DatastoreSpec, NetworkSpec, PlatformSpec, RouteSpec, SecretPathSpec, ServiceSpec
from infra.spec.problems import Problem
from infra.spec.validation import cross_check
from tests.harness import spec_for

SOURCE = "Pulumi.t.yaml"
KNOWN = "app-net, db-net, front-net"


def network(name: str, subnet: str, internal: bool = True) -> NetworkSpec:
    return NetworkSpec(name=name, subnet=ipaddress.IPv4Network(subnet), internal=internal, purpose="test")


def service(name: str, networks: tuple[str, ...], **fields) -> ServiceSpec:
    return ServiceSpec(name=name, stack="core", description="test", image="nginx:1.27.0", networks=networks, **fields)


def datastore(name: str, network_name: str = "db-net", volume: str | None = None) -> DatastoreSpec:
    return DatastoreSpec(name=name, stack="psra", engine="postgres", image="postgres:16.4", network=network_name, volume=volume or f"{name}-data")


def kv(seed_path: str) -> SecretPathSpec:
    namespace, key = seed_path.split("/", 1)
    return SecretPathSpec(seed_path=seed_path, namespace=namespace, mount="kv", key=key, description="test")


def transit(seed_path: str) -> SecretPathSpec:
    namespace, key = seed_path.split("/", 1)
    return SecretPathSpec(seed_path=seed_path, namespace=namespace, mount="transit", key=key, description="test", engine="transit")


NETWORKS = (network("front-net", "172.20.0.0/24", internal=False), network("app-net", "172.20.1.0/24"), network("db-net", "172.20.2.0/24"))
SERVICES = (
    service(
        "proxy",
        ("front-net", "app-net"),
        egress=True,
        egress_reason="ACME certificates",
        ipv4_addresses={"app-net": ipaddress.IPv4Address("172.20.1.2")},
        routes=(RouteSpec(host="example.org", service_port=80),),
    ),
    service(
        "api",
        ("app-net", "db-net"),
        ipv4_addresses={"app-net": ipaddress.IPv4Address("172.20.1.3")},
        routes=(RouteSpec(host="api.example.org", service_port=8000), RouteSpec(host="admin.api.example.org", service_port=8001)),
    ),
    service("worker", ("db-net",)),
)
DATASTORES = (datastore("db"), datastore("cache"))
SECRET_PATHS = (kv("app/db"), kv("app/token"), transit("app/key"))
ROLE = AppRoleSpec(name="app-role", services=("api", "worker"), secret_paths=("app/db", "app/token"), transit_keys=("app/key",))
BASE = spec_for({"domain": "example.org"})
BASE = BASE.model_copy(
    update={
        "networks": NETWORKS,
        "services": SERVICES,
        "datastores": DATASTORES,
        "openbao": BASE.openbao.model_copy(update={"secret_paths": SECRET_PATHS, "approles": (ROLE,)}),
    }
)
NETWORK_KEYS = {"front-net": "catalog:networks[0]", "app-net": "catalog:networks[1]", "db-net": "catalog:networks[2]"}
SERVICE_KEYS = {"proxy": "catalog:services.proxy", "api": "platform:services.api", "worker": "catalog:services.worker", "extra": "catalog:services.extra"}


def spec_with(**update) -> PlatformSpec:
    openbao = update.pop("openbao", {})
    if openbao:
        update["openbao"] = BASE.openbao.model_copy(update=openbao)
    return BASE.model_copy(update=update)


def problems(spec: PlatformSpec, network_keys: dict | None = None, grant_keys: dict | None = None) -> list[tuple[str, str]]:
    found = cross_check(spec, SOURCE, {**NETWORK_KEYS, **(network_keys or {})}, SERVICE_KEYS, grant_keys or {})
    assert all(isinstance(p, Problem) and p.file == SOURCE for p in found), found
    return [(p.key, p.message) for p in found]


def replace_service(name: str, **fields) -> tuple[ServiceSpec, ...]:
    return tuple(s.model_copy(update=fields) if s.name == name else s for s in SERVICES)


def test_the_hand_made_platform_is_valid() -> None:
    assert problems(BASE) == []


def test_the_problem_carries_the_source_file() -> None:
    spec = spec_with(networks=(network("front-net", "8.8.8.0/24", internal=False), *NETWORKS[1:]))
    found = cross_check(spec, "Pulumi.other.yaml", NETWORK_KEYS, SERVICE_KEYS, {})
    assert found == [Problem("Pulumi.other.yaml", "catalog:networks[0].subnet", "8.8.8.0/24 is outside the private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")]


# --- subnets: private ranges, prefix /16 to /28, overlaps ---------------------------------------


def with_extra_network(subnet: str) -> list[tuple[str, str]]:
    spec = spec_with(networks=(*NETWORKS, network("extra-net", subnet)))
    return problems(spec, {"extra-net": "platform:networks[0]"})


@pytest.mark.parametrize(
    "subnet",
    ["10.0.0.0/16", "10.255.255.0/24", "172.16.0.0/16", "172.31.255.0/24", "192.168.0.0/16", "192.168.255.240/28", "10.9.0.0/28"],
)
def test_private_subnets_with_prefix_16_to_28_are_accepted(subnet: str) -> None:
    assert with_extra_network(subnet) == []


@pytest.mark.parametrize(
    "subnet",
    ["8.8.8.0/24", "9.255.255.0/24", "11.0.0.0/16", "172.15.255.0/24", "172.32.0.0/24", "192.167.255.0/24", "192.169.0.0/24", "192.0.0.0/8"],
)
def test_a_subnet_outside_the_private_ranges_is_refused(subnet: str) -> None:
    assert with_extra_network(subnet) == [
        ("platform:networks[0].subnet", f"{subnet} is outside the private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")
    ]


@pytest.mark.parametrize(("subnet", "prefix"), [("10.0.0.0/15", 15), ("10.9.0.0/29", 29), ("10.0.0.0/8", 8), ("10.9.0.0/32", 32)])
def test_a_prefix_outside_16_to_28_is_refused(subnet: str, prefix: int) -> None:
    assert with_extra_network(subnet) == [("platform:networks[0].subnet", f"{subnet} has prefix /{prefix}; allowed /16 to /28")]


def test_a_user_network_overlapping_a_catalog_network_is_blamed_whichever_comes_first() -> None:
    message = "172.20.1.128/25 overlaps 172.20.1.0/24 of network 'app-net'"
    after = spec_with(networks=(*NETWORKS, network("extra-net", "172.20.1.128/25")))
    assert problems(after, {"extra-net": "platform:networks[0]"}) == [("platform:networks[0].subnet", message)]
    before = spec_with(networks=(network("extra-net", "172.20.1.128/25"), *NETWORKS))
    assert problems(before, {"extra-net": "platform:networks[0]"}) == [("platform:networks[0].subnet", message)]


def test_two_overlapping_catalog_networks_blame_the_later_one() -> None:
    spec = spec_with(networks=(*NETWORKS, network("extra-net", "172.20.2.0/25")))
    assert problems(spec, {"extra-net": "catalog:networks[3]"}) == [
        ("catalog:networks[3].subnet", "172.20.2.0/25 overlaps 172.20.2.0/24 of network 'db-net'")
    ]


def test_two_overlapping_user_networks_blame_the_earlier_one() -> None:
    spec = spec_with(networks=(*NETWORKS, network("one-net", "10.5.0.0/24"), network("two-net", "10.5.0.0/16")))
    keys = {"one-net": "platform:networks[0]", "two-net": "platform:networks[1]"}
    assert problems(spec, keys) == [("platform:networks[0].subnet", "10.5.0.0/24 overlaps 10.5.0.0/16 of network 'two-net'")]


def test_adjacent_subnets_do_not_overlap() -> None:
    assert with_extra_network("172.20.3.0/24") == []
    assert with_extra_network("172.19.255.0/24") == []


def test_every_pair_of_networks_is_compared_not_only_neighbours() -> None:
    spec = spec_with(networks=(network("one-net", "10.5.0.0/24"), network("two-net", "10.6.0.0/24"), network("three-net", "10.7.0.0/24"), network("four-net", "10.5.0.0/25")))
    keys = {name: f"platform:networks[{i}]" for i, name in enumerate(("one-net", "two-net", "three-net", "four-net"))}
    found = [p for p in problems(spec, keys) if p[0].endswith(".subnet")]
    assert found == [("platform:networks[0].subnet", "10.5.0.0/24 overlaps 10.5.0.0/25 of network 'four-net'")]


def test_each_overlapping_pair_is_reported_once() -> None:
    spec = spec_with(networks=(network("one-net", "10.5.0.0/16"), network("two-net", "10.5.1.0/24"), network("three-net", "10.5.2.0/24")))
    keys = {name: f"platform:networks[{i}]" for i, name in enumerate(("one-net", "two-net", "three-net"))}
    found = [p for p in problems(spec, keys) if p[0].endswith(".subnet")]
    assert found == [
        ("platform:networks[0].subnet", "10.5.0.0/16 overlaps 10.5.1.0/24 of network 'two-net'"),
        ("platform:networks[0].subnet", "10.5.0.0/16 overlaps 10.5.2.0/24 of network 'three-net'"),
    ]


# --- memberships: known networks, internal unless egress, addresses ---------------------------


def test_an_unknown_network_is_named_with_its_index_and_the_known_ones() -> None:
    spec = spec_with(services=replace_service("api", networks=("app-net", "nowhere-net")))
    assert problems(spec) == [("platform:services.api.networks[1]", f"unknown network 'nowhere-net'; known: {KNOWN}")]


def test_a_non_internal_network_needs_egress() -> None:
    spec = spec_with(services=replace_service("api", networks=("app-net", "db-net", "front-net")))
    assert problems(spec) == [
        ("platform:services.api.networks[2]", "'front-net' is not internal; set egress: true with an egress_reason to allow it")
    ]


def test_a_non_internal_network_with_egress_and_a_reason_passes() -> None:
    spec = spec_with(services=replace_service("api", networks=("app-net", "db-net", "front-net"), egress=True, egress_reason="webhooks"))
    assert problems(spec) == []


@pytest.mark.parametrize("reason", [None, ""])
def test_egress_needs_a_reason(reason: str | None) -> None:
    spec = spec_with(services=replace_service("proxy", egress_reason=reason))
    assert problems(spec) == [("catalog:services.proxy.egress_reason", "egress needs a reason (it is shown in the audit's egress allow-list)")]


def test_egress_needs_a_non_internal_network() -> None:
    spec = spec_with(services=replace_service("api", egress=True, egress_reason="webhooks"))
    assert problems(spec) == [("platform:services.api.networks", "egress: true but no non-internal network (e.g. egress-net) is joined")]


def test_egress_with_an_unknown_network_reports_both() -> None:
    spec = spec_with(services=replace_service("worker", networks=("db-net", "ghost-net"), egress=True, egress_reason="webhooks"))
    assert problems(spec) == [
        ("catalog:services.worker.networks[1]", f"unknown network 'ghost-net'; known: {KNOWN}"),
        ("catalog:services.worker.networks", "egress: true but no non-internal network (e.g. egress-net) is joined"),
    ]


def test_an_address_on_a_network_the_service_does_not_join() -> None:
    spec = spec_with(services=replace_service("worker", ipv4_addresses={"app-net": ipaddress.IPv4Address("172.20.1.9")}))
    assert problems(spec) == [("catalog:services.worker.ipv4_addresses.app-net", "address on 'app-net', which the service does not join")]


@pytest.mark.parametrize("address", ["172.20.2.2", "172.20.2.64", "172.20.2.127"])
def test_a_fixed_address_in_the_lower_half_after_the_gateway_passes(address: str) -> None:
    spec = spec_with(services=replace_service("worker", ipv4_addresses={"db-net": ipaddress.IPv4Address(address)}))
    assert problems(spec) == []


@pytest.mark.parametrize("address", ["172.20.1.255", "172.20.3.0", "10.0.0.1"])
def test_an_address_outside_the_subnet_is_refused(address: str) -> None:
    spec = spec_with(services=replace_service("worker", ipv4_addresses={"db-net": ipaddress.IPv4Address(address)}))
    assert problems(spec) == [("catalog:services.worker.ipv4_addresses.db-net", f"{address} is outside 172.20.2.0/24")]


@pytest.mark.parametrize("address", ["172.20.2.128", "172.20.2.200", "172.20.2.255"])
def test_an_address_in_dockers_dynamic_upper_half_is_refused(address: str) -> None:
    spec = spec_with(services=replace_service("worker", ipv4_addresses={"db-net": ipaddress.IPv4Address(address)}))
    assert problems(spec) == [
        (
            "catalog:services.worker.ipv4_addresses.db-net",
            f"{address} is in 172.20.2.128/25, where Docker assigns addresses to other containers; use the lower half of the subnet",
        )
    ]


def test_the_dynamic_half_follows_the_prefix() -> None:
    wide = (*NETWORKS, network("wide-net", "10.5.0.0/16"))
    lower = spec_with(networks=wide, services=(*SERVICES, service("extra", ("wide-net",), ipv4_addresses={"wide-net": ipaddress.IPv4Address("10.5.127.255")})))
    assert problems(lower, {"wide-net": "catalog:networks[3]"}) == []
    upper = spec_with(networks=wide, services=(*SERVICES, service("extra", ("wide-net",), ipv4_addresses={"wide-net": ipaddress.IPv4Address("10.5.128.0")})))
    assert problems(upper, {"wide-net": "catalog:networks[3]"}) == [
        (
            "catalog:services.extra.ipv4_addresses.wide-net",
            "10.5.128.0 is in 10.5.128.0/17, where Docker assigns addresses to other containers; use the lower half of the subnet",
        )
    ]


def test_the_network_address_is_refused() -> None:
    """Docker refuses to start a container fixed on the network address ("Address already in use");
    validation accepted it before."""
    spec = spec_with(services=replace_service("worker", ipv4_addresses={"db-net": ipaddress.IPv4Address("172.20.2.0")}))
    assert problems(spec) == [("catalog:services.worker.ipv4_addresses.db-net", "172.20.2.0 is the network address of 'db-net'")]


def test_the_gateway_address_is_refused() -> None:
    spec = spec_with(services=replace_service("worker", ipv4_addresses={"db-net": ipaddress.IPv4Address("172.20.2.1")}))
    assert problems(spec) == [("catalog:services.worker.ipv4_addresses.db-net", "172.20.2.1 is the gateway of 'db-net'")]


def test_an_address_on_an_unknown_joined_network_is_reported_once() -> None:
    spec = spec_with(services=replace_service("worker", networks=("db-net", "ghost-net"), ipv4_addresses={"ghost-net": ipaddress.IPv4Address("10.0.0.1")}))
    assert problems(spec) == [("catalog:services.worker.networks[1]", f"unknown network 'ghost-net'; known: {KNOWN}")]


def test_a_datastore_on_an_unknown_network() -> None:
    spec = spec_with(datastores=(datastore("db", "ghost-net"), DATASTORES[1]))
    assert problems(spec) == [("catalog:datastores.db.network", f"unknown network 'ghost-net'; known: {KNOWN}")]


def test_an_address_given_to_two_services_is_refused_and_counted() -> None:
    taken = {"app-net": ipaddress.IPv4Address("172.20.1.3")}
    twice = spec_with(services=replace_service("proxy", ipv4_addresses=taken))
    assert problems(twice) == [("catalog:services.ipv4_addresses", "172.20.1.3 is assigned to 2 services")]
    thrice = twice.model_copy(update={"services": (*twice.services, service("extra", ("app-net",), ipv4_addresses=taken))})
    assert problems(thrice) == [("catalog:services.ipv4_addresses", "172.20.1.3 is assigned to 3 services")]


def test_the_same_address_on_two_networks_of_one_service_is_counted_too() -> None:
    """Two different subnets cannot hold one address: only the subnet check and the count speak."""
    spec = spec_with(services=replace_service("api", ipv4_addresses={"app-net": ipaddress.IPv4Address("172.20.1.3"), "db-net": ipaddress.IPv4Address("172.20.1.3")}))
    assert problems(spec) == [
        ("platform:services.api.ipv4_addresses.db-net", "172.20.1.3 is outside 172.20.2.0/24"),
        ("catalog:services.ipv4_addresses", "172.20.1.3 is assigned to 2 services"),
    ]


# --- hostnames: inside the domain, one router each -------------------------------------------


@pytest.mark.parametrize("host", ["example.org", "api2.example.org", "a.b.c.example.org"])
def test_the_domain_and_its_subdomains_are_accepted(host: str) -> None:
    spec = spec_with(services=replace_service("proxy", routes=(RouteSpec(host=host, service_port=80),)))
    assert problems(spec) == []


@pytest.mark.parametrize("host", ["badexample.org", "example.org.evil.com", "example.com", "org", "xample.org"])
def test_a_host_outside_the_domain_is_refused(host: str) -> None:
    spec = spec_with(services=replace_service("api", routes=(SERVICES[1].routes[0], RouteSpec(host=host, service_port=80))))
    assert problems(spec) == [("platform:services.api.routes[1].host", f"{host!r} is outside the domain 'example.org'")]


def test_hosts_are_not_checked_while_the_domain_itself_is_invalid() -> None:
    """The domain problem is reported by the loader; every route would repeat it."""
    placeholder = spec_with(domain="placeholder.invalid")
    assert problems(placeholder) == []
    checked = spec_with(domain="placeholder.invalid.org")
    assert problems(checked) == [
        ("catalog:services.proxy.routes[0].host", "'example.org' is outside the domain 'placeholder.invalid.org'"),
        ("platform:services.api.routes[0].host", "'api.example.org' is outside the domain 'placeholder.invalid.org'"),
        ("platform:services.api.routes[1].host", "'admin.api.example.org' is outside the domain 'placeholder.invalid.org'"),
    ]


def test_a_hostname_routed_twice_is_refused_and_counted() -> None:
    twice = spec_with(services=replace_service("worker", routes=(RouteSpec(host="api.example.org", service_port=80),)))
    assert problems(twice) == [("platform:services", "hostname 'api.example.org' is routed 2 times; each hostname has exactly one router")]
    thrice = spec_with(services=replace_service("worker", routes=(RouteSpec(host="api.example.org", service_port=80),) * 2))
    assert problems(thrice) == [("platform:services", "hostname 'api.example.org' is routed 3 times; each hostname has exactly one router")]


# --- duplicates ------------------------------------------------------------------------------


def test_a_datastore_named_like_a_service_is_a_duplicate() -> None:
    spec = spec_with(datastores=(datastore("api", volume="api-data"), DATASTORES[1]))
    assert problems(spec) == [("catalog", "duplicate service/datastore name 'api'")]


def test_two_services_of_one_name_are_a_duplicate() -> None:
    spec = spec_with(services=(*SERVICES, service("worker", ("db-net",))))
    assert problems(spec) == [("catalog", "duplicate service/datastore name 'worker'")]


def test_two_datastores_sharing_a_volume_are_refused() -> None:
    spec = spec_with(datastores=(datastore("db", volume="shared-data"), datastore("cache", volume="shared-data")))
    assert problems(spec) == [("catalog:datastores", "duplicate volume 'shared-data'")]


# --- the secrets matrix ----------------------------------------------------------------------


def with_role(**fields) -> PlatformSpec:
    return spec_with(openbao={"approles": (ROLE.model_copy(update=fields),)})


def test_a_granted_path_outside_the_matrix_names_the_allowed_kv_paths() -> None:
    spec = with_role(secret_paths=("app/db", "app/backdoor"))
    message = "secret path 'app/backdoor' is not in the secrets matrix; allowed: app/db, app/token"
    assert problems(spec) == [("catalog:openbao.approles.app-role.secret_paths[1]", message)]
    keyed = {("app-role", "app/backdoor"): "platform:secretGrants.app-role[1]"}
    assert problems(spec, grant_keys=keyed) == [("platform:secretGrants.app-role[1]", message)]


def test_a_transit_key_is_not_a_readable_secret_path() -> None:
    spec = with_role(secret_paths=("app/key",))
    assert problems(spec) == [
        ("catalog:openbao.approles.app-role.secret_paths[0]", "secret path 'app/key' is not in the secrets matrix; allowed: app/db, app/token")
    ]


@pytest.mark.parametrize("key", ["app/db", "app/missing-key"])
def test_transit_keys_must_be_transit_keys_of_the_matrix(key: str) -> None:
    spec = with_role(transit_keys=(key,))
    assert problems(spec) == [("catalog:openbao.approles.app-role.transit_keys", f"{key!r} is not a transit key of the matrix")]


def test_an_approle_bound_to_an_unknown_service() -> None:
    spec = with_role(services=("api", "ghost"))
    assert problems(spec) == [("catalog:openbao.approles.app-role.services", "unknown service 'ghost'")]


def test_a_path_granted_twice_is_a_duplicate() -> None:
    spec = with_role(secret_paths=("app/db", "app/token", "app/db"))
    assert problems(spec) == [("catalog:openbao.approles.app-role", "duplicate path 'app/db'")]
    keyed = {("app-role", "app/db"): "platform:secretGrants.app-role[2]"}
    assert problems(spec, grant_keys=keyed) == [("platform:secretGrants.app-role[2]", "duplicate path 'app/db'")]


def test_grant_keys_of_another_role_are_not_used() -> None:
    spec = with_role(secret_paths=("app/backdoor",))
    assert problems(spec, grant_keys={("other-role", "app/backdoor"): "platform:secretGrants.other-role[0]"}) == [
        ("catalog:openbao.approles.app-role.secret_paths[0]", "secret path 'app/backdoor' is not in the secrets matrix; allowed: app/db, app/token")
    ]


def test_two_approles_of_one_name_are_a_duplicate() -> None:
    spec = spec_with(openbao={"approles": (ROLE, ROLE)})
    assert problems(spec) == [("catalog:openbao.approles", "duplicate AppRole 'app-role'")]


def test_a_secret_path_declared_twice_is_a_duplicate() -> None:
    spec = spec_with(openbao={"secret_paths": (*SECRET_PATHS, kv("app/db"))})
    assert problems(spec) == [("catalog:openbao.secret_paths", "duplicate secret path 'app/db'")]


def test_every_problem_of_one_spec_is_reported_at_once() -> None:
    spec = spec_with(
        networks=(*NETWORKS, network("extra-net", "8.8.8.0/24")),
        services=replace_service("api", networks=("app-net", "nowhere-net")),
        openbao={"approles": (ROLE.model_copy(update={"services": ("ghost",)}),)},
    )
    assert problems(spec, {"extra-net": "platform:networks[0]"}) == [
        ("platform:networks[0].subnet", "8.8.8.0/24 is outside the private ranges (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)"),
        ("platform:services.api.networks[1]", "unknown network 'nowhere-net'; known: app-net, db-net, extra-net, front-net"),
        ("catalog:openbao.approles.app-role.services", "unknown service 'ghost'"),
    ]
