"""A throw-away MariaDB server on 127.0.0.1 (mariadb-install-db + mariadbd in a tmp dir).

Usable without pytest::

    from tests.servers.mariadb import running_mariadb
    with running_mariadb() as db:
        db.create_database("shop")
        db.query("shop", "SELECT 1")

The superuser is ``admin``@``%`` with a random password (TCP); setup runs over the
private socket as root. MariaDB refuses to run as root, so when we are root the server
runs as the Debian package's ``mysql`` account (override with ``SEVENSA_MARIADB_RUN_AS``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._process import LOOPBACK, ServerProcess, ServerStartError, free_port, make_workdir

SUPERUSER = "admin"


@dataclass
class MariaDBServer:
    host: str
    port: int
    user: str
    password: str
    socket: Path
    log_path: Path
    startup_seconds: float = 0.0

    def query(self, database: str | None, statement: str) -> list[list[str]]:
        """Rows of `statement` (tab-separated fields) as the superuser over the socket."""
        command = ["mariadb", "--no-defaults", "-S", str(self.socket), "-u", "root", "--batch", "--skip-column-names"]
        if database:
            command += ["--database", database]
        completed = subprocess.run([*command, "--execute", statement], capture_output=True, text=True, timeout=120, check=False)  # noqa: S603
        if completed.returncode != 0:
            raise RuntimeError(f"mariadb: {completed.stderr.strip()}")
        return [line.split("\t") for line in completed.stdout.splitlines()]

    def create_database(self, name: str) -> None:
        self.query(None, f"DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`")


def find_mariadbd() -> Path:
    for candidate in (os.environ.get("SEVENSA_MARIADBD"), shutil.which("mariadbd"), "/usr/sbin/mariadbd"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    raise ServerStartError("mariadbd not found; install it (Debian: apt-get install -y mariadb-server) or set SEVENSA_MARIADBD")


@contextlib.contextmanager
def running_mariadb(*, startup_timeout: float = 60.0, base_dir: str | None = None) -> Iterator[MariaDBServer]:
    """Start a private MariaDB; stop it and delete its files on exit."""
    mariadbd = find_mariadbd()
    started = time.monotonic()
    workdir = make_workdir("sevensa-mariadb-", base_dir)
    proc: ServerProcess | None = None
    account = None
    if os.geteuid() == 0:
        name = os.environ.get("SEVENSA_MARIADB_RUN_AS", "mysql")
        try:
            account = pwd.getpwnam(name)
        except KeyError:
            raise ServerStartError(f"running as root, but the account {name!r} to run MariaDB as does not exist") from None
    try:
        data, socket = workdir / "data", workdir / "mariadb.sock"
        data.mkdir()
        if account is not None:
            for path in (workdir, data):
                os.chown(path, account.pw_uid, account.pw_gid)
        user = ["--user", account.pw_name] if account else []
        install = subprocess.run(  # noqa: S603
            ["mariadb-install-db", "--no-defaults", f"--datadir={data}", *user, "--auth-root-authentication-method=socket", "--skip-test-db"],
            capture_output=True, text=True, timeout=300, check=False,
        )
        if install.returncode != 0:
            raise ServerStartError(f"mariadb-install-db failed ({install.returncode}): {install.stderr[-2000:]}")
        port = free_port()
        log_path = workdir / "mariadb.log"
        argv = [
            str(mariadbd), "--no-defaults", f"--datadir={data}", f"--socket={socket}", f"--port={port}",
            f"--bind-address={LOOPBACK}", f"--pid-file={workdir / 'mariadb.pid'}", "--skip-name-resolve",
            "--innodb-buffer-pool-size=64M", "--innodb-log-file-size=16M", "--skip-log-bin", *user,
        ]  # fmt: skip
        proc = ServerProcess("MariaDB", argv, log_path=log_path, cwd=workdir).start()
        server = MariaDBServer(host=LOOPBACK, port=port, user=SUPERUSER, password=secrets.token_hex(16), socket=socket, log_path=log_path)
        proc.wait_until(lambda: bool(server.query(None, "SELECT 1")), timeout=startup_timeout, what="accepting connections")
        server.query(None, f"CREATE USER '{SUPERUSER}'@'%' IDENTIFIED BY '{server.password}'; GRANT ALL PRIVILEGES ON *.* TO '{SUPERUSER}'@'%' WITH GRANT OPTION")
        server.startup_seconds = time.monotonic() - started
        yield server
    finally:
        if proc is not None:
            proc.stop(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)
