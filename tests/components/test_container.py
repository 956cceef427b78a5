"""HardenedContainer under mocks: the hardening values, derived labels, files and errors."""

from __future__ import annotations

from typing import Any

import pulumi_docker as docker
import pytest

from components.container import (
    CONFIG_FILE_MODE,
    SECRET_FILE_MODE,
    ContainerArgs,
    ContainerSpecError,
    HardenedContainer,
    HostMount,
)
from infra.plan.document import SECRET_SIG, is_secret
from infra.spec.models import HealthcheckSpec, ServiceSpec
from infra.spec.traefik_labels import RoutingPolicy
from infra.plan.files import files_by_container
from tests.harness import Planned, plan_function

CONTAINER = "docker:index/container:Container"
POLICY = RoutingPolicy(
    entrypoint="websecure",
    cert_resolver="letsencrypt",
    proxy_networks=("traefik-net", "app-net"),
    default_middlewares=("security-headers@file", "rate-limit@file"),
    forward_auth_middleware="forward-auth@file",
)
CHECK = HealthcheckSpec(test=("CMD", "wget", "-qO-", "http://127.0.0.1:3000/health"), interval_seconds=10, timeout_seconds=3, retries=5, start_period_seconds=15)


def service(**fields: Any) -> ServiceSpec:
    base: dict[str, Any] = {
        "name": "demo",
        "stack": "psra",
        "description": "demo service",
        "image": "ghcr.io/sevensa/demo:1.2.3",
        "networks": ["app-net", "db-net"],
        "user": "1000",
        "healthcheck": CHECK,
    }
    return ServiceSpec.model_validate(base | fields)


def plan(spec: ServiceSpec, **fields: Any) -> Planned:
    def program() -> None:
        networks = {name: docker.Network(name, name=name, internal=True) for name in ("traefik-net", "app-net", "db-net", "shared-net")}
        HardenedContainer(spec.name, ContainerArgs(service=spec, networks=networks, **fields))

    return plan_function(program)


def labels(resource) -> dict[str, str]:
    return {item["label"]: item["value"] for item in resource.inputs.get("labels", [])}


def the_container(planned: Planned, name: str = "demo"):
    return planned.containers()[name]


def test_hardening_values_are_set_from_the_spec() -> None:
    spec = service(cap_add=["NET_BIND_SERVICE"], memory_mb=256, cpus=0.5, tmpfs=["/tmp", "/var/cache"])
    inputs = the_container(plan(spec)).inputs
    assert inputs["capabilities"] == {"drops": ["ALL"], "adds": ["NET_BIND_SERVICE"]}
    assert inputs["securityOpts"] == ["no-new-privileges:true"]
    assert inputs["privileged"] is False
    assert inputs["ulimits"] == [{"name": "core", "soft": 0, "hard": 0}]
    assert inputs["readOnly"] is True
    assert inputs["user"] == "1000"
    assert inputs["memory"] == 256 and inputs["memorySwap"] == 256
    assert inputs["cpus"] == "0.5"
    assert inputs["restart"] == "unless-stopped"
    assert inputs["wait"] is True
    # 15 s start + 6 probes of (10 s interval + 3 s timeout) + 30 s margin
    assert inputs["waitTimeout"] == 15 + 6 * 13 + 30
    assert inputs["healthcheck"] == {
        "tests": ["CMD", "wget", "-qO-", "http://127.0.0.1:3000/health"],
        "interval": "10s",
        "timeout": "3s",
        "retries": 5,
        "startPeriod": "15s",
    }
    # owned by the service user: after `docker restart` a tmpfs comes back without its mode (measured on 20.10)
    owned = "rw,noexec,nosuid,nodev,size=64m,mode=1777,uid=1000,gid=1000"
    assert inputs["tmpfs"] == {"/tmp": owned, "/var/cache": owned}
    assert inputs["logDriver"] == "json-file"
    assert inputs["logOpts"]["max-size"] == "10m"
    assert "ports" not in inputs


def test_networks_keep_spec_order_aliases_and_fixed_addresses() -> None:
    spec = service(networks=["app-net", "shared-net"], ipv4_addresses={"shared-net": "172.20.10.11"})
    networks = the_container(plan(spec)).inputs["networksAdvanced"]
    assert networks == [
        {"name": "app-net", "aliases": ["demo"]},
        {"name": "shared-net", "aliases": ["demo"], "ipv4Address": "172.20.10.11"},
    ]


def test_declared_exceptions_are_honoured() -> None:
    spec = service(read_only_root=False, user=None, published_ports=[80, 443])
    inputs = the_container(plan(spec)).inputs
    assert inputs["readOnly"] is False
    assert "user" not in inputs
    assert inputs["ports"] == [
        {"internal": 80, "external": 80, "protocol": "tcp"},
        {"internal": 443, "external": 443, "protocol": "tcp"},
    ]


def test_traefik_labels_follow_the_routes() -> None:
    spec = service(
        routes=[
            {"host": "demo.sevensa.nl", "service_port": 3000},
            {"host": "auth.sevensa.nl", "service_port": 8080, "forward_auth": False, "path_prefixes": ["/realms/sevensa", "/resources"]},
        ]
    )
    found = labels(the_container(plan(spec, routing=POLICY)))
    assert found["traefik.enable"] == "true"
    assert found["traefik.docker.network"] == "app-net"
    assert found["traefik.http.routers.demo-0.rule"] == "Host(`demo.sevensa.nl`)"
    assert found["traefik.http.routers.demo-0.middlewares"] == "security-headers@file,rate-limit@file,forward-auth@file"
    assert found["traefik.http.routers.demo-1.rule"] == "Host(`auth.sevensa.nl`) && (PathPrefix(`/realms/sevensa`) || PathPrefix(`/resources`))"
    assert found["traefik.http.routers.demo-1.middlewares"] == "security-headers@file,rate-limit@file"
    for router in ("demo-0", "demo-1"):
        assert found[f"traefik.http.routers.{router}.entrypoints"] == "websecure"
        assert found[f"traefik.http.routers.{router}.tls"] == "true"
        assert found[f"traefik.http.routers.{router}.tls.certresolver"] == "letsencrypt"
        assert found[f"traefik.http.routers.{router}.service"] == router
    assert found["traefik.http.services.demo-0.loadbalancer.server.port"] == "3000"
    assert found["traefik.http.services.demo-1.loadbalancer.server.port"] == "8080"


def test_unrouted_service_has_only_identity_labels() -> None:
    found = labels(the_container(plan(service(), routing=POLICY)))
    assert found == {
        "nl.sevensa.platform.service": "demo",
        "nl.sevensa.platform.stack": "psra",
        "nl.sevensa.platform.image": "ghcr.io/sevensa/demo:1.2.3",
    }


def test_read_only_container_gets_files_through_a_never_started_seed() -> None:
    planned = plan(
        service(),
        env={"DB_PASSWORD_FILE": "/run/secrets/db-password"},
        secret_files={"/run/secrets/db-password": "hunter2-not-real"},
        config_files={"/etc/demo/demo.yml": "level: info\n", "/etc/demo/conf.d/extra.yml": "x: 1\n"},
    )
    seed = the_container(planned, "demo-files-seed").inputs
    assert seed["start"] is False and seed["mustRun"] is False
    assert seed["networkMode"] == "none"
    assert seed["capabilities"] == {"drops": ["ALL"]}
    # one volume per file directory, each mounted whole: no volume sub-paths (API 1.45; 1.41 ignores them)
    assert seed["mounts"] == [
        {"type": "volume", "source": "demo-files-etc_demo", "target": "/seed/etc_demo"},
        {"type": "volume", "source": "demo-files-run_secrets", "target": "/seed/run_secrets"},
    ]
    uploads = {u["file"]: u for u in seed["uploads"]}
    assert set(uploads) == {"/seed/etc_demo/demo.yml", "/seed/etc_demo/conf.d/extra.yml", "/seed/run_secrets/db-password"}
    secret = uploads["/seed/run_secrets/db-password"]
    assert is_secret(secret["content"]) and secret["permissions"] == SECRET_FILE_MODE
    assert (secret["owner"], secret["group"]) == ("1000", "1000")
    assert uploads["/seed/etc_demo/demo.yml"]["content"] == "level: info\n"
    assert uploads["/seed/etc_demo/demo.yml"]["permissions"] == CONFIG_FILE_MODE

    inputs = the_container(planned).inputs
    assert "uploads" not in inputs
    assert inputs["envs"] == ["DB_PASSWORD_FILE=/run/secrets/db-password"]
    assert inputs["mounts"] == [
        {"type": "volume", "source": "demo-files-etc_demo", "target": "/etc/demo", "readOnly": True, "volumeOptions": {"noCopy": True}},
        {"type": "volume", "source": "demo-files-run_secrets", "target": "/run/secrets", "readOnly": True, "volumeOptions": {"noCopy": True}},
    ]
    assert files_by_container(planned.resources)["demo"].keys() == {"/etc/demo/demo.yml", "/etc/demo/conf.d/extra.yml", "/run/secrets/db-password"}
    assert "hunter2-not-real" not in str(planned.document)


def test_tmpfs_belongs_to_the_numeric_service_user_only() -> None:
    def tmpfs(**fields: Any) -> str:
        return the_container(plan(service(tmpfs=["/tmp"], **fields))).inputs["tmpfs"]["/tmp"]

    assert tmpfs(user="70:71").endswith(",uid=70,gid=71")
    assert tmpfs(user=None) == "rw,noexec,nosuid,nodev,size=64m,mode=1777"
    assert tmpfs(user="postgres") == "rw,noexec,nosuid,nodev,size=64m,mode=1777"


def test_writable_container_gets_files_uploaded_directly() -> None:
    planned = plan(service(read_only_root=False, user="65532:65533"), secret_files={"/run/secrets/token-file": "t0ken"})
    assert "demo-files-seed" not in planned.containers()
    (upload,) = the_container(planned).inputs["uploads"]
    assert upload["file"] == "/run/secrets/token-file"
    assert (upload["owner"], upload["group"], upload["permissions"]) == ("65532", "65533", "0400")
    assert upload["content"][SECRET_SIG]


def test_named_volumes_are_created_once_and_kept() -> None:
    def program() -> None:
        networks = {"app-net": docker.Network("app-net", name="app-net", internal=True)}
        shared = docker.Volume("backups", name="backups")
        spec = service(networks=["app-net"], volumes=[{"volume": "demo-data", "container_path": "/data"}, {"volume": "backups", "container_path": "/backups", "read_only": True}])
        HardenedContainer("demo", ContainerArgs(service=spec, networks=networks, shared_volumes={"backups": shared}))

    planned = plan_function(program)
    volumes = {r.inputs["name"] for r in planned.of_type("docker:index/volume:Volume")}
    assert volumes == {"demo-data", "backups"}
    assert planned.containers()["demo"].inputs["mounts"] == [
        {"type": "volume", "source": "demo-data", "target": "/data", "readOnly": False},
        {"type": "volume", "source": "backups", "target": "/backups", "readOnly": True},
    ]


def test_host_mounts_are_read_only_binds() -> None:
    planned = plan(service(), host_mounts=[HostMount("/var/run/docker.sock", "/var/run/docker.sock")])
    assert the_container(planned).inputs["mounts"] == [
        {"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "readOnly": True}
    ]


def test_image_is_pulled_by_its_pinned_reference() -> None:
    planned = plan(service(image="ghcr.io/sevensa/demo:1.2.3@sha256:" + "a" * 64))
    (image,) = planned.of_type("docker:index/remoteImage:RemoteImage")
    assert image.inputs["name"] == "ghcr.io/sevensa/demo:1.2.3@sha256:" + "a" * 64
    assert the_container(planned).inputs["image"] == image.outputs["imageId"]


def test_build_context_builds_the_image_locally_without_pushing() -> None:
    planned = plan(service(build_context="app", image="ghcr.io/sevensa/psra-api:0.1.0"))
    (image,) = planned.of_type("docker:index/image:Image")
    assert image.inputs["imageName"] == "ghcr.io/sevensa/psra-api:0.1.0"
    assert image.inputs["build"]["context"] == "app"
    assert image.inputs["build"]["dockerfile"] == "app/Dockerfile"
    assert image.inputs["skipPush"] is True and image.inputs["buildOnPreview"] is False
    assert the_container(planned).inputs["image"] == "ghcr.io/sevensa/psra-api:0.1.0"


@pytest.mark.parametrize(
    ("spec", "fields", "message"),
    [
        (service(healthcheck=None), {}, "no healthcheck"),
        (service(), {"env": {"DB_PASSWORD": "x"}}, "looks secret"),
        (service(), {"env": {"DB_PASSWORD_FILE": "/etc/demo/plain.yml"}}, "not one of its secret files"),
        (service(routes=[{"host": "demo.sevensa.nl", "service_port": 3000}]), {}, "no routing policy"),
        (service(networks=["nope-net"]), {}, "unknown networks nope-net"),
        (service(), {"labels": {"nl.sevensa.platform.service": "other"}}, "override derived"),
        (service(), {"config_files": {"/demo.yml": "x"}}, "directly in '/'"),
        (service(), {"config_files": {"etc/demo.yml": "x"}}, "absolute"),
        (service(networks=["db-net"], routes=[{"host": "demo.sevensa.nl", "service_port": 3000}]), {"routing": POLICY}, "shares no network with Traefik"),
    ],
)
def test_bad_arguments_fail_with_a_specific_message(spec: ServiceSpec, fields: dict[str, Any], message: str) -> None:
    with pytest.raises(Exception, match=message):
        plan(spec, **fields)


def test_errors_name_the_service() -> None:
    with pytest.raises(ContainerSpecError, match="service 'demo'"):
        plan(service(healthcheck=None))


def test_a_build_context_outside_the_repository_is_refused() -> None:
    with pytest.raises(ValueError, match="leaves the repository"):
        plan(service(build_context="../elsewhere"))
