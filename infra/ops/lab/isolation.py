"""The isolation matrix, measured live from each container's own network namespace.

Cells are (source container, target container, target address on one network, port). A
cell is expected open exactly when the plan puts source and target on that network and the
target listens on the port there; every cell is tried with a TCP connect made from inside
the source's network namespace (`setns` in a forked child: no tool has to exist in the
image, and the traffic is the container's own, with its routes and firewall rules).
Ports are the target's listening sockets (read from its namespace's `/proc/<pid>/net/tcp`),
so nothing a container serves escapes the matrix.
"""

from __future__ import annotations

import ctypes
import ipaddress
import multiprocessing
import os
import select
import socket
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

CLONE_NEWNET = 0x40000000
LISTEN = "0A"
CONNECT_SECONDS = 1.5


@dataclass(frozen=True)
class Endpoint:
    container: str
    network: str
    address: str
    port: int


@dataclass(frozen=True)
class Cell:
    source: str
    target: Endpoint
    expected: bool
    measured: bool

    @property
    def differs(self) -> bool:
        return self.expected != self.measured


@dataclass(frozen=True)
class Matrix:
    cells: tuple[Cell, ...]
    unmeasured: tuple[str, ...] = ()
    """Sources whose namespace vanished during the measurement (restarting): reported, never dropped."""

    @property
    def differing(self) -> list[Cell]:
        return [cell for cell in self.cells if cell.differs]

    def reachable(self, source: str) -> list[str]:
        return sorted({f"{c.target.container}:{c.target.port}" for c in self.cells if c.source == source and c.measured})

    def as_json(self) -> dict[str, Any]:
        return {
            "cells": len(self.cells),
            "open": sum(c.measured for c in self.cells),
            "unmeasured": list(self.unmeasured),
            "differing": [asdict(c) | {"target": asdict(c.target)} for c in self.differing],
            "reachable": {source: self.reachable(source) for source in sorted({c.source for c in self.cells})},
        }


def listening_ports(pid: int) -> set[tuple[str, int]]:
    """(bound IPv4 address, port) of every listening TCP socket in the namespace of `pid`."""
    found: set[tuple[str, int]] = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = open(f"/proc/{pid}/net/{table}").read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] != LISTEN:
                continue
            address_hex, port_hex = fields[1].split(":")
            port = int(port_hex, 16)
            if table == "tcp":
                address = str(ipaddress.IPv4Address(bytes.fromhex(address_hex)[::-1]))
            else:
                raw = bytes.fromhex(address_hex)
                words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                v6 = ipaddress.IPv6Address(words)
                address = "0.0.0.0" if v6 == ipaddress.IPv6Address("::") else str(v6.ipv4_mapped or v6)
            found.add((address, port))
    return found


def _connect_all(targets: list[tuple[str, int]], timeout: float) -> list[bool]:
    """Non-blocking connects to every target at once; True where the handshake completed."""
    sockets: dict[int, tuple[int, socket.socket]] = {}
    results = [False] * len(targets)
    for index, (address, port) in enumerate(targets):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        sock.connect_ex((address, port))
        sockets[sock.fileno()] = (index, sock)
    pending = dict(sockets)
    poller = select.poll()
    for fd in pending:
        poller.register(fd, select.POLLOUT | select.POLLERR | select.POLLHUP)
    deadline = timeout * 1000
    while pending and deadline > 0:
        for fd, _ in poller.poll(min(deadline, 200)):
            if fd not in pending:
                continue
            index, sock = pending.pop(fd)
            poller.unregister(fd)
            results[index] = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
        deadline -= 200
    for _, sock in sockets.values():
        sock.close()
    return results


def _probe_from(pid: int, targets: list[tuple[str, int]], timeout: float, out: Any) -> None:
    """Runs in a forked child: enter the network namespace of `pid`, then connect."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns")
        out.send(("ok", _connect_all(targets, timeout)))
    except Exception as exc:  # reported to the parent, which raises it
        out.send(("error", f"probe from pid {pid}: {exc}"))


def probe(pid: int, targets: list[tuple[str, int]], timeout: float = CONNECT_SECONDS) -> list[bool]:
    """TCP connects to `targets` from the network namespace of process `pid`."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_probe_from, args=(pid, targets, timeout, send))
    child.start()
    if not receive.poll(timeout + 30):
        child.kill()
        raise RuntimeError(f"probe from pid {pid} gave no answer")
    status, value = receive.recv()
    child.join()
    if status != "ok":
        raise RuntimeError(value)
    return value


@dataclass(frozen=True)
class LiveContainer:
    """What the matrix needs of one running container: plan networks, live addresses, pid."""

    name: str
    pid: int
    planned_networks: frozenset[str]
    addresses: Mapping[str, str]


def endpoints(containers: Iterable[LiveContainer]) -> list[Endpoint]:
    """Every (container, network address, listening port) another container could try."""
    found: list[Endpoint] = []
    for container in containers:
        ports = listening_ports(container.pid)
        for network, address in sorted(container.addresses.items()):
            for bound, port in sorted(ports):
                if bound in ("0.0.0.0", address):
                    found.append(Endpoint(container.name, network, address, port))
    return found


def measure(containers: list[LiveContainer]) -> Matrix:
    targets = endpoints(containers)
    cells: list[Cell] = []
    unmeasured: list[str] = []
    for source in containers:
        if source.pid <= 0:
            raise RuntimeError(f"{source.name} is not running: no network namespace to measure from")
        others = [t for t in targets if t.container != source.name]
        try:
            measured = probe(source.pid, [(t.address, t.port) for t in others])
        except RuntimeError as exc:  # the container restarted meanwhile: its namespace is gone
            unmeasured.append(f"{source.name}: {exc}")
            continue
        cells.extend(
            Cell(source.name, target, expected=target.network in source.planned_networks, measured=opened)
            for target, opened in zip(others, measured, strict=True)
        )
    return Matrix(tuple(cells), tuple(unmeasured))
