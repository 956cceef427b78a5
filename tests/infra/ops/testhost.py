"""A real local test host for `cli.py verify`: its own network namespace on this machine.

Inside the namespace, as on the VPS: Debian's `sshd` on port 22 (key auth only, keys made
for the run), the web front on 80/443 (`web_host.py`, certificates from a test CA), an
OpenBao dev server on the host's loopback, a backup directory. A veth pair links it to this
machine, so the suite sees exactly what an outside verifier would. Everything lives in a tmp
dir and is torn down after; if anything cannot start, the fixture fails (never skips).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from infra.audit.reference import seed_reference
from tests.servers._process import ServerProcess, ServerStartError, port_accepts
from tests.servers.openbao import find_bao_binary

DOMAIN = "verify.test"
WEB_HOST = Path(__file__).with_name("web_host.py")
SUBNET_POOL = ipaddress.ip_network("10.231.0.0/16")
OPENBAO_PORT = 8200


def run(*argv: str) -> str:
    completed = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise ServerStartError(f"{' '.join(argv)} failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout


@dataclass
class Certificates:
    """A test CA and, signed by it, a 90-day and a 9-day certificate for every hostname."""

    ca: Path
    other_ca: Path
    good: tuple[Path, Path]
    short: tuple[Path, Path]


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _ca(directory: Path, name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert, key, path


def _leaf(
    directory: Path, name: str, hosts: tuple[str, ...], days: int, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(_key_pem(key))
    key_path.chmod(0o600)
    return cert_path, key_path


def make_certificates(directory: Path, hosts: tuple[str, ...]) -> Certificates:
    ca, ca_key, ca_path = _ca(directory, "test-ca")
    _, _, other = _ca(directory, "other-ca")
    return Certificates(ca_path, other, _leaf(directory, "good", hosts, 90, ca, ca_key), _leaf(directory, "short", hosts, 9, ca, ca_key))


@dataclass
class VerifyHost:
    """The running test host and the handles a test needs to break it."""

    namespace: str
    address: str
    ssh_key: Path
    certificates: Certificates
    control: Path
    backup_dir: Path
    openbao_url: str
    openbao_token: str
    openbao_log: Path
    hostnames: tuple[str, ...]

    def set_control(self, **changes: object) -> None:
        settings = json.loads(self.control.read_text()) | changes
        self.control.write_text(json.dumps(settings))

    def in_namespace(self, *argv: str) -> list[str]:
        return ["ip", "netns", "exec", self.namespace, *argv]

    def bao(self, *args: str) -> str:
        env = {"BAO_ADDR": self.openbao_url, "BAO_TOKEN": self.openbao_token, "PATH": "/usr/bin:/bin"}
        completed = subprocess.run(
            self.in_namespace(find_bao_binary(), *args), env=env, capture_output=True, text=True, timeout=60, check=False
        )
        if completed.returncode != 0:
            raise RuntimeError(f"bao {' '.join(args)}: {completed.stderr.strip()}")
        return completed.stdout

    def unseal_key(self) -> str:
        match = re.search(r"Unseal Key: (\S+)", self.openbao_log.read_text())
        if not match:
            raise RuntimeError("the dev server printed no unseal key")
        return match.group(1)


def _free_subnet() -> ipaddress.IPv4Network:
    used = run("ip", "-4", "-o", "addr", "show")
    for subnet in SUBNET_POOL.subnets(new_prefix=30):
        if str(next(subnet.hosts())) not in used:
            return subnet
    raise ServerStartError(f"no free /30 left in {SUBNET_POOL}")


def _sshd_config(directory: Path) -> Path:
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / "host_key"))
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(directory / "client_key"))
    (directory / "authorized_keys").write_text((directory / "client_key.pub").read_text())
    config = directory / "sshd_config"
    config.write_text(
        "\n".join(
            [
                "Port 22",
                "ListenAddress 0.0.0.0",
                f"HostKey {directory / 'host_key'}",
                f"AuthorizedKeysFile {directory / 'authorized_keys'}",
                "PermitRootLogin prohibit-password",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "UsePAM no",
                "StrictModes no",
                f"PidFile {directory / 'sshd.pid'}",
                "LogLevel VERBOSE",
                "Subsystem sftp internal-sftp",
                "",
            ]
        )
    )
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory
    run("/usr/sbin/sshd", "-t", "-f", str(config))
    return config


@contextlib.contextmanager
def running_test_host(directory: Path) -> Iterator[VerifyHost]:
    """Start the namespace, sshd, the web front and OpenBao; tear all of it down after."""
    suffix = f"{os.getpid() % 100000}{int(time.time() * 1000) % 1000}"
    namespace, outside, inside = f"sv-verify-{suffix}", f"svh{suffix}"[:15], f"svn{suffix}"[:15]
    processes: list[ServerProcess] = []
    try:
        subnet = _free_subnet()
        host_ip, guest_ip = (str(a) for a in list(subnet.hosts())[:2])
        run("ip", "netns", "add", namespace)
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        run("ip", "link", "set", inside, "netns", namespace)
        run("ip", "addr", "add", f"{host_ip}/30", "dev", outside)
        run("ip", "link", "set", outside, "up")
        for argv in (
            ("ip", "addr", "add", f"{guest_ip}/30", "dev", inside),
            ("ip", "link", "set", inside, "up"),
            ("ip", "link", "set", "lo", "up"),
        ):
            run("ip", "netns", "exec", namespace, *argv)

        hostnames = tuple(sorted({route.host for svc in seed_reference(DOMAIN).services.values() for route in svc.routes}))
        certificates = make_certificates(directory, hostnames)
        control = directory / "control.json"
        control.write_text(
            json.dumps(
                {
                    "certificate": "good",
                    "redirect": True,
                    "discovery": True,
                    "status": {},
                    "certificates": {
                        name: {"cert": str(pair[0]), "key": str(pair[1])}
                        for name, pair in (("good", certificates.good), ("short", certificates.short))
                    },
                }
            )
        )
        backup_dir = directory / "backups"
        backup_dir.mkdir()
        (backup_dir / "psra-db-latest.dump.enc").write_bytes(b"encrypted dump")

        in_ns = ["ip", "netns", "exec", namespace]
        sshd = ServerProcess(
            "sshd (test host)", [*in_ns, "/usr/sbin/sshd", "-D", "-e", "-f", str(_sshd_config(directory))], log_path=directory / "sshd.log"
        )
        web = ServerProcess(
            "web front (test host)", [*in_ns, sys.executable, str(WEB_HOST), "--control", str(control)], log_path=directory / "web.log"
        )
        token = "root-" + os.urandom(12).hex()
        bao = ServerProcess(
            "OpenBao (test host)",
            [*in_ns, find_bao_binary(), "server", "-dev", f"-dev-listen-address=127.0.0.1:{OPENBAO_PORT}", "-dev-no-store-token"],
            log_path=directory / "bao.log",
            env={"PATH": "/usr/bin:/bin", "HOME": str(directory), "BAO_DEV_ROOT_TOKEN_ID": token, "SKIP_SETCAP": "1"},
        )
        for process, port in ((sshd, 22), (web, 443), (web, 80)):
            if process not in processes:
                processes.append(process.start())
            process.wait_until(
                lambda port=port: port_accepts(port, guest_ip, timeout=0.5), timeout=30, what=f"listening on {guest_ip}:{port}"
            )
        processes.append(bao.start())
        bao.wait_until(lambda: "Unseal Key:" in bao.log_tail(200), timeout=30, what="unsealed")
        yield VerifyHost(
            namespace=namespace,
            address=guest_ip,
            ssh_key=directory / "client_key",
            certificates=certificates,
            control=control,
            backup_dir=backup_dir,
            openbao_url=f"http://127.0.0.1:{OPENBAO_PORT}",
            openbao_token=token,
            openbao_log=directory / "bao.log",
            hostnames=hostnames,
        )
    finally:
        for process in reversed(processes):
            process.stop()
        subprocess.run(["ip", "link", "del", outside], capture_output=True, check=False)  # noqa: S603, S607
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)  # noqa: S603, S607
