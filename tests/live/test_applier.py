"""The lab's applier on the real engine: every planned input translated or refused, files
through per-directory volumes (API 1.41), tmpfs that survive `docker restart`, convergence."""

from __future__ import annotations

from typing import Any

import docker
import pulumi_docker as pulumi_docker
import pytest

from components.container import ContainerArgs, HardenedContainer
from infra.ops.lab.applier import Applier, UntranslatedInput, down, translate_container
from infra.plan.offline import plan_stack
from infra.spec.models import HealthcheckSpec, ServiceSpec
from tests.harness import plan_function

LAB = "applier-test"
CATALOG_IMAGE = "ghcr.io/sevensa/demo:1.2.3"
PROBE = "test -w /var/run/demo && cat /etc/demo/demo.yml /etc/demo/conf.d/extra.yml /opt/other/o.txt"


def demo_spec(**fields: Any) -> ServiceSpec:
    """The test service `lab-demo` on `lab-demo-net`, with `fields` over the defaults."""
    base = {"name": "lab-demo", "stack": "psra", "description": "applier test", "image": CATALOG_IMAGE, "networks": ["lab-demo-net"], "user": "1000:1000"}
    return ServiceSpec.model_validate(base | fields)


def planned_demo(**fields: Any) -> dict:
    spec = demo_spec(
        tmpfs=["/tmp", "/var/run/demo"],
        healthcheck=HealthcheckSpec(test=("CMD", "sh", "-c", PROBE), interval_seconds=1, timeout_seconds=2, retries=3, start_period_seconds=1),
    )

    def program() -> None:
        network = pulumi_docker.Network("lab-demo-net", name="lab-demo-net", internal=True)
        HardenedContainer(
            spec.name,
            ContainerArgs(
                service=spec,
                networks={"lab-demo-net": network},
                command=["sleep", "100000"],
                config_files={"/etc/demo/demo.yml": "level: info\n", "/etc/demo/conf.d/extra.yml": "x: 1\n", "/opt/other/o.txt": "other\n"},
                **fields,
            ),
        )

    return plan_function(program).document


@pytest.fixture
def applier(engine: docker.DockerClient, busybox_image: str):
    down(engine, LAB)
    yield Applier(engine, LAB, {CATALOG_IMAGE: busybox_image})
    down(engine, LAB)


def run(engine: docker.DockerClient, name: str, script: str) -> str:
    result = engine.containers.get(name).exec_run(["sh", "-c", script])
    return result.output.decode()


def test_every_planned_container_input_of_the_platform_is_translated() -> None:
    document = plan_stack("lab", lab_key=b"t" * 32).document
    containers = [r for r in document["deployment"]["resources"] if r["type"] == "docker:index/container:Container"]
    assert len(containers) > 30
    for resource in containers:
        translate_container(resource["inputs"], resource["urn"])  # raises on anything untranslated


def test_an_untranslated_input_fails_loudly() -> None:
    with pytest.raises(UntranslatedInput, match=r"urn:x: container inputs the lab does not translate: devices, gpus"):
        translate_container({"name": "x", "image": "i", "devices": [], "gpus": "all"}, "urn:x")
    with pytest.raises(UntranslatedInput, match=r"mounts\[0\].volumeOptions.subpath: volume sub-paths need Docker API 1.45"):
        translate_container({"name": "x", "mounts": [{"type": "volume", "source": "v", "target": "/t", "volumeOptions": {"subpath": "a"}}]}, "urn:x")
    with pytest.raises(UntranslatedInput, match=r"the secret is sealed"):
        translate_container({"name": "x", "envs": [{"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "c"}]}, "urn:x")


def test_files_land_at_their_paths_through_one_volume_per_directory(engine: docker.DockerClient, applier: Applier) -> None:
    applied = applier.up(planned_demo())
    assert "container lab-demo" in applied.created
    assert run(engine, "lab-demo", "cat /etc/demo/demo.yml /etc/demo/conf.d/extra.yml /opt/other/o.txt") == "level: info\nx: 1\nother\n"
    # each directory holds its own files only (a sub-path ignored by API 1.41 would show every file everywhere)
    assert run(engine, "lab-demo", "ls /etc/demo /opt/other").split() == ["/etc/demo:", "conf.d", "demo.yml", "/opt/other:", "o.txt"]
    assert run(engine, "lab-demo", "stat -c '%u:%g %a' /etc/demo/demo.yml") == "1000:1000 444\n"
    assert "Read-only file system" in run(engine, "lab-demo", "touch /etc/demo/x; touch /x")


def test_tmpfs_keeps_the_service_user_after_docker_restart(engine: docker.DockerClient, applier: Applier) -> None:
    applier.up(planned_demo())
    engine.containers.get("lab-demo").restart(timeout=5)
    applier.wait_healthy("lab-demo", 30)
    assert run(engine, "lab-demo", "stat -c '%u:%g' /var/run/demo /tmp") == "1000:1000\n1000:1000\n"
    assert run(engine, "lab-demo", "touch /var/run/demo/lock && echo written") == "written\n"


def test_a_second_up_converges_and_a_change_replaces(engine: docker.DockerClient, applier: Applier, busybox_image: str) -> None:
    document = planned_demo()
    applier.up(document)
    again = Applier(engine, LAB, {CATALOG_IMAGE: busybox_image}).up(document)
    assert again.created == [] and again.replaced == [] and again.removed == []
    assert "container lab-demo" in again.kept
    changed = Applier(engine, LAB, {CATALOG_IMAGE: busybox_image}).up(planned_demo(env={"LEVEL": "debug"}))
    assert changed.replaced == ["container lab-demo"]
    assert "LEVEL=debug" in engine.containers.get("lab-demo").attrs["Config"]["Env"]


def test_down_removes_containers_networks_and_volumes(engine: docker.DockerClient, applier: Applier) -> None:
    applier.up(planned_demo())
    removed = down(engine, LAB)
    assert {"container lab-demo", "container lab-demo-files-seed", "network lab-demo-net", "volume lab-demo-files-etc_demo"} <= set(removed)
    label = {"label": f"nl.sevensa.platform.lab={LAB}"}
    assert engine.containers.list(all=True, filters=label) == [] and engine.networks.list(filters=label) == []
    assert engine.volumes.list(filters=label) == []


def test_what_depends_on_a_family_waits_for_it_while_the_family_waits_for_a_container(
    engine: docker.DockerClient, applier: Applier, busybox_image: str
) -> None:
    """The lab started psra-api before OpenBao's content (which waited for OpenBao to be healthy):
    a unit after a family counted as ready because the family was not a container to wait for."""
    import pulumi
    import pulumi_keycloak as keycloak

    spec = demo_spec(healthcheck=HealthcheckSpec(test=("CMD", "test", "-d", "/tmp"), interval_seconds=2, timeout_seconds=2, retries=3, start_period_seconds=1))
    later = spec.model_copy(update={"name": "lab-demo-after"})

    def program() -> None:
        network = pulumi_docker.Network("lab-demo-net", name="lab-demo-net", internal=True)
        first = HardenedContainer(spec.name, ContainerArgs(service=spec, networks={"lab-demo-net": network}, command=["sleep", "100000"]))
        realm = keycloak.Realm("demo-realm", realm="demo", opts=pulumi.ResourceOptions(depends_on=[first]))
        HardenedContainer(
            later.name, ContainerArgs(service=later, networks={"lab-demo-net": network}, command=["sleep", "100000"], depends_on=[realm])
        )

    seen: list[list[str]] = []

    def family(document: Any) -> None:
        seen.append(sorted(c.name for c in engine.containers.list(all=True, filters={"label": f"nl.sevensa.platform.lab={LAB}"})))

    Applier(engine, LAB, {CATALOG_IMAGE: busybox_image}, families={"keycloak:": family}).up(plan_function(program).document)
    assert len(seen) == 1 and "lab-demo" in seen[0] and "lab-demo-after" not in seen[0]
    assert engine.containers.get("lab-demo-after").status == "running"
