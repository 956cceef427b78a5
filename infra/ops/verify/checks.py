"""The post-deploy checks. Each test's docstring is the check's name in the report.

`host` is testinfra's host over SSH (paramiko); `settings` comes from the runner's options.
Docker checks look at the platform's containers (its label) and fail on a host without a Docker engine.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import time

import pytest
from testinfra.host import Host

from infra.ops.verify.probes import PERMANENT_REDIRECTS, fetch
from infra.ops.verify.pytest_plugin import VerifySettings

ROOT_USERS = frozenset({"", "0", "root", "0:0", "root:root"})
DOCKER_SOCKET = "/var/run/docker.sock"


def _public(address: str) -> bool:
    """Not loopback: a socket on a wildcard or a routable address is reachable from outside."""
    host = address.strip("[]")
    if host in {"*", ""}:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return True
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not ip.is_loopback


def test_only_ssh_http_https_listen_publicly(host: Host, settings: VerifySettings) -> None:
    """only 22/80/443 listen on public addresses"""
    public: set[str] = set()
    for socket_url in host.socket.get_listening_sockets():
        protocol, _, rest = socket_url.partition("://")
        if protocol not in {"tcp", "udp"}:
            continue
        address, _, port = rest.rpartition(":")
        if _public(address) and int(port) not in settings.public_ports:
            public.add(f"{protocol} {address}:{port}")
    allowed = ", ".join(map(str, sorted(settings.public_ports)))
    assert not public, f"listening publicly besides {allowed}: {', '.join(sorted(public))}"


def _containers(host: Host, settings: VerifySettings) -> list[dict]:
    """The platform's containers (those carrying its label); a platform host without a Docker
    engine, or without any of them, fails the check."""
    if not host.file(DOCKER_SOCKET).is_socket:
        pytest.fail(f"no Docker engine on {host.backend.get_hostname()} ({DOCKER_SOCKET} absent)")
    ids = host.check_output("docker ps -aq --filter %s", f"label={settings.docker_label}").split()
    if not ids:
        pytest.fail(f"no container labelled {settings.docker_label} on {host.backend.get_hostname()}")
    return json.loads(host.check_output("docker inspect " + " ".join(ids)))


def test_docker_containers_running_and_healthy(host: Host, settings: VerifySettings) -> None:
    """Docker containers running and healthy"""
    problems = []
    for container in _containers(host, settings):
        name, state = container["Name"].lstrip("/"), container["State"]
        if container["HostConfig"].get("RestartPolicy", {}).get("Name") == "no" and not state.get("Running"):
            continue  # a file seed: created, never started
        health = (state.get("Health") or {}).get("Status", "no healthcheck")
        if not state.get("Running") or health != "healthy":
            problems.append(f"{name} ({state.get('Status')}, {health})")
    assert not problems, f"containers not running and healthy: {', '.join(problems)}"


def test_docker_containers_hardened(host: Host, settings: VerifySettings) -> None:
    """Docker containers run with the hardened settings"""
    problems = []
    for container in _containers(host, settings):
        name, config = container["Name"].lstrip("/"), container["HostConfig"]
        if not container["State"].get("Running"):
            continue
        if config.get("Privileged"):
            problems.append(f"{name}: privileged")
        if "ALL" not in (config.get("CapDrop") or []):
            problems.append(f"{name}: does not drop ALL capabilities")
        if not any(opt.startswith("no-new-privileges") for opt in config.get("SecurityOpt") or []):
            problems.append(f"{name}: no no-new-privileges")
        if not config.get("ReadonlyRootfs") and name not in settings.writable_root_allowed:
            problems.append(f"{name}: writable root filesystem")
        if container["Config"].get("User", "") in ROOT_USERS and name not in settings.root_user_allowed:
            problems.append(f"{name}: runs as root")
        if not config.get("Memory"):
            problems.append(f"{name}: no memory limit")
    assert not problems, "; ".join(problems)


def test_tls_certificate_valid(hostname: str, settings: VerifySettings) -> None:
    """TLS certificate trusted and valid for at least 14 more days"""
    try:
        response = fetch(settings.address, settings.https_port, hostname, context=settings.context())
    except ssl.SSLCertVerificationError as error:
        pytest.fail(f"{hostname}: certificate not trusted: {error.verify_message}")
    except OSError as error:
        pytest.fail(f"{hostname}: no TLS on {settings.address}:{settings.https_port}: {error}")
    days = response.cert_days_left
    assert days >= settings.min_cert_days, f"{hostname}: certificate expires in {days:.1f} days (< {settings.min_cert_days:g})"


def test_http_redirects_to_https(hostname: str, settings: VerifySettings) -> None:
    """HTTP redirects permanently to HTTPS"""
    try:
        response = fetch(settings.address, settings.http_port, hostname)
    except OSError as error:
        pytest.fail(f"{hostname}: nothing answers HTTP on {settings.address}:{settings.http_port}: {error}")
    location = response.headers.get("location", "")
    assert response.status in PERMANENT_REDIRECTS and location.startswith(f"https://{hostname}"), (
        f"http://{hostname}/ answered {response.status} {location or '(no Location)'}, not a permanent redirect to https://{hostname}"
    )


def test_hostname_answers(hostname: str, settings: VerifySettings) -> None:
    """hostname answers over HTTPS (no 5xx)"""
    try:
        response = fetch(settings.address, settings.https_port, hostname, context=settings.context())
    except OSError as error:  # includes TLS errors: reported by the certificate check as well
        pytest.fail(f"https://{hostname}/ does not answer: {error}")
    assert response.status < 500, f"https://{hostname}/ answered {response.status}"


def test_keycloak_discovery_served(settings: VerifySettings) -> None:
    """Keycloak serves the realm's OIDC discovery document"""
    hostname = f"auth.{settings.domain}"
    path = f"/realms/{settings.realm}/.well-known/openid-configuration"
    try:
        response = fetch(settings.address, settings.https_port, hostname, path, context=settings.context())
    except OSError as error:
        pytest.fail(f"https://{hostname}{path} does not answer: {error}")
    assert response.status == 200, f"https://{hostname}{path} answered {response.status}"
    try:
        issuer = json.loads(response.body).get("issuer")
    except json.JSONDecodeError:
        pytest.fail(f"https://{hostname}{path} is not JSON")
    expected = f"https://{hostname}/realms/{settings.realm}"
    assert issuer == expected, f"discovery issuer is {issuer!r}, expected {expected!r}"


def _openbao_url(host: Host, settings: VerifySettings) -> str:
    if settings.openbao_url:
        return settings.openbao_url
    if host.file(DOCKER_SOCKET).is_socket:
        addresses = host.check_output("docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}' openbao").split()
        if addresses:
            return f"http://{addresses[0]}:8200"
    pytest.fail("cannot locate OpenBao: no openbao container on the host and no --openbao-url")


def test_openbao_unsealed(host: Host, settings: VerifySettings) -> None:
    """OpenBao initialized and unsealed"""
    url = _openbao_url(host, settings)
    result = host.run(f"curl -fsS --max-time 5 {url}/v1/sys/seal-status")
    assert result.rc == 0, f"OpenBao at {url} does not answer: {result.stderr.strip() or result.rc}"
    status = json.loads(result.stdout)
    assert status.get("initialized"), f"OpenBao at {url} is not initialized"
    assert status.get("sealed") is False, f"OpenBao at {url} is sealed"


def test_backups_younger_than_26h(host: Host, settings: VerifySettings) -> None:
    """newest backup younger than 26 h"""
    directory = settings.backup_dir
    assert host.file(directory).is_directory, f"backup directory {directory} does not exist on the host"
    newest = host.check_output(f"find {directory} -type f -printf '%T@\\n' | sort -n | tail -1").strip()
    assert newest, f"no backup files in {directory}"
    now = float(host.check_output("date +%s"))
    age_hours = (now - float(newest)) / 3600
    assert age_hours < settings.max_backup_age_hours, (
        f"newest backup in {directory} is {age_hours:.1f} h old (limit {settings.max_backup_age_hours:g} h)"
    )


def test_clock_sane(host: Host) -> None:
    """host clock within 5 minutes of the verifier's"""
    skew = abs(float(host.check_output("date +%s")) - time.time())
    assert skew < 300, f"host clock is {skew:.0f} s off: certificate and backup ages would be wrong"
