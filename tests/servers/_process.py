"""Supervising one server process: start, wait for readiness, log tail, stop.

Shared by the per-server modules in this package. Every server runs in its own
process group (new session) with stdout+stderr going to a log file, so that
stopping it also stops whatever it spawned (kc.sh -> java, postmaster ->
backends) and so that start-up failures can be explained with the log tail.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"


class ServerStartError(RuntimeError):
    """A server could not be started; the message carries the reason and log tail."""


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port that was free a moment ago (bind to port 0, read it, release it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def free_port_pair(host: str = LOOPBACK, attempts: int = 50) -> int:
    """A free port P such that P+1 is free as well (OpenBao's cluster listener)."""
    for _ in range(attempts):
        port = free_port(host)
        if port < 65535 and port_is_free(port + 1, host):
            return port
    raise ServerStartError(f"no pair of consecutive free ports found on {host}")


def port_accepts(port: int, host: str = LOOPBACK, timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path | str, lines: int = 40) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - 64 * 1024))
            data = fh.read().decode("utf-8", "replace")
    except OSError as exc:
        return f"<log {path} unreadable: {exc}>"
    return "\n".join(data.splitlines()[-lines:])


_OWNER_FILE = ".sevensa-owner-pid"


def make_workdir(prefix: str, base_dir: str | None = None) -> Path:
    """A fresh tmp dir for one server, tagged with our pid.

    Also removes dirs with the same prefix left behind by dead processes
    (servers themselves die with us via PDEATHSIG, their tmp dirs do not).
    """
    parent = Path(base_dir or tempfile.gettempdir())
    for stale in parent.glob(f"{prefix}*"):
        try:
            owner = int((stale / _OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if owner != os.getpid() and not _pid_alive(owner):
            shutil.rmtree(stale, ignore_errors=True)
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=base_dir))
    (workdir / _OWNER_FILE).write_text(str(os.getpid()))
    return workdir


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> Callable[[], None]:
    """preexec_fn: ask the kernel to send `sig` to the server when we die.

    Only armed when started from the main thread: PDEATHSIG fires when the
    *thread* that forked exits, which would kill servers started from a
    worker thread too early.
    """

    def arm() -> None:
        try:
            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        except Exception:  # noqa: BLE001 - best effort only
            pass

    return arm


class ServerProcess:
    """One long-running server process in its own process group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log_path: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | str | None = None,
        user: str | int | None = None,
        group: str | int | None = None,
        stop_signal: int = signal.SIGTERM,
    ) -> None:
        self.name = name
        self.argv = [str(a) for a in argv]
        self.log_path = Path(log_path)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self.user = user
        self.group = group
        self.stop_signal = stop_signal
        self.proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        kwargs: dict = {}
        if self.user is not None:
            kwargs.update(user=self.user, group=self.group, extra_groups=[])
        if threading.current_thread() is threading.main_thread():
            kwargs["preexec_fn"] = _die_with_parent(self.stop_signal)
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - argv built by us
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
                **kwargs,
            )
        except OSError as exc:
            raise ServerStartError(f"{self.name}: cannot execute {self.argv[0]}: {exc}") from exc
        finally:
            log.close()
        return self

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        return tail(self.log_path, lines)

    def failure(self, reason: str, lines: int = 40) -> ServerStartError:
        return ServerStartError(
            f"{self.name} failed to start: {reason}\n"
            f"command: {' '.join(self.argv)}\n"
            f"--- last {lines} lines of {self.log_path} ---\n{self.log_tail(lines)}"
        )

    def wait_until(
        self,
        ready: Callable[[], bool],
        *,
        timeout: float,
        what: str = "ready",
        interval: float = 0.05,
        max_interval: float = 0.5,
    ) -> float:
        """Poll `ready()` until true; return the seconds waited.

        Raises ServerStartError (with log tail) if the process exits first or
        the timeout expires. Exceptions from `ready()` count as "not yet".
        """
        start = time.monotonic()
        deadline = start + timeout
        last_error: BaseException | None = None
        while True:
            if not self.running():
                code = self.proc.returncode if self.proc else None
                raise self.failure(f"process exited with code {code} before it was {what}")
            try:
                if ready():
                    return time.monotonic() - start
            except Exception as exc:  # noqa: BLE001 - readiness probe failures
                last_error = exc
            if time.monotonic() >= deadline:
                detail = f" (last probe error: {last_error!r})" if last_error else ""
                raise self.failure(f"not {what} within {timeout:.0f}s{detail}")
            time.sleep(interval)
            interval = min(interval * 1.5, max_interval)

    def stop(self, timeout: float = 15.0) -> None:
        """Signal the whole process group, wait, then SIGKILL what is left."""
        proc = self.proc
        if proc is None:
            return
        pgid = proc.pid  # start_new_session: the leader's pid is the group id
        if proc.poll() is None:
            _killpg(pgid, self.stop_signal)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _killpg(pgid, signal.SIGKILL)
                proc.wait(timeout=10)
        # stragglers (e.g. children that outlived the leader)
        _killpg(pgid, signal.SIGKILL)
        self.proc = proc


def _killpg(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
