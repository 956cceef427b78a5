"""A throw-away Keycloak (``kc.sh start-dev``) on 127.0.0.1 with a random admin password.

Usable without pytest::

    from tests.servers.keycloak_server import running_keycloak
    with running_keycloak() as kc:
        admin = kc.admin()                    # keycloak.KeycloakAdmin, master realm
        admin.get_realms()

(The module is not called ``keycloak.py`` so it can never shadow python-keycloak.)

Where Keycloak comes from: ``KEYCLOAK_HOME`` if set (an unpacked
keycloak-<version> directory), else ``scripts/fetch-keycloak.sh`` which
downloads it once with Maven into ~/.cache/sevensa-platform/keycloak and
prints the path. That directory is only a template: every run copies it
into its own tmp dir (``lib/lib``, the 160 MB of jars, is symlinked), so
concurrent runs never share data, transaction logs or build output.

Database: ``dev-mem`` (in-memory H2), so each run starts with a fresh master
realm. Java: ``KEYCLOAK_JAVA_HOME``, else ``JAVA_HOME``, else ``java`` on
PATH. Keycloak 26.5.6 runs on Java 17 (verified with OpenJDK 17.0.15).
The JVM runs with ``-XX:TieredStopAtLevel=1`` (override with
``SEVENSA_KEYCLOAK_JAVA_OPTS_APPEND``; empty string = Keycloak's defaults).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import re
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._process import LOOPBACK, ServerProcess, ServerStartError, free_port, make_workdir, tail

REPO_ROOT = Path(__file__).resolve().parents[2]
FETCH_SCRIPT = REPO_ROOT / "scripts" / "fetch-keycloak.sh"
# Build-time options: keep identical to BUILD_OPTS in scripts/fetch-keycloak.sh,
# otherwise every start pays a ~10 s Quarkus re-augmentation (still works).
BUILD_OPTIONS = ("--db=dev-mem", "--health-enabled=true")
ADMIN_USER = "admin"


@dataclass
class KeycloakServer:
    base_url: str
    admin_user: str
    admin_password: str
    management_url: str
    home: Path
    log_path: Path
    startup_seconds: float = 0.0

    def admin(self, **kwargs):
        """keycloak.KeycloakAdmin logged into the master realm as the bootstrap admin."""
        from keycloak import KeycloakAdmin

        return KeycloakAdmin(
            server_url=self.base_url,
            username=self.admin_user,
            password=self.admin_password,
            realm_name="master",
            user_realm_name="master",
            **kwargs,
        )


def keycloak_home(timeout: float = 1800.0) -> Path:
    """An unpacked Keycloak distribution to use as a template (may download it)."""
    env = os.environ.get("KEYCLOAK_HOME")
    if env:
        home = Path(env)
        if not (home / "bin" / "kc.sh").is_file():
            raise ServerStartError(f"KEYCLOAK_HOME={env} has no bin/kc.sh")
        return home
    if not FETCH_SCRIPT.is_file():
        raise ServerStartError(f"{FETCH_SCRIPT} missing and KEYCLOAK_HOME not set")
    try:
        res = subprocess.run(  # noqa: S603
            ["bash", str(FETCH_SCRIPT)], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise ServerStartError(f"{FETCH_SCRIPT} did not finish within {timeout:.0f}s") from exc
    lines = res.stdout.strip().splitlines()
    if res.returncode != 0 or not lines:
        raise ServerStartError(
            f"{FETCH_SCRIPT} failed with code {res.returncode}:\n{res.stderr[-4000:]}{res.stdout[-1000:]}"
        )
    home = Path(lines[-1])
    if not (home / "bin" / "kc.sh").is_file():
        raise ServerStartError(f"{FETCH_SCRIPT} printed {home}, which has no bin/kc.sh")
    return home


def _java_env() -> dict[str, str]:
    jh = os.environ.get("KEYCLOAK_JAVA_HOME") or os.environ.get("JAVA_HOME")
    if jh:
        if not os.access(Path(jh) / "bin" / "java", os.X_OK):
            raise ServerStartError(f"no executable bin/java under {jh} (KEYCLOAK_JAVA_HOME/JAVA_HOME)")
        return {"JAVA_HOME": jh}
    if not shutil.which("java"):
        raise ServerStartError(
            "no Java for Keycloak: install a JDK/JRE >= 17 (Debian: apt-get install -y "
            "openjdk-17-jre-headless) or set KEYCLOAK_JAVA_HOME"
        )
    return {}


def _private_copy(template: Path, dest: Path) -> Path:
    """Copy the distribution, sharing the read-only jar tree through a symlink."""
    dest.mkdir()
    for entry in template.iterdir():
        if entry.name in {"data", "lib"} or entry.name.startswith(".sevensa"):
            continue
        if entry.is_dir():
            shutil.copytree(entry, dest / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, dest / entry.name)
    (dest / "lib").mkdir()
    for entry in (template / "lib").iterdir():
        if entry.name == "lib":
            (dest / "lib" / "lib").symlink_to(entry.resolve(), target_is_directory=True)
        elif entry.is_dir():
            shutil.copytree(entry, dest / "lib" / entry.name, symlinks=True)
        else:
            shutil.copy2(entry, dest / "lib" / entry.name)
    return dest


DEFAULT_JAVA_OPTS_APPEND = "-XX:TieredStopAtLevel=1"  # C1 only: ~30% faster start-up, fine for tests


STARTED_IN = re.compile(r"\) started in (\d+(?:\.\d+)?)s\.")


def own_startup_seconds(log_path: Path) -> float | None:
    """Keycloak's own "started in 20.6s": it is launched early and awaited when a test first needs it,
    so the time until that wait ends can be the whole session (CI once printed 1469 s)."""
    found = STARTED_IN.search(log_path.read_text(errors="replace")) if log_path.exists() else None
    return float(found.group(1)) if found else None


class KeycloakLauncher:
    """Start Keycloak now, wait for it later.

    ``launch()`` is quick (copy the template, spawn kc.sh); ``wait_ready()``
    blocks until Keycloak serves requests. Splitting the two lets the pytest
    plugin boot Keycloak in the background while other tests run.
    ``running_keycloak()`` is the simple context-manager form.
    """

    def __init__(
        self,
        *,
        startup_timeout: float | None = None,
        port_attempts: int = 2,
        base_dir: str | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        if startup_timeout is None:
            startup_timeout = float(os.environ.get("SEVENSA_KEYCLOAK_TIMEOUT", "240"))
        self.startup_timeout = startup_timeout
        self.port_attempts = port_attempts
        self.base_dir = base_dir
        self.extra_args = tuple(extra_args)
        self.workdir: Path | None = None
        self.proc: ServerProcess | None = None
        self.server: KeycloakServer | None = None
        self._ready: KeycloakServer | None = None
        self._started = 0.0
        self._env: dict[str, str] = {}
        self._home: Path | None = None

    # -- phase 1 -------------------------------------------------------------
    def launch(self) -> KeycloakLauncher:
        self._started = time.monotonic()
        template = keycloak_home()
        java_env = _java_env()
        self.workdir = make_workdir("sevensa-keycloak-", self.base_dir)
        try:
            self._home = _private_copy(template, self.workdir / "keycloak")
            env = {k: v for k, v in os.environ.items() if not k.startswith(("KC_", "KEYCLOAK_", "JAVA_OPTS"))}
            env.update(java_env)
            env.update(
                KC_BOOTSTRAP_ADMIN_USERNAME=ADMIN_USER,
                KC_BOOTSTRAP_ADMIN_PASSWORD=secrets.token_urlsafe(18),
                JAVA_OPTS_APPEND=os.environ.get("SEVENSA_KEYCLOAK_JAVA_OPTS_APPEND", DEFAULT_JAVA_OPTS_APPEND),
                HOME=str(self.workdir),
            )
            if not env["JAVA_OPTS_APPEND"]:
                del env["JAVA_OPTS_APPEND"]
            self._env = env
            self._spawn()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self) -> None:
        assert self.workdir is not None and self._home is not None
        http_port = free_port()
        mgmt_port = free_port()
        while mgmt_port == http_port:
            mgmt_port = free_port()
        log_path = self.workdir / f"keycloak-{http_port}.log"
        argv = [
            str(self._home / "bin" / "kc.sh"),
            "start-dev",
            *BUILD_OPTIONS,
            f"--http-host={LOOPBACK}",
            f"--http-port={http_port}",
            f"--http-management-port={mgmt_port}",
            *self.extra_args,
        ]
        self.server = KeycloakServer(
            base_url=f"http://{LOOPBACK}:{http_port}",
            admin_user=ADMIN_USER,
            admin_password=self._env["KC_BOOTSTRAP_ADMIN_PASSWORD"],
            management_url=f"http://{LOOPBACK}:{mgmt_port}",
            home=self._home,
            log_path=log_path,
        )
        self.proc = ServerProcess("Keycloak", argv, log_path=log_path, env=self._env, cwd=self.workdir).start()

    # -- phase 2 -------------------------------------------------------------
    def wait_ready(self) -> KeycloakServer:
        if self._ready is not None:
            return self._ready
        if self.proc is None or self.server is None:
            raise ServerStartError("Keycloak: wait_ready() called before launch()")
        attempt = 1
        while True:
            server = self.server

            def ready(server: KeycloakServer = server) -> bool:
                import httpx

                health = httpx.get(f"{server.management_url}/health/ready", timeout=3)
                if health.status_code != 200 or health.json().get("status") != "UP":
                    return False
                realm = httpx.get(f"{server.base_url}/realms/master", timeout=5)
                return realm.status_code == 200

            remaining = self.startup_timeout - (time.monotonic() - self._started)
            try:
                self.proc.wait_until(
                    ready,
                    timeout=max(remaining, 1.0),
                    what="ready (/health/ready UP and /realms/master served)",
                    interval=0.25,
                    max_interval=1.0,
                )
            except ServerStartError:
                self.proc.stop(timeout=30)
                log = tail(server.log_path, 200).lower()
                if attempt < self.port_attempts and ("address already in use" in log or "port(s) already bound" in log):
                    attempt += 1
                    self._spawn()  # lost a port race; try other ports
                    continue
                raise
            server.startup_seconds = own_startup_seconds(server.log_path) or time.monotonic() - self._started
            self._ready = server
            return server

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop(timeout=30)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.proc = None
        self.workdir = None

    def __enter__(self) -> KeycloakServer:
        if self.proc is None:
            self.launch()
        try:
            return self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc_info) -> None:
        self.stop()


@contextlib.contextmanager
def running_keycloak(
    *,
    startup_timeout: float | None = None,
    port_attempts: int = 2,
    base_dir: str | None = None,
    extra_args: tuple[str, ...] = (),
) -> Iterator[KeycloakServer]:
    """Start Keycloak in dev mode; stop it and delete its files on exit.

    `startup_timeout` defaults to $SEVENSA_KEYCLOAK_TIMEOUT or 240 s (a start
    takes ~11-16 s on 2 cores; the very first one after a fresh fetch more).
    """
    with KeycloakLauncher(
        startup_timeout=startup_timeout, port_attempts=port_attempts, base_dir=base_dir, extra_args=extra_args
    ) as server:
        yield server
