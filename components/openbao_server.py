"""The OpenBao server container (a `HardenedContainer`): integrated (raft) storage on
`openbao-data`, config from `templates/openbao/openbao.hcl.j2` with the audit devices
declared in it (BAO-01), telemetry on a metrics-only listener Traefik never routes to, and the UI.

The server starts sealed and uninitialized; `cli.py bootstrap openbao` and `bootstrap
unseal` make it usable. Its healthcheck therefore asks "is the API answering" (sealed and
uninitialized count as alive), while the Pulumi readiness gate asks "is it unsealed".
"""

from __future__ import annotations

from typing import Any

from infra.spec.models import HealthcheckSpec, ServiceSpec
from templates import render

CONFIG_DIR = "/openbao/config"
CONFIG_FILE = f"{CONFIG_DIR}/openbao.hcl"
STORAGE_VOLUME = "openbao-data"
AUDIT_VOLUME = "openbao-audit"
AUDIT_FILE_NAME = "audit.log"
PORT = 8200
CLUSTER_PORT = 8201
METRICS_PORT = 8209  # its own listener, never routed: Prometheus reads /v1/sys/metrics without a token
HEALTH_URL = f"http://127.0.0.1:{PORT}/v1/sys/health?uninitcode=204&sealedcode=204&standbycode=204"
HEALTHCHECK = HealthcheckSpec(
    test=("CMD", "wget", "-q", "-O", "/dev/null", HEALTH_URL),
    interval_seconds=15,
    timeout_seconds=5,
    retries=5,
    start_period_seconds=10,
)


class OpenBaoServerError(ValueError):
    """The spec does not give OpenBao what its config needs."""


def volume_path(service: ServiceSpec, volume: str) -> str:
    for mount in service.volumes:
        if mount.volume == volume:
            return mount.container_path
    raise OpenBaoServerError(f"service {service.name!r} mounts no {volume!r} volume")


def server_config(service: ServiceSpec, api_addr: str, listen_address: str, cluster_addr: str, metrics_listen_address: str) -> str:
    """The server HCL for `service` (storage and audit paths from its volumes)."""
    return render(
        "openbao/openbao.hcl.j2",
        cluster_name="sevensa",
        api_addr=api_addr,
        cluster_addr=cluster_addr,
        storage_path=volume_path(service, STORAGE_VOLUME),
        node_id=f"{service.name}-1",
        listen_address=listen_address,
        metrics_listen_address=metrics_listen_address,
        audit_file_device="file",
        audit_file_path=f"{volume_path(service, AUDIT_VOLUME)}/{AUDIT_FILE_NAME}",
        audit_stdout_device="stdout",
    )


def container_fields(service: ServiceSpec) -> dict[str, Any]:
    """The OpenBao-specific `ContainerArgs` fields (config file, command, env, healthcheck)."""
    api_addr = f"https://{service.routes[0].host}" if service.routes else f"http://{service.name}:{PORT}"
    return {
        "config_files": {
            CONFIG_FILE: server_config(
                service, api_addr, f"0.0.0.0:{PORT}", f"http://{service.name}:{CLUSTER_PORT}", f"0.0.0.0:{METRICS_PORT}"
            )
        },
        "command": ["server"],
        # the entrypoint's setcap/chown need root; the container runs as the image's openbao user
        "env": {"SKIP_SETCAP": "true", "SKIP_CHOWN": "true", "BAO_LOG_FORMAT": "json"},
        "healthcheck": HEALTHCHECK,
    }
