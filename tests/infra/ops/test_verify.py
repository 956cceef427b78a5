"""`cli.py verify` against a real local test host (sshd in a network namespace, see
testhost.py) on this machine's real Docker engine: every check passes, and each one fails,
naming itself, when its condition is broken. The Docker checks look at containers this test
starts under a label of its own (`--docker-label`), so whatever else runs on the engine (the
live lab) is not theirs to judge."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from tests.infra.ops.testhost import DOMAIN, VerifyHost, running_test_host
from tests.live.conftest import busybox_image, engine  # noqa: F401 - the real engine and a tiny image, as fixtures
from tests.servers._process import ServerStartError

ROOT = Path(__file__).resolve().parents[3]
DOCKER_LABEL = f"nl.sevensa.verify-test={os.getpid()}"


def _run(engine: docker.DockerClient, image: str, name: str, **hardening: object) -> docker.models.containers.Container:
    key, _, value = DOCKER_LABEL.partition("=")
    return engine.containers.run(
        image, ["sleep", "3600"], name=name, detach=True, labels={key: value}, network_mode="none", **hardening
    )


@pytest.fixture(scope="module")
def platform_containers(engine: docker.DockerClient, busybox_image: str) -> Iterator[docker.DockerClient]:
    """One container as the platform runs them: hardened, healthy."""
    container = _run(
        engine,
        busybox_image,
        f"verify-good-{os.getpid()}",
        user="65534:65534",
        read_only=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        mem_limit="32m",
        healthcheck={"test": ["CMD", "test", "-d", "/"], "interval": 500_000_000, "timeout": 1_000_000_000, "retries": 1},
    )
    try:
        deadline = time.monotonic() + 60
        while engine.api.inspect_container(container.id)["State"].get("Health", {}).get("Status") != "healthy":
            assert time.monotonic() < deadline, "the hardened test container never became healthy"
            time.sleep(0.5)
        yield engine
    finally:
        container.remove(force=True)


@pytest.fixture(scope="module")
def test_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[VerifyHost]:
    try:
        with running_test_host(tmp_path_factory.mktemp("testhost")) as host:
            yield host
    except ServerStartError as error:
        pytest.fail(f"the verify test host could not be started:\n{error}", pytrace=False)


@dataclass
class Verified:
    code: int
    output: str
    cases: dict[str, tuple[str, str]]  # junit test name -> (outcome, message)

    def failed(self) -> dict[str, str]:
        return {name: message for name, (outcome, message) in self.cases.items() if outcome == "failed"}


def verify(host: VerifyHost, tmp_path: Path, *, ca_file: Path | None = None) -> Verified:
    junit = tmp_path / f"verify-{time.monotonic_ns()}.xml"
    completed = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "verify",
            "--host",
            f"ssh://root@{host.address}",
            "--domain",
            DOMAIN,
            "--ssh-key",
            str(host.ssh_key),
            "--ca-file",
            str(ca_file or host.certificates.ca),
            "--openbao-url",
            host.openbao_url,
            "--backup-dir",
            str(host.backup_dir),
            "--junit",
            str(junit),
            "--docker-label",
            DOCKER_LABEL,
        ],
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "250"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    cases: dict[str, tuple[str, str]] = {}
    if junit.exists():
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = re.sub(r"\[paramiko://[^\]]+\]$", "", case.get("name", ""))  # testinfra's per-host parameter
            problem = case.find("failure") if case.find("failure") is not None else case.find("error")
            skipped = case.find("skipped")
            if problem is not None:
                first_line = problem.get("message", "").split("\n", 1)[0]
                cases[name] = ("failed", first_line.removeprefix("AssertionError: ").removeprefix("Failed: "))
            elif skipped is not None:
                cases[name] = ("skipped", skipped.get("message", ""))
            else:
                cases[name] = ("passed", "")
    return Verified(completed.returncode, completed.stdout + completed.stderr, cases)


def test_every_check_passes(test_host: VerifyHost, platform_containers: docker.DockerClient, tmp_path: Path) -> None:
    result = verify(test_host, tmp_path)
    assert result.code == 0, result.output
    assert result.failed() == {}
    hostname_checks = {name for name in result.cases if "[" in name}
    assert len(hostname_checks) == 3 * len(test_host.hostnames)
    assert {outcome for outcome, _ in result.cases.values()} == {"passed"}
    assert result.cases["test_docker_containers_running_and_healthy"] == ("passed", "")
    assert result.cases["test_docker_containers_hardened"] == ("passed", "")
    for title in (
        "only 22/80/443 listen on public addresses",
        "OpenBao initialized and unsealed",
        "newest backup younger than 26 h",
        "Keycloak serves the realm's OIDC discovery document",
        "TLS certificate trusted and valid for at least 14 more days",
        "Docker containers running and healthy",
        "Docker containers run with the hardened settings",
    ):
        assert title in result.output


@contextlib.contextmanager
def broken(test_host: VerifyHost, engine: docker.DockerClient, image: str) -> Iterator[None]:
    """Break every condition the checks watch, one per check; restore after."""
    careless = _run(engine, image, f"verify-careless-{os.getpid()}")  # root, writable, all defaults, no healthcheck
    listener = subprocess.Popen(  # noqa: S603 - a stray public service on the host
        test_host.in_namespace(sys.executable, "-m", "http.server", "8088", "--bind", "0.0.0.0"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    dump = test_host.backup_dir / "psra-db-latest.dump.enc"
    old = time.time() - 27 * 3600
    os.utime(dump, (old, old))
    test_host.set_control(certificate="short", redirect=False, discovery=False, status={f"grafana.{DOMAIN}": 502})
    test_host.bao("operator", "seal")
    try:
        time.sleep(1.0)  # the stray listener binds
        yield
    finally:
        test_host.bao("operator", "unseal", test_host.unseal_key())
        test_host.set_control(certificate="good", redirect=True, discovery=True, status={})
        os.utime(dump, None)
        listener.terminate()
        listener.wait(timeout=10)
        careless.remove(force=True)


def test_each_check_fails_naming_itself_when_its_condition_is_broken(
    test_host: VerifyHost, platform_containers: docker.DockerClient, busybox_image: str, tmp_path: Path
) -> None:
    with broken(test_host, platform_containers, busybox_image):
        result = verify(test_host, tmp_path)
    careless = f"verify-careless-{os.getpid()}"
    assert result.code == 1, result.output
    hosts = test_host.hostnames
    expected = {
        "test_only_ssh_http_https_listen_publicly": "listening publicly besides 22, 80, 443: tcp 0.0.0.0:8088",
        "test_backups_younger_than_26h": f"newest backup in {test_host.backup_dir} is 27.0 h old (limit 26 h)",
        "test_openbao_unsealed": f"OpenBao at {test_host.openbao_url} is sealed",
        "test_keycloak_discovery_served": f"https://auth.{DOMAIN}/realms/sevensa/.well-known/openid-configuration answered 404",
        f"test_hostname_answers[grafana.{DOMAIN}]": f"https://grafana.{DOMAIN}/ answered 502",
        **{f"test_tls_certificate_valid[{h}]": f"{h}: certificate expires in 9.0 days (< 14)" for h in hosts},
        **{
            f"test_http_redirects_to_https[{h}]": f"http://{h}/ answered 200 (no Location), not a permanent redirect to https://{h}"
            for h in hosts
        },
        "test_docker_containers_running_and_healthy": f"containers not running and healthy: {careless} (running, no healthcheck)",
        "test_docker_containers_hardened": (
            f"{careless}: does not drop ALL capabilities; {careless}: no no-new-privileges; "
            f"{careless}: writable root filesystem; {careless}: runs as root; {careless}: no memory limit"
        ),
    }
    assert result.failed() == expected
    for title in ("only 22/80/443 listen on public addresses", "OpenBao initialized and unsealed", "newest backup younger than 26 h"):
        assert title in result.output and "FAIL" in result.output


def test_an_untrusted_certificate_fails_the_tls_check(test_host: VerifyHost, tmp_path: Path) -> None:
    result = verify(test_host, tmp_path, ca_file=test_host.certificates.other_ca)
    failed = result.failed()
    assert "certificate not trusted" in failed[f"test_tls_certificate_valid[psra.{DOMAIN}]"]
    assert not any(name.startswith(("test_http_redirects", "test_only_ssh", "test_openbao", "test_backups")) for name in failed)


def test_a_bad_host_url_is_a_usage_error() -> None:
    completed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "verify", "--host", "root@vps", "--domain", DOMAIN],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 2 and "expected ssh://user@host[:port]" in completed.stderr
