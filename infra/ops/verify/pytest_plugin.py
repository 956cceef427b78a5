"""pytest wiring of the verify suite: its options, the settings fixture, the result file.

`runner.py` passes every option; run by hand it is, for example:
    pytest infra/ops/verify/checks.py --hosts=paramiko://root@vps --verify-domain=sevensa.nl
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from components.network import LABEL_PREFIX
from infra.ops.verify.probes import tls_context


@dataclass(frozen=True)
class VerifySettings:
    domain: str
    hostnames: tuple[str, ...]
    address: str
    https_port: int
    http_port: int
    ca_file: Path | None
    realm: str
    openbao_url: str | None
    backup_dir: str
    max_backup_age_hours: float
    min_cert_days: float
    public_ports: frozenset[int]
    writable_root_allowed: frozenset[str]
    root_user_allowed: frozenset[str]
    docker_label: str

    def context(self):  # noqa: ANN201 - ssl.SSLContext
        return tls_context(self.ca_file)


# every container the platform declares carries its stack's label
PLATFORM_LABEL = f"{LABEL_PREFIX}.stack"

OPTIONS = {
    "domain": "platform domain",
    "hostnames": "comma-separated hostnames to probe",
    "address": "address that serves 80/443",
    "https-port": "HTTPS port",
    "http-port": "HTTP port",
    "ca-file": "CA bundle to trust for TLS (default: system)",
    "realm": "Keycloak realm",
    "openbao-url": "OpenBao address as seen from the host",
    "backup-dir": "directory of the backup dumps on the host",
    "max-backup-age-hours": "newest backup must be younger than this",
    "min-cert-days": "certificates must stay valid at least this long",
    "public-ports": "comma-separated ports allowed to listen on public addresses",
    "writable-root-allowed": "containers documented to need a writable root",
    "root-user-allowed": "containers documented to run as root",
    "docker-label": "the Docker checks look at the containers carrying this label (key or key=value)",
    "results": "write the results as JSON here",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("verify", "post-deploy verification")
    for name, help_text in OPTIONS.items():
        group.addoption(f"--verify-{name}", action="store", default=None, help=help_text)


def _option(config: pytest.Config, name: str, default: str = "") -> str:
    value = config.getoption(f"--verify-{name}")
    return default if value is None else value


def _set(text: str) -> frozenset[str]:
    return frozenset(part.strip() for part in text.split(",") if part.strip())


@pytest.fixture(scope="session")
def settings(pytestconfig: pytest.Config) -> VerifySettings:
    ca_file = _option(pytestconfig, "ca-file")
    return VerifySettings(
        domain=_option(pytestconfig, "domain"),
        hostnames=tuple(sorted(_set(_option(pytestconfig, "hostnames")))),
        address=_option(pytestconfig, "address"),
        https_port=int(_option(pytestconfig, "https-port", "443")),
        http_port=int(_option(pytestconfig, "http-port", "80")),
        ca_file=Path(ca_file) if ca_file else None,
        realm=_option(pytestconfig, "realm", "sevensa"),
        openbao_url=_option(pytestconfig, "openbao-url") or None,
        backup_dir=_option(pytestconfig, "backup-dir", "/opt/backups"),
        max_backup_age_hours=float(_option(pytestconfig, "max-backup-age-hours", "26")),
        min_cert_days=float(_option(pytestconfig, "min-cert-days", "14")),
        public_ports=frozenset(int(p) for p in _set(_option(pytestconfig, "public-ports", "22,80,443"))),
        writable_root_allowed=_set(_option(pytestconfig, "writable-root-allowed")),
        root_user_allowed=_set(_option(pytestconfig, "root-user-allowed")),
        docker_label=_option(pytestconfig, "docker-label", PLATFORM_LABEL),
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "hostname" in metafunc.fixturenames:
        hostnames = sorted(_set(_option(metafunc.config, "hostnames")))
        metafunc.parametrize("hostname", hostnames, ids=hostnames)


_results: list[dict[str, str]] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:  # noqa: ARG001
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        doc = (getattr(item, "obj", None).__doc__ or item.name).strip().splitlines()[0]
        callspec = getattr(item, "callspec", None)
        target = str(callspec.params.get("hostname", "")) if callspec else ""
        detail = ""
        if report.outcome == "skipped" and isinstance(report.longrepr, tuple):
            detail = report.longrepr[2].removeprefix("Skipped: ")
        elif report.outcome == "failed":
            detail = _failure_message(report)
        _results.append({"test": item.name, "check": doc, "target": target, "outcome": report.outcome, "detail": detail})


def _failure_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = crash.message if crash is not None else str(report.longrepr)
    first = message.split("\nassert ", 1)[0].strip()
    return first.removeprefix("AssertionError: ").removeprefix("Failed: ")


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = _option(session.config, "results")
    if path:
        Path(path).write_text(json.dumps(_results, indent=2))
