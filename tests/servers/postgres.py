"""A throw-away PostgreSQL cluster on 127.0.0.1 (initdb + postgres in a tmp dir).

Usable without pytest::

    from tests.servers.postgres import running_postgres
    with running_postgres() as pg:
        url = pg.create_database("bench")      # postgresql+psycopg://...

TCP and socket auth is scram-sha-256 with a random superuser password.
PostgreSQL refuses to run as root, so when we are root the cluster is
initialised and run as an unprivileged account (default ``postgres``, override
with ``SEVENSA_PG_RUN_AS``); its data dir is owned by that account.
PostgreSQL binaries are looked up in ``SEVENSA_PG_BINDIR``, then ``pg_config
--bindir``, then /usr/lib/postgresql/<newest>/bin, then PATH.

pytest-postgresql's process factory is not used: it runs initdb/pg_ctl as the
current user and therefore cannot work as root.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from ._process import LOOPBACK, ServerProcess, ServerStartError, free_port, make_workdir

SUPERUSER = "postgres"


@dataclass
class PostgresServer:
    host: str
    port: int
    user: str
    password: str
    data_dir: Path
    log_path: Path
    startup_seconds: float = 0.0
    _created: set[str] = field(default_factory=set, repr=False)

    def dsn(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL (psycopg 3 driver) for `dbname` as the superuser."""
        return (
            f"postgresql+psycopg://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{quote(dbname, safe='')}"
        )

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq URL (for psycopg.connect / psql)."""
        return self.dsn(dbname).replace("postgresql+psycopg://", "postgresql://", 1)

    def connect(self, dbname: str = "postgres", **kwargs):
        """A psycopg 3 connection as the superuser (kwargs go to psycopg.connect)."""
        import psycopg

        kwargs.setdefault("connect_timeout", 5)
        return psycopg.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=dbname, **kwargs
        )

    def create_database(self, name: str) -> str:
        """Create a fresh, empty database `name` and return its SQLAlchemy URL.

        An existing database of that name is dropped first (WITH (FORCE)).
        """
        from psycopg import sql

        with self.connect(autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        self._created.add(name)
        return self.dsn(name)


def find_pg_bindir() -> Path:
    env = os.environ.get("SEVENSA_PG_BINDIR")
    if env:
        if not ((Path(env) / "initdb").is_file() and (Path(env) / "postgres").is_file()):
            raise ServerStartError(f"SEVENSA_PG_BINDIR={env} has no initdb/postgres")
        return Path(env)
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10)
            candidates.append(Path(out.stdout.strip()))
    debian = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates.extend(debian)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for cand in candidates:
        if (cand / "initdb").is_file() and (cand / "postgres").is_file():
            return cand
    raise ServerStartError(
        "PostgreSQL server binaries (initdb, postgres) not found; install them "
        "(Debian: apt-get install -y postgresql) or set SEVENSA_PG_BINDIR. Looked in: "
        + ", ".join(str(c) for c in candidates)
    )


def _run_as() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as, or None to run as ourselves."""
    if os.geteuid() != 0:
        return None
    name = os.environ.get("SEVENSA_PG_RUN_AS", "postgres")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise ServerStartError(
            f"running as root, and PostgreSQL refuses to run as root, but the account {name!r} "
            "to run it as does not exist (the Debian postgresql package creates 'postgres'; "
            "or set SEVENSA_PG_RUN_AS to an unprivileged user)"
        ) from None


@contextlib.contextmanager
def running_postgres(
    *, startup_timeout: float = 30.0, port_attempts: int = 3, base_dir: str | None = None
) -> Iterator[PostgresServer]:
    """Start a private PostgreSQL cluster; stop it and delete its files on exit."""
    bindir = find_pg_bindir()
    account = _run_as()
    started = time.monotonic()
    workdir = make_workdir("sevensa-pg-", base_dir)
    proc: ServerProcess | None = None
    try:
        data_dir = workdir / "data"
        sock_dir = workdir / "sock"
        sock_dir.mkdir()
        password = secrets.token_hex(16)
        pwfile = workdir / "pwfile"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        run_kw: dict = {}
        if account is not None:
            for p in (workdir, sock_dir, pwfile):
                os.chown(p, account.pw_uid, account.pw_gid)
            run_kw = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C", "HOME": str(workdir)}

        initdb = [
            str(bindir / "initdb"),
            "-D", str(data_dir),
            "-U", SUPERUSER,
            "--auth=scram-sha-256",
            f"--pwfile={pwfile}",
            "-E", "UTF8",
            "--no-locale",
            "--no-sync",
            "--no-instructions",
        ]  # fmt: skip
        res = subprocess.run(  # noqa: S603
            initdb, cwd=workdir, env=env, capture_output=True, text=True, timeout=120, **run_kw
        )
        pwfile.unlink()
        if res.returncode != 0:
            raise ServerStartError(
                f"initdb failed with code {res.returncode}:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}"
            )

        last_error: ServerStartError | None = None
        for _attempt in range(port_attempts):
            port = free_port()
            log_path = workdir / f"postgres-{port}.log"
            argv = [
                str(bindir / "postgres"),
                "-D", str(data_dir),
                "-p", str(port),
                "-c", f"listen_addresses={LOOPBACK}",
                "-c", f"unix_socket_directories={sock_dir}",
                "-c", "fsync=off",
                "-c", "synchronous_commit=off",
                "-c", "full_page_writes=off",
                "-c", "max_connections=200",
                "-c", "password_encryption=scram-sha-256",
            ]  # fmt: skip
            proc = ServerProcess(
                "PostgreSQL",
                argv,
                log_path=log_path,
                env=env,
                cwd=workdir,
                user=run_kw.get("user"),
                group=run_kw.get("group"),
                stop_signal=signal.SIGINT,  # "fast" shutdown
            ).start()
            server = PostgresServer(
                host=LOOPBACK,
                port=port,
                user=SUPERUSER,
                password=password,
                data_dir=data_dir,
                log_path=log_path,
            )

            def ready(server: PostgresServer = server) -> bool:
                with server.connect(connect_timeout=2) as conn:
                    conn.execute("SELECT 1")
                return True

            try:
                proc.wait_until(ready, timeout=startup_timeout, what="accepting connections")
            except ServerStartError as exc:
                proc.stop()
                if "Address already in use" in proc.log_tail(200):
                    last_error, proc = exc, None
                    continue  # lost a port race; try another port
                raise
            server.startup_seconds = time.monotonic() - started
            break
        else:
            raise last_error or ServerStartError("PostgreSQL: no port attempt succeeded")

        yield server
    finally:
        if proc is not None:
            proc.stop(timeout=20)
        shutil.rmtree(workdir, ignore_errors=True)
