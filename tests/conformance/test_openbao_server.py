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
import yaml

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
from tests.servers._process import LOOPBACK, ServerProcess, free_port, free_port_pair
from tests.servers.openbao import find_bao_binary
from tests.servers.pulumi_cli import PulumiProject

pytestmark = pytest.mark.servers

ROOT = Path(__file__).resolve().parents[2]
SPEC = spec_for(stack="prod")
SHARES, THRESHOLD = SPEC.openbao.key_shares, SPEC.openbao.key_threshold
PASSPHRASE = "stack passphrase (test only)"


@dataclass
class RealServer:
    addr: str
    storage: Path
    audit_file: Path
    config: str
    startup_seconds: float
    metrics_addr: str  # the metrics-only listener


@contextlib.contextmanager
def running_real_openbao(workdir: Path) -> Iterator[RealServer]:
    """A non-dev `bao server` on the rendered config, uninitialised."""
    service = next(s for s in SPEC.services if s.name == "openbao")
    moved = tuple(
        VolumeMount(volume=m.volume, container_path=str(workdir / m.volume), read_only=m.read_only) for m in service.volumes
    )
    port = free_port_pair()
    metrics_port = next(p for p in iter(free_port, None) if p not in (port, port + 1))  # not the cluster port
    config = server_config(
        service.model_copy(update={"volumes": moved}),
        f"http://{LOOPBACK}:{port}",
        f"{LOOPBACK}:{port}",
        f"http://{LOOPBACK}:{port + 1}",
        f"{LOOPBACK}:{metrics_port}",
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
            metrics_addr=f"http://{LOOPBACK}:{metrics_port}",
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


@pytest.mark.parametrize("stack_state", ["missing", "other passphrase"])
def test_bootstrap_refuses_before_init_when_the_stack_cannot_take_the_login(
    real_openbao: RealServer, gnupg_home, pulumi_project: PulumiProject, stack_state: str
) -> None:
    """The real CLI is asked first (a probe secret in a copy of the stack's config file): a login that
    could not be stored would be lost once the root token is revoked."""
    _, keys = gnupg_home
    if stack_state == "other passphrase":
        assert pulumi_project.pulumi("stack", "init", "prod", PULUMI_CONFIG_PASSPHRASE="the stack's own").returncode == 0
    config_before = pulumi_project.stack_file("prod").read_bytes()
    env = pulumi_project.env(PULUMI_CONFIG_PASSPHRASE=PASSPHRASE)
    result = cli("bootstrap", "openbao", "--stack", "prod", "--addr", real_openbao.addr, *[a for k in keys for a in ("--pgp-keys", str(k))], env=env)
    assert result.returncode == 2, result.stderr
    expected = {
        "missing": f"Stack prod does not exist in the backend {pulumi_project.backend_url}: create it with "
        "`python cli.py up --stack prod`, or point PULUMI_BACKEND_URL at the backend that holds it.",
        "other passphrase": "The passphrase does not unlock the secrets of stack prod: set PULUMI_CONFIG_PASSPHRASE "
        "(or PULUMI_CONFIG_PASSPHRASE_FILE) to the passphrase the stack was created with.",
    }[stack_state]
    assert " ".join(result.stderr.split()) == expected
    assert bootstrap.seal_state(real_openbao.addr).initialized is False  # nothing was initialised
    assert pulumi_project.stack_file("prod").read_bytes() == config_before  # the probe went to a copy


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


def test_metrics_need_no_token_on_the_metrics_listener_only(real_openbao: RealServer) -> None:
    """Prometheus holds no token (the lab's up == 1 check); the API listener, the one Traefik routes
    vault.<domain> to, keeps /v1/sys/metrics behind a token like every other path."""
    assert bootstrap.seal_state(real_openbao.addr).sealed is False  # unsealed by the init test above
    params = {"format": "prometheus"}
    scraped = httpx.get(f"{real_openbao.metrics_addr}/v1/sys/metrics", params=params, timeout=5)
    assert scraped.status_code == 200 and "# TYPE go_goroutines gauge" in scraped.text
    routed = httpx.get(f"{real_openbao.addr}/v1/sys/metrics", params=params, timeout=5)
    assert routed.status_code == 403 and "# TYPE" not in routed.text  # permission denied


def test_bootstrap_cli_unseals_provisions_and_revokes_the_root_token(tmp_path: Path, gnupg_home, pulumi_project: PulumiProject) -> None:
    """`bootstrap openbao --pgp-keys` on a fresh server: shares for the custodians, a wait while they run
    `bootstrap unseal --gpg`, then the provisioner AppRole, its login stored by the real Pulumi CLI as
    secure values of the stack's config (they open with the stack's passphrase and nothing else), and the
    root token revoked; the provisioner may run the plan but not more."""
    home, keys = gnupg_home
    assert pulumi_project.pulumi("stack", "init", "prod", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE).returncode == 0  # as `up` does first
    env = pulumi_project.env(GNUPGHOME=str(home), PULUMI_CONFIG_PASSPHRASE=PASSPHRASE, COLUMNS="4000")
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

        keys_stored = (bootstrap.ROLE_ID_CONFIG_KEY, bootstrap.SECRET_ID_CONFIG_KEY)
        config_text = pulumi_project.stack_file("prod").read_text()
        config = yaml.safe_load(config_text)["config"]
        assert all(list(config[key]) == ["secure"] and config[key]["secure"].startswith("v1:") for key in keys_stored)
        read = {key: pulumi_project.pulumi("config", "get", key, "--stack", "prod", PULUMI_CONFIG_PASSPHRASE=PASSPHRASE) for key in keys_stored}
        assert all(answer.returncode == 0 for answer in read.values()), [answer.stderr for answer in read.values()]
        secrets = {key: answer.stdout.strip() for key, answer in read.items()}
        assert all(value and value not in config_text + rest + problems for value in secrets.values())
        wrong = pulumi_project.pulumi("config", "get", keys_stored[1], "--stack", "prod", PULUMI_CONFIG_PASSPHRASE="not the passphrase")
        assert wrong.returncode != 0 and "incorrect passphrase" in wrong.stderr and secrets[keys_stored[1]] not in wrong.stdout
        none = pulumi_project.pulumi("config", "get", keys_stored[1], "--stack", "prod")
        assert none.returncode != 0 and "passphrase must be set" in none.stderr and secrets[keys_stored[1]] not in none.stdout
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
