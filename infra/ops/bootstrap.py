"""OpenBao's one-time initialisation, Pulumi's provisioner login, and the unseal after each restart.

`initialize` asks OpenBao for the seed's Shamir split (5 shares, threshold 3), optionally
PGP-encrypting each share for its custodian. With the root token, held in memory only,
`create_provisioner` then sets up the identity Pulumi works with: the AppRole `pulumi` on its own
auth mount `provisioner`, whose tokens (1 h) carry only the `platform-provisioner` policy
(infra.openbao_policy.provisioner_grants). `store_secret` puts its role id and secret id into the
stack's config as Pulumi secrets, and `revoke_token` revokes the root token: no root token is kept
anywhere (BAO-04). When one is needed again (break-glass, or a new namespace or mount the provisioner
may not create), the unseal-share custodians make one with `bao operator generate-root`.

Secrets never reach stdout, a log or a file; `pulumi config set --secret` gets them on stdin (the
Automation API's `set_config` would pass them on the command line, readable in the process list).
Order matters: everything that can fail before OpenBao is initialised (no Pulumi CLI, no
passphrase, no such stack, a passphrase that does not unlock it, OpenBao already initialised) is
checked first: a login that cannot be stored is lost once the root token is revoked.
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import hvac
import hvac.exceptions
import requests

from infra.ops.deploy import PASSPHRASE_REJECTED, Target, passphrase_rejected, require_cli, unknown_stack
from infra.spec.models import OpenBaoSpec
from infra.spec.openbao_policy import (
    PROVISIONER_AUTH_PATH,
    PROVISIONER_POLICY,
    PROVISIONER_ROLE,
    provisioner_policy,
)
from infra.spec.security_settings import (
    CONFIG_NAMESPACE,
    PROVISIONER_ROLE_ID_KEY,
    PROVISIONER_SECRET_ID_KEY,
)

ROLE_ID_CONFIG_KEY = f"{CONFIG_NAMESPACE}:{PROVISIONER_ROLE_ID_KEY}"
SECRET_ID_CONFIG_KEY = f"{CONFIG_NAMESPACE}:{PROVISIONER_SECRET_ID_KEY}"
PROVISIONER_TOKEN_TTL = "1h"
PROVISIONER_TOKEN_MAX_TTL = "2h"


class BootstrapError(RuntimeError):
    """A bootstrap step failed; the message says what to do and never contains key material."""


@dataclass(frozen=True)
class InitResult:
    """The outcome of `sys/init`. `shares` are PGP-encrypted (base64) when PGP keys were given."""

    root_token: str = field(repr=False)
    shares: tuple[str, ...] = field(repr=False)
    encrypted: bool


@dataclass(frozen=True)
class ProvisionerLogin:
    """The AppRole credentials Pulumi's OpenBao providers log in with."""

    role_id: str = field(repr=False)
    secret_id: str = field(repr=False)


@dataclass(frozen=True)
class SealState:
    initialized: bool
    sealed: bool
    progress: int
    threshold: int


def client(addr: str) -> hvac.Client:
    return hvac.Client(url=addr, timeout=30)


def seal_state(addr: str) -> SealState:
    try:
        status = client(addr).sys.read_seal_status()
    except (requests.RequestException, hvac.exceptions.VaultError) as error:
        raise BootstrapError(f"OpenBao at {addr} does not answer ({type(error).__name__}); is the address right and the tunnel open?") from error
    return SealState(
        initialized=bool(status["initialized"]), sealed=bool(status["sealed"]), progress=int(status["progress"]), threshold=int(status["t"])
    )


def read_pgp_keys(paths: Iterable[Path]) -> list[str]:
    """Public keys for `sys/init`: base64 of the binary key; ASCII-armored files are accepted too."""
    keys: list[str] = []
    for path in paths:
        data = Path(path).read_bytes()
        if data.lstrip().startswith(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"):
            lines = data.decode().strip().splitlines()
            body = [line for line in lines[1:-1] if line and ":" not in line and not line.startswith("=")]
            keys.append("".join(body))
        else:
            keys.append(base64.b64encode(data).decode())
    return keys


def initialize(addr: str, shares: int, threshold: int, pgp_keys: list[str] | None = None) -> InitResult:
    if pgp_keys and len(pgp_keys) != shares:
        raise BootstrapError(f"{len(pgp_keys)} PGP keys given for {shares} shares; give one key per share (custodian)")
    state = seal_state(addr)
    if state.initialized:
        raise BootstrapError(f"OpenBao at {addr} is already initialized; use `bootstrap unseal` after a restart")
    try:
        response = client(addr).sys.initialize(secret_shares=shares, secret_threshold=threshold, pgp_keys=pgp_keys or None)
    except hvac.exceptions.VaultError as error:
        raise BootstrapError(f"OpenBao refused to initialize: {error.errors or type(error).__name__}") from error
    return InitResult(root_token=response["root_token"], shares=tuple(response["keys_base64"]), encrypted=bool(pgp_keys))


def create_provisioner(addr: str, root_token: str, openbao: OpenBaoSpec) -> ProvisionerLogin:
    """Mount `provisioner` (AppRole), write `platform-provisioner`, (re)write the role `pulumi`, and issue
    a new secret id, destroying any earlier ones. Run again (with a fresh root token) to update the policy
    or rotate the secret id."""
    bao = hvac.Client(url=addr, token=root_token, timeout=30)
    try:
        if f"{PROVISIONER_AUTH_PATH}/" not in bao.sys.list_auth_methods()["data"]:
            bao.sys.enable_auth_method("approle", path=PROVISIONER_AUTH_PATH, description="Pulumi (platform-provisioner policy)")
        bao.sys.create_or_update_policy(PROVISIONER_POLICY, provisioner_policy(openbao))
        role = f"auth/{PROVISIONER_AUTH_PATH}/role/{PROVISIONER_ROLE}"
        bao.write_data(
            role,
            data={
                "token_policies": [PROVISIONER_POLICY],
                "token_ttl": PROVISIONER_TOKEN_TTL,
                "token_max_ttl": PROVISIONER_TOKEN_MAX_TTL,
                "token_no_default_policy": False,
                "secret_id_ttl": 0,  # rotated by running the bootstrap step again; every use is audited
            },
        )
        role_id = bao.read(f"{role}/role-id")["data"]["role_id"]
        issued = bao.write_data(f"{role}/secret-id", data={})["data"]
        earlier = (bao.list(f"{role}/secret-id") or {}).get("data", {}).get("keys", [])
        for accessor in earlier:
            if accessor != issued["secret_id_accessor"]:
                bao.write_data(f"{role}/secret-id-accessor/destroy", data={"secret_id_accessor": accessor})
        secret_id = issued["secret_id"]
    except (requests.RequestException, hvac.exceptions.VaultError) as error:
        raise BootstrapError(f"OpenBao refused to set up the provisioner: {type(error).__name__}") from error
    return ProvisionerLogin(role_id=role_id, secret_id=secret_id)


def provisioner_token(addr: str, login: ProvisionerLogin) -> str:
    """A token of the provisioner, logged in as Pulumi's vault provider does (for replaying a plan)."""
    try:
        response = hvac.Client(url=addr, timeout=30).auth.approle.login(login.role_id, login.secret_id, mount_point=PROVISIONER_AUTH_PATH)
    except (requests.RequestException, hvac.exceptions.VaultError) as error:
        raise BootstrapError(f"the provisioner could not log in: {type(error).__name__}") from error
    return str(response["auth"]["client_token"])


def revoke_token(addr: str, token: str, attempts: int = 3, pause_seconds: float = 1.0) -> None:
    """Revoke `token` and make sure it is gone. A server error may come after the token was already
    revoked, or be passing (the conformance suite once got a 500 on a loaded machine): the token's own
    lookup then says which, and a token still alive is revoked again, up to `attempts` times."""
    client = hvac.Client(url=addr, token=token, timeout=30)
    error: Exception | None = None
    for attempt in range(attempts):
        try:
            client.auth.token.revoke_self()
            return
        except (requests.RequestException, hvac.exceptions.VaultError) as failed:
            error = failed
        if not token_alive(client):
            return
        if attempt + 1 < attempts:
            time.sleep(pause_seconds)
    raise BootstrapError(f"revoking the root token failed ({type(error).__name__}); revoke it with `bao token revoke -self`") from error


def token_alive(client: hvac.Client) -> bool:
    """False once the server refuses the token (403); True while it answers, or cannot tell."""
    try:
        client.auth.token.lookup_self()
    except hvac.exceptions.Forbidden:
        return False
    except (requests.RequestException, hvac.exceptions.VaultError):
        return True
    return True


def unseal(addr: str, shares: Iterable[str]) -> SealState:
    """Submit shares until OpenBao is unsealed (or the shares run out)."""
    state = seal_state(addr)
    if not state.initialized:
        raise BootstrapError(f"OpenBao at {addr} is not initialized; run `bootstrap openbao` first")
    for share in shares:
        if not state.sealed:
            break
        try:
            client(addr).sys.submit_unseal_key(key=share.strip())
        except hvac.exceptions.VaultError as error:
            raise BootstrapError("OpenBao rejected an unseal share (wrong or mistyped share?)") from error
        state = seal_state(addr)
    return state


def check_can_store(target: Target, environ: Mapping[str, str]) -> None:
    """Fail before initialisation if the provisioner's login could not be stored afterwards: no CLI, no
    passphrase, no such stack, or a passphrase that does not unlock it. The last two are asked of the CLI
    itself, by storing a probe secret in a throwaway copy of the stack's config file (the real one is untouched)."""
    require_cli()
    if not (environ.get("PULUMI_CONFIG_PASSPHRASE") or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")):
        raise BootstrapError(
            "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE first: "
            "the provisioner's login is stored encrypted with the stack's passphrase"
        )
    config_file = target.project_dir / f"Pulumi.{target.stack}.yaml"
    with tempfile.TemporaryDirectory(prefix="bootstrap-probe-") as scratch:
        probe_file = Path(scratch) / config_file.name
        if config_file.is_file():
            shutil.copyfile(config_file, probe_file)
        result = _config_set_secret(target, f"{CONFIG_NAMESPACE}:passphraseProbe", "probe", environ, probe_file)
    if result.returncode == 0:
        return
    if f"no stack named '{target.stack}' found" in result.stderr:
        raise unknown_stack(target)
    if PASSPHRASE_REJECTED.search(result.stderr):
        raise passphrase_rejected(target)
    raise BootstrapError(f"`pulumi config set --secret` cannot store secrets in stack {target.stack}: {result.stderr.strip()}")


def store_login(target: Target, login: ProvisionerLogin, environ: Mapping[str, str] = os.environ) -> None:
    """Both credentials as secrets of the stack's config."""
    store_secret(target, ROLE_ID_CONFIG_KEY, login.role_id, environ)
    store_secret(target, SECRET_ID_CONFIG_KEY, login.secret_id, environ)


def store_secret(target: Target, key: str, value: str, environ: Mapping[str, str] = os.environ) -> None:
    """`pulumi config set --secret KEY` for the stack, value on stdin."""
    result = _config_set_secret(target, key, value, environ)
    if result.returncode != 0:
        detail = result.stderr.replace(value, "<redacted>").strip()
        raise BootstrapError(f"`pulumi config set --secret {key}` failed: {detail}")


def _config_set_secret(
    target: Target, key: str, value: str, environ: Mapping[str, str], config_file: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**environ, "PULUMI_BACKEND_URL": target.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    where = ["--config-file", str(config_file)] if config_file else []
    return subprocess.run(  # noqa: S603 - fixed argv, the secret goes through stdin
        ["pulumi", "config", "set", "--secret", "--stack", target.stack, "--cwd", str(target.project_dir), *where, key],
        input=value,
        text=True,
        capture_output=True,
        env=env,
        check=False,
    )
