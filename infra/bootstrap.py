"""OpenBao's one-time initialisation and the unseal after each restart.

`initialize` asks OpenBao for the seed's Shamir split (5 shares, threshold 3), optionally
PGP-encrypting each share for its custodian; `store_root_token` puts the root token into the
stack's config as a Pulumi secret (`security:openbaoToken`), the only place it is kept. The
token never reaches stdout, a log or a file; `pulumi config set --secret` gets it on stdin
(the Automation API's `set_config` would pass it on the command line, readable in the
process list while the command runs).

Order matters: everything that can fail before OpenBao is initialised (no Pulumi CLI, no
passphrase, OpenBao already initialised) is checked first, because a root token that cannot
be stored is lost.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import hvac
import hvac.exceptions
import requests

from infra.deploy import Target, require_cli
from infra.security_settings import CONFIG_NAMESPACE, OPENBAO_TOKEN_KEY

TOKEN_CONFIG_KEY = f"{CONFIG_NAMESPACE}:{OPENBAO_TOKEN_KEY}"


class BootstrapError(RuntimeError):
    """A bootstrap step failed; the message says what to do and never contains key material."""


@dataclass(frozen=True)
class InitResult:
    """The outcome of `sys/init`. `shares` are PGP-encrypted (base64) when PGP keys were given."""

    root_token: str = field(repr=False)
    shares: tuple[str, ...] = field(repr=False)
    encrypted: bool


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
    """Fail before initialisation if the token could not be stored afterwards."""
    require_cli()
    if not (environ.get("PULUMI_CONFIG_PASSPHRASE") or environ.get("PULUMI_CONFIG_PASSPHRASE_FILE")):
        raise BootstrapError(
            "set PULUMI_CONFIG_PASSPHRASE or PULUMI_CONFIG_PASSPHRASE_FILE first: the root token is stored encrypted with the stack's passphrase"
        )


def store_root_token(target: Target, token: str, environ: Mapping[str, str] = os.environ) -> None:
    """`pulumi config set --secret security:openbaoToken` for the stack, value on stdin."""
    env = {**environ, "PULUMI_BACKEND_URL": target.backend_url, "PULUMI_SKIP_UPDATE_CHECK": "true"}
    result = subprocess.run(  # noqa: S603 - fixed argv, the secret goes through stdin
        ["pulumi", "config", "set", "--secret", "--stack", target.stack, "--cwd", str(target.project_dir), TOKEN_CONFIG_KEY],
        input=token,
        text=True,
        capture_output=True,
        env=env,
        check=False,
    )
    if result.returncode != 0:
        detail = result.stderr.replace(token, "<redacted>").strip()
        raise BootstrapError(f"`pulumi config set --secret {TOKEN_CONFIG_KEY}` failed: {detail}")
