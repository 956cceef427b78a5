"""The rendered server config (raft storage) starts a real, non-dev `bao server`; bootstrap initialises
and unseals it.

The HCL is the one the container gets (`components.openbao_server.server_config`), with
only the volume mount points and the listen address moved to a temporary directory and a
free loopback port. Initialisation uses PGP-encrypted shares (five gpg keys made here), the
unseal goes through `cli.py bootstrap unseal --gpg`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import hvac
import hvac.exceptions
import pytest

from components import readiness
from components.openbao_server import AUDIT_VOLUME, STORAGE_VOLUME, server_config
from infra.ops import bootstrap
from infra.spec.models import VolumeMount
from infra.spec.openbao_policy import (
    PROVISIONER_AUTH_PATH,
    PROVISIONER_POLICY,
    PROVISIONER_ROLE,
)
from tests.harness import spec_for
from tests.servers._process import LOOPBACK, ServerProcess, free_port_pair
from tests.servers.openbao import find_bao_binary

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[2]
SPEC = spec_for(stack="prod")
SHARES, THRESHOLD = SPEC.openbao.key_shares, SPEC.openbao.key_threshold


@dataclass
class RealServer:
    addr: str
    storage: Path
    audit_file: Path
    config: str
    startup_seconds: float


@contextlib.contextmanager
def running_real_openbao(workdir: Path) -> Iterator[RealServer]:
    """A non-dev `bao server` on the rendered config, uninitialised."""
    service = next(s for s in SPEC.services if s.name == "openbao")
    moved = tuple(
        VolumeMount(volume=m.volume, container_path=str(workdir / m.volume), read_only=m.read_only) for m in service.volumes
    )
    port = free_port_pair()
    config = server_config(
        service.model_copy(update={"volumes": moved}), f"http://{LOOPBACK}:{port}", f"{LOOPBACK}:{port}", f"http://{LOOPBACK}:{port + 1}"
    )
    config_file = workdir / "openbao.hcl"
    config_file.write_text(config)
    for mount in moved:
        Path(mount.container_path).mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BAO_", "VAULT_"))} | {"HOME": str(workdir)}
    process = ServerProcess("OpenBao (file storage)", [find_bao_binary(), "server", f"-config={config_file}"], log_path=workdir / "bao.log", env=env, cwd=workdir)
    started = time.monotonic()
    process.start()
    addr = f"http://{LOOPBACK}:{port}"
    try:
        process.wait_until(lambda: httpx.get(f"{addr}/v1/sys/health", timeout=2).status_code == 501, timeout=30, what="answering (uninitialized)")
        yield RealServer(
            addr=addr,
            storage=workdir / STORAGE_VOLUME,
            audit_file=workdir / AUDIT_VOLUME / "audit.log",
            config=config,
            startup_seconds=time.monotonic() - started,
        )
    finally:
        process.stop()


@pytest.fixture(scope="module")
def real_openbao(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RealServer]:
    with running_real_openbao(tmp_path_factory.mktemp("bao-real")) as server:
        yield server


@pytest.fixture(scope="module")
def gnupg_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    """Five custodians' gpg keys; public keys exported as binary files for `--pgp-keys`."""
    home = tmp_path_factory.mktemp("gnupg")
    home.chmod(0o700)
    env = os.environ | {"GNUPGHOME": str(home)}
    keys: list[Path] = []
    for index in range(SHARES):
        uid = f"custodian{index}@example.org"
        subprocess.run(
            ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", uid, "rsa2048", "encrypt", "never"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        key = home / f"custodian{index}.gpg"
        key.write_bytes(subprocess.run(["gpg", "--export", uid], env=env, check=True, capture_output=True).stdout)
        keys.append(key)
    return home, keys


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120)


def test_rendered_config_declares_raft_storage_and_audit_devices(real_openbao: RealServer) -> None:
    assert f'storage "raft" {{\n  path    = "{real_openbao.storage}"' in real_openbao.config
    assert 'audit "file" "file"' in real_openbao.config and 'audit "file" "stdout"' in real_openbao.config
    assert "tls_disable = true" in real_openbao.config  # TLS at Traefik; see BAO-02 note in the template
    assert "unauthenticated_metrics_access = false" in real_openbao.config


def test_readiness_gate_names_the_missing_bootstrap_step(real_openbao: RealServer, conformance_openbao) -> None:
    quick = dataclasses.replace(readiness.OPENBAO_HEALTH, timeout_seconds=1.0, interval_seconds=0.2)
    with pytest.raises(readiness.NotReadyError, match="not initialized: run `python cli.py bootstrap openbao`"):
        asyncio.run(readiness.wait_until_ready(real_openbao.addr, quick))
    assert asyncio.run(readiness.wait_until_ready(conformance_openbao.addr, quick)) == conformance_openbao.addr
    with pytest.raises(readiness.NotReadyError, match="ConnectError"):
        asyncio.run(readiness.wait_until_ready(f"http://{LOOPBACK}:9", quick))


def test_bootstrap_refuses_before_init_when_the_token_could_not_be_stored(real_openbao: RealServer, gnupg_home) -> None:
    _, keys = gnupg_home
    env = {k: v for k, v in os.environ.items() if k != "PATH"} | {"PATH": "/nonexistent"}
    result = cli("bootstrap", "openbao", "--stack", "prod", "--addr", real_openbao.addr, *[a for k in keys for a in ("--pgp-keys", str(k))], env=env)
    assert result.returncode == 2, result.stderr
    assert "Pulumi CLI" in result.stderr
    assert bootstrap.seal_state(real_openbao.addr).initialized is False  # nothing was initialised


def test_init_with_pgp_shares_then_cli_unseal(real_openbao: RealServer, gnupg_home, tmp_path: Path) -> None:
    home, keys = gnupg_home
    result = bootstrap.initialize(real_openbao.addr, SHARES, THRESHOLD, bootstrap.read_pgp_keys(keys))
    assert result.encrypted and len(result.shares) == SHARES
    state = bootstrap.seal_state(real_openbao.addr)
    assert (state.initialized, state.sealed, state.threshold) == (True, True, THRESHOLD)
    quick = dataclasses.replace(readiness.OPENBAO_HEALTH, timeout_seconds=1.0, interval_seconds=0.2)
    with pytest.raises(readiness.NotReadyError, match="sealed: run `python cli.py bootstrap unseal`"):
        asyncio.run(readiness.wait_until_ready(real_openbao.addr, quick))
    share_files = []
    for index, share in enumerate(result.shares[:THRESHOLD]):
        path = tmp_path / f"share{index}.asc"
        path.write_text(share)
        share_files += ["--share-file", str(path)]
    env = os.environ | {"GNUPGHOME": str(home)}
    partial = cli("bootstrap", "unseal", "--stack", "prod", "--addr", real_openbao.addr, "--gpg", *share_files[: 2 * (THRESHOLD - 1)], env=env)
    assert partial.returncode == 1 and f"{THRESHOLD - 1} of {THRESHOLD}" in partial.stderr
    unsealed = cli("bootstrap", "unseal", "--stack", "prod", "--addr", real_openbao.addr, "--gpg", *share_files[-2:], env=env)
    assert unsealed.returncode == 0, unsealed.stderr
    assert "unsealed" in unsealed.stdout
    assert result.root_token not in unsealed.stdout + unsealed.stderr + partial.stdout + partial.stderr
    assert bootstrap.seal_state(real_openbao.addr).sealed is False
    assert asyncio.run(readiness.wait_until_ready(real_openbao.addr, readiness.OPENBAO_HEALTH)) == real_openbao.addr
    real_openbao.root_token = result.root_token  # type: ignore[attr-defined] - for the next test


def test_audit_devices_from_the_config_log_every_request(real_openbao: RealServer) -> None:
    token = getattr(real_openbao, "root_token", None)
    assert token, "runs after the init test"
    client = hvac.Client(url=real_openbao.addr, token=token)
    devices = client.sys.list_enabled_audit_devices()["data"]
    assert {path: device["type"] for path, device in devices.items()} == {"file/": "file", "stdout/": "file"}
    assert devices["file/"]["options"]["file_path"] == str(real_openbao.audit_file)
    with pytest.raises(hvac.exceptions.VaultError):
        client.sys.enable_audit_device("file", path="api-made", options={"file_path": "/tmp/x.log"})
    client.sys.enable_secrets_engine("kv", path="probe", options={"version": "2"})
    client.secrets.kv.v2.create_or_update_secret(path="x", secret={"value": "audit-me"}, mount_point="probe")
    lines = [json.loads(line) for line in real_openbao.audit_file.read_text().splitlines()]
    assert any(entry.get("request", {}).get("path") == "probe/data/x" for entry in lines)
    text = real_openbao.audit_file.read_text()
    assert token not in text and "audit-me" not in text  # values are HMAC'd in the audit log
    assert oct(real_openbao.audit_file.stat().st_mode & 0o777) == "0o600"
    assert any(real_openbao.storage.rglob("*")), "file storage wrote nothing"


def test_bootstrap_cli_unseals_provisions_and_revokes_the_root_token(tmp_path: Path, gnupg_home) -> None:
    """`bootstrap openbao --pgp-keys` on a fresh server: shares for the custodians, a wait while they run
    `bootstrap unseal --gpg`, then the provisioner AppRole, its login stored as stack secrets (a stand-in
    `pulumi` records them), and the root token revoked; the provisioner may run the plan but not more."""
    home, keys = gnupg_home
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pulumi").write_text(f'#!/bin/sh\nexec {sys.executable} {ROOT / "tests" / "ops" / "fake_pulumi.py"} "$@"\n')
    (bin_dir / "pulumi").chmod(0o755)
    stored = tmp_path / "config.jsonl"
    env = os.environ | {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "GNUPGHOME": str(home),
        "PULUMI_CONFIG_PASSPHRASE": "test passphrase",
        "PULUMI_BACKEND_URL": f"file://{tmp_path / 'state'}",
        "FAKE_PULUMI_CONFIG": str(stored),
        "COLUMNS": "4000",
    }
    (tmp_path / "bao").mkdir()
    with running_real_openbao(tmp_path / "bao") as server:
        command = [sys.executable, str(ROOT / "cli.py"), "bootstrap", "openbao", "--stack", "prod", "--addr", server.addr, "--wait-minutes", "2"]
        command += [a for k in keys for a in ("--pgp-keys", str(k))]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT) as running:
            assert running.stdout is not None
            shares = []
            while len(shares) < SHARES:
                line = running.stdout.readline()
                assert line, f"bootstrap ended early: {running.stderr.read() if running.stderr else ''}"
                if line.startswith("PGP-encrypted share"):
                    shares.append(line.rsplit(": ", 1)[1].strip())
            share_files = []
            for index, share in enumerate(shares[:THRESHOLD]):
                (tmp_path / f"share{index}").write_text(share)
                share_files += ["--share-file", str(tmp_path / f"share{index}")]
            unsealed = cli("bootstrap", "unseal", "--stack", "prod", "--addr", server.addr, "--gpg", *share_files, env=env)
            assert unsealed.returncode == 0, unsealed.stderr
            rest, problems = running.communicate(timeout=60)
        assert running.returncode == 0, problems
        assert "Provisioner AppRole ready" in rest and "The root token is revoked." in rest

        secrets = {entry["key"]: entry["value"] for entry in map(json.loads, stored.read_text().splitlines())}
        assert sorted(secrets) == [bootstrap.ROLE_ID_CONFIG_KEY, bootstrap.SECRET_ID_CONFIG_KEY]
        assert all(value not in rest + problems for value in secrets.values())
        login = hvac.Client(url=server.addr).auth.approle.login(
            secrets[bootstrap.ROLE_ID_CONFIG_KEY], secrets[bootstrap.SECRET_ID_CONFIG_KEY], mount_point=PROVISIONER_AUTH_PATH
        )["auth"]
        assert sorted(login["policies"]) == ["default", PROVISIONER_POLICY] and login["lease_duration"] == 3600

        audit = [json.loads(line) for line in server.audit_file.read_text().splitlines()]
        revoked = [e for e in audit if e["type"] == "response" and e["request"]["path"] == "auth/token/revoke-self"]
        assert [e["auth"]["policies"] for e in revoked] == [["root"]]  # the root token revoked itself, once

        provisioner = hvac.Client(url=server.addr, token=login["client_token"])
        provisioner.sys.create_namespace("psra")  # what the plan needs works (the conformance suite applies all of it so)
        hvac.Client(url=server.addr, token=login["client_token"], namespace="psra").sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
        forbidden = [
            lambda: provisioner.sys.list_enabled_audit_devices(),
            lambda: provisioner.sys.disable_audit_device("file"),
            lambda: provisioner.sys.enable_secrets_engine("kv", path="elsewhere"),
            lambda: provisioner.sys.create_or_update_policy(PROVISIONER_POLICY, 'path "*" { capabilities = ["sudo"] }'),
            lambda: provisioner.write_data(f"auth/{PROVISIONER_AUTH_PATH}/role/{PROVISIONER_ROLE}", data={"token_policies": ["root"]}),
            lambda: provisioner.sys.disable_auth_method(PROVISIONER_AUTH_PATH),
            lambda: provisioner.sys.seal(),
            lambda: provisioner.read("sys/raw/core/keyring"),
        ]
        for attempt in forbidden:
            with pytest.raises(hvac.exceptions.Forbidden):
                attempt()
        with pytest.raises(hvac.exceptions.InvalidRequest, match="child policies must be subset of parent"):
            provisioner.auth.token.create(policies=["root"])
