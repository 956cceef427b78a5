"""Off-site targets for restic on 127.0.0.1: restic's REST server (built from the Go module
proxy by scripts/install-system-deps.sh, basic auth from an htpasswd file) and Debian's
OpenSSH server for restic's SFTP back end (key auth only, keys made for the run).

    with running_rest_server() as rest:   # rest.repository("prod") -> "rest:http://user:pw@127.0.0.1:PORT/prod/"
    with running_sftp_server() as sftp:   # sftp.repository("prod"), sftp.private_key, sftp.known_hosts
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._process import (
    LOOPBACK,
    ServerProcess,
    ServerStartError,
    free_port,
    make_workdir,
    port_accepts,
)

REST_USER = "offsite"


def find_binary(name: str, hint: str) -> str:
    found = shutil.which(name) or (f"/usr/local/bin/{name}" if Path(f"/usr/local/bin/{name}").is_file() else None)
    if not found:
        raise ServerStartError(f"{name} not found; {hint}")
    return found


@dataclass
class RestServer:
    port: int
    password: str
    data: Path
    startup_seconds: float = 0.0

    def repository(self, name: str) -> str:
        return f"rest:http://{REST_USER}:{self.password}@{LOOPBACK}:{self.port}/{name}/"


@contextlib.contextmanager
def running_rest_server(*, startup_timeout: float = 30.0) -> Iterator[RestServer]:
    exe = find_binary("rest-server", "run scripts/install-system-deps.sh (go install github.com/restic/rest-server/cmd/rest-server)")
    started = time.monotonic()
    workdir = make_workdir("sevensa-rest-server-")
    proc: ServerProcess | None = None
    try:
        password = secrets.token_hex(16)
        digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324 - htpasswd {SHA} format
        htpasswd = workdir / ".htpasswd"
        htpasswd.write_text(f"{REST_USER}:{{SHA}}{digest}\n")
        data = workdir / "data"
        data.mkdir()
        port = free_port()
        argv = [exe, "--listen", f"{LOOPBACK}:{port}", "--path", str(data), "--htpasswd-file", str(htpasswd)]
        proc = ServerProcess("rest-server", argv, log_path=workdir / "rest-server.log", cwd=workdir).start()
        proc.wait_until(lambda: port_accepts(port), timeout=startup_timeout, what="listening")
        yield RestServer(port=port, password=password, data=data, startup_seconds=time.monotonic() - started)
    finally:
        if proc is not None:
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)


@dataclass
class SftpServer:
    port: int
    root: Path
    private_key: str
    known_hosts: str
    startup_seconds: float = 0.0

    def repository(self, name: str) -> str:
        return f"sftp://root@{LOOPBACK}:{self.port}/{self.root / name}"


@contextlib.contextmanager
def running_sftp_server(*, startup_timeout: float = 30.0) -> Iterator[SftpServer]:
    """Debian's sshd on a free loopback port, only our client key, internal-sftp."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).is_file():
        raise ServerStartError("sshd not found; install openssh-server")
    started = time.monotonic()
    workdir = make_workdir("sevensa-sftp-")
    proc: ServerProcess | None = None
    try:
        for key in ("host_key", "client_key"):
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(workdir / key)], check=True, timeout=30)  # noqa: S603, S607
        (workdir / "authorized_keys").write_text((workdir / "client_key.pub").read_text())
        root = workdir / "srv"
        root.mkdir()
        port = free_port()
        config = workdir / "sshd_config"
        config.write_text(
            "\n".join([
                f"Port {port}", f"ListenAddress {LOOPBACK}", f"HostKey {workdir / 'host_key'}",
                f"AuthorizedKeysFile {workdir / 'authorized_keys'}", "PermitRootLogin prohibit-password",
                "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
                f"PidFile {workdir / 'sshd.pid'}", "Subsystem sftp internal-sftp", "",
            ])
        )  # fmt: skip
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        proc = ServerProcess("sshd (sftp)", [sshd, "-D", "-e", "-f", str(config)], log_path=workdir / "sshd.log", cwd=workdir, env=dict(os.environ)).start()
        proc.wait_until(lambda: port_accepts(port), timeout=startup_timeout, what="listening")
        host_key = (workdir / "host_key.pub").read_text().split()
        yield SftpServer(
            port=port,
            root=root,
            private_key=(workdir / "client_key").read_text(),
            known_hosts=f"[{LOOPBACK}]:{port} {host_key[0]} {host_key[1]}\n",
            startup_seconds=time.monotonic() - started,
        )
    finally:
        if proc is not None:
            proc.stop()
        shutil.rmtree(workdir, ignore_errors=True)
