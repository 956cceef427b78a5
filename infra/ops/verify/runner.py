"""Run the verify suite (`checks.py`) with pytest and testinfra's paramiko backend.

The suite runs in its own pytest process (the checks are ordinary pytest tests, so JUnit
XML comes from pytest itself); its per-check results come back as JSON and are shown as a
Rich table, each row naming the check and, for per-hostname checks, the hostname.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from infra.audit.reference import seed_reference
from infra.spec.load import PROJECT_DIR, load_stack
from infra.spec.models import BackupSpec

CHECKS = Path(__file__).with_name("checks.py")
# the suite's options, settings fixture and result file (not a conftest: loaded by name)
PLUGIN = "infra.ops.verify.pytest_plugin"
TIMEOUT_SECONDS = 600

class VerifyError(ValueError):
    """The suite cannot run (bad host URL, pytest could not start)."""


@dataclass(frozen=True)
class VerifyOptions:
    testinfra_host: str  # paramiko://user@host:port
    ssh_key: Path | None
    domain: str
    hostnames: tuple[str, ...]
    address: str
    realm: str
    backup_dir: str
    writable_root_allowed: tuple[str, ...]
    root_user_allowed: tuple[str, ...]
    ca_file: Path | None = None
    docker_label: str | None = None
    openbao_url: str | None = None
    junit: Path | None = None
    https_port: int = 443
    http_port: int = 80

    @classmethod
    def build(
        cls,
        *,
        host: str,
        domain: str | None,
        stack: str,
        ssh_key: Path | None = None,
        address: str | None = None,
        ca_file: Path | None = None,
        openbao_url: str | None = None,
        junit: Path | None = None,
        backup_dir: str | None = None,
        docker_label: str | None = None,
    ) -> VerifyOptions:
        url = urlsplit(host)
        if url.scheme != "ssh" or not url.hostname or not url.username:
            raise VerifyError(f"--host {host!r}: expected ssh://user@host[:port]")
        if ssh_key is not None and not ssh_key.is_file():
            raise VerifyError(f"--ssh-key {ssh_key}: no such file")
        if domain is None:
            spec = load_stack(stack)
            domain, backup_dir = spec.domain, backup_dir or spec.backup.local_path
        seed = seed_reference(domain)
        return cls(
            testinfra_host=f"paramiko://{url.username}@{url.hostname}:{url.port or 22}",
            ssh_key=ssh_key,
            domain=domain,
            hostnames=tuple(sorted({route.host for svc in seed.services.values() for route in svc.routes})),
            address=address or url.hostname,
            realm=seed.keycloak.realm,
            backup_dir=backup_dir or BackupSpec().local_path,
            writable_root_allowed=tuple(sorted(name for name in seed.services if seed.writable_root_allowed(name))),
            root_user_allowed=tuple(sorted(name for name in seed.services if seed.root_user_allowed(name))),
            ca_file=ca_file,
            openbao_url=openbao_url,
            junit=junit,
            docker_label=docker_label,
        )

    def pytest_args(self, results: Path, junit: Path) -> list[str]:
        args = [
            str(CHECKS),
            "-p",
            PLUGIN,
            f"--hosts={self.testinfra_host}",
            "-p",
            "no:cacheprovider",
            "-o",
            "addopts=",
            "-q",
            "--no-header",
            "-rN",
            f"--junitxml={junit}",
            f"--verify-results={results}",
            f"--verify-domain={self.domain}",
            f"--verify-hostnames={','.join(self.hostnames)}",
            f"--verify-address={self.address}",
            f"--verify-https-port={self.https_port}",
            f"--verify-http-port={self.http_port}",
            f"--verify-realm={self.realm}",
            f"--verify-backup-dir={self.backup_dir}",
            f"--verify-writable-root-allowed={','.join(self.writable_root_allowed)}",
            f"--verify-root-user-allowed={','.join(self.root_user_allowed)}",
        ]
        if self.ssh_key:
            args.append(f"--ssh-identity-file={self.ssh_key}")
        if self.ca_file:
            args.append(f"--verify-ca-file={self.ca_file}")
        if self.openbao_url:
            args.append(f"--verify-openbao-url={self.openbao_url}")
        if self.docker_label:
            args.append(f"--verify-docker-label={self.docker_label}")
        return args


@dataclass(frozen=True)
class VerifyResults:
    checks: list[dict[str, str]]

    @property
    def failed(self) -> list[dict[str, str]]:
        return [c for c in self.checks if c["outcome"] == "failed"]

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not self.failed


def run_verify(options: VerifyOptions) -> VerifyResults:
    with tempfile.TemporaryDirectory(prefix="sevensa-verify-") as tmp:
        results_file = Path(tmp) / "results.json"
        junit = options.junit or Path(tmp) / "junit.xml"
        junit.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")]))}
        completed = subprocess.run(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "pytest", *options.pytest_args(results_file, junit)],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        if not results_file.exists():
            tail = "\n".join((completed.stdout + completed.stderr).strip().splitlines()[-20:])
            raise VerifyError(f"the verify suite did not run (pytest exit {completed.returncode}):\n{tail}")
        return VerifyResults(json.loads(results_file.read_text()))
