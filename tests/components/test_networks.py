"""The networks component, on hand-made args and inside the whole program."""

from __future__ import annotations

import ipaddress

from components.network import NetworksArgs, PlatformNetworks
from infra.spec.models import NetworkSpec
from tests.harness import plan_config, plan_function

NETWORK = "docker:index/network:Network"


def test_component_declares_each_network_exactly() -> None:
    specs = (
        NetworkSpec(name="front-net", subnet=ipaddress.IPv4Network("10.10.0.0/24"), internal=False, purpose="edge"),
        NetworkSpec(name="back-net", subnet=ipaddress.IPv4Network("10.10.1.0/28"), internal=True, purpose="data"),
    )
    planned = plan_function(lambda: PlatformNetworks("nets", NetworksArgs(networks=specs, stack="unit")))
    back = planned.get(NETWORK, "nets-back-net").inputs
    assert back["name"] == "back-net"
    assert back["internal"] is True
    assert back["driver"] == "bridge"
    # Docker assigns only the upper half itself; fixed addresses live in the lower half
    assert back["ipamConfigs"] == [{"gateway": "10.10.1.1", "subnet": "10.10.1.0/28", "ipRange": "10.10.1.8/29"}]
    assert {"label": "nl.sevensa.platform.purpose", "value": "data"} in back["labels"]
    assert planned.get(NETWORK, "nets-front-net").inputs["internal"] is False
    component = planned.get("sevensa:platform:Networks", "nets")
    assert component.outputs["networks"] == {"front-net": "front-net", "back-net": "back-net"}


def test_program_networks_follow_config_overrides() -> None:
    planned = plan_config({"networks": [{"name": "lab-net", "subnet": "10.50.0.0/24", "internal": True, "purpose": "lab"}]})
    names = {r.inputs["name"]: r.inputs for r in planned.of_type(NETWORK)}
    assert names["lab-net"]["ipamConfigs"][0]["subnet"] == "10.50.0.0/24"
    assert len(names) == 15


def test_networks_use_the_stacks_docker_host(prod_plan) -> None:
    provider = prod_plan.get("pulumi:providers:docker", "docker")
    assert provider.inputs["host"] == "ssh://deploy@147.93.57.40"
    for network in prod_plan.of_type(NETWORK):
        assert network.provider.startswith(provider.urn + "::")


def test_a_fixed_address_in_the_dynamic_range_or_on_the_gateway_is_refused() -> None:
    import pytest

    from infra.spec.problems import SpecError
    from tests.harness import spec_for

    with pytest.raises(SpecError) as error:
        spec_for({"services": {"openbao": {"ipv4_addresses": {"shared-net": "172.20.10.200"}}, "psra-api": {"ipv4_addresses": {"shared-net": "172.20.10.1"}}}})
    messages = sorted(p.message for p in error.value.problems)
    assert messages == [
        "172.20.10.1 is the gateway of 'shared-net'",
        "172.20.10.200 is in 172.20.10.128/25, where Docker assigns addresses to other containers; use the lower half of the subnet",
    ]
