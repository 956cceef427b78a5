"""`cli.py bootstrap openbao|unseal|provisioner`.

First deploy: `up` (servers and realm); `bootstrap openbao` (init, unseal, the provisioner
AppRole whose login goes into the stack's config as secrets, root token revoked); `up` again
(OpenBao's content). With PGP-encrypted shares, `bootstrap openbao` waits while the custodians
run `bootstrap unseal --gpg`. After every OpenBao restart: `bootstrap unseal`. To rotate the
provisioner's secret id, or to let it manage a namespace or mount added to the spec:
`bootstrap provisioner` with a root token made by `bao operator generate-root`.
"""

from __future__ import annotations

import base64
import getpass
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import yaml

from infra.cli.output import Stack, console, errors
from infra.spec.load import load_stack, stack_file
from infra.spec.problems import SpecError
from infra.spec.security_settings import (
    CONFIG_NAMESPACE,
    OPENBAO_ADDRESS_KEY,
    default_endpoints,
)

if TYPE_CHECKING:
    from infra.ops.deploy import Target
    from infra.spec.models import OpenBaoSpec


Address = Annotated[str | None, typer.Option("--addr", help="OpenBao API address (default: security:openbaoAddress, else its container address)")]


def openbao_address(stack: str, given: str | None) -> str:
    """--addr, else the stack's `security:openbaoAddress`, else OpenBao's fixed container address."""
    spec = load_stack(stack)  # a missing or invalid stack file is a SpecError, reported as such
    if given:
        return given
    document = yaml.safe_load(stack_file(stack).read_text()) or {}
    configured = (document.get("config") or {}).get(f"{CONFIG_NAMESPACE}:{OPENBAO_ADDRESS_KEY}")
    return configured or default_endpoints(spec).openbao_address


def _fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]{message}[/red]", highlight=False, markup=True)
    return typer.Exit(code)


def gpg_decrypt(ciphertext_b64: str) -> str:
    """A share from `bootstrap openbao --pgp-keys`, decrypted with the custodian's gpg key."""
    result = subprocess.run(  # noqa: S603 - fixed argv; plaintext stays in memory
        ["gpg", "--quiet", "--decrypt"], input=base64.b64decode(ciphertext_b64), capture_output=True, check=False
    )
    if result.returncode != 0:
        from infra.ops.bootstrap import BootstrapError

        raise BootstrapError("gpg could not decrypt a share (is the custodian's private key available?)")
    return result.stdout.decode().strip()


@contextmanager
def _reported(stack: str) -> Iterator[None]:
    """Configuration, bootstrap and deploy errors as one clear line and the CLI's exit codes."""
    from infra.ops.bootstrap import BootstrapError
    from infra.ops.deploy import DeployError

    try:
        yield
    except SpecError as error:
        raise _fail(f"invalid configuration: {len(error.problems)} problem(s); run `cli.py validate --stack {stack}`", 1) from error
    except BootstrapError as error:
        raise _fail(str(error), 1) from error
    except DeployError as error:
        raise _fail(str(error), error.exit_code) from error


def _provision(target: Target, address: str, root_token: str, openbao: OpenBaoSpec) -> None:
    """Provisioner set up, its login stored, the root token revoked; says what happened."""
    from infra.ops import bootstrap

    try:
        bootstrap.store_login(target, bootstrap.create_provisioner(address, root_token, openbao))
    finally:
        bootstrap.revoke_token(address, root_token)  # whatever happened, the root token does not outlive the command
    console.print(
        f"Provisioner AppRole ready; its login is stored as the secrets {bootstrap.ROLE_ID_CONFIG_KEY} and "
        f"{bootstrap.SECRET_ID_CONFIG_KEY} of stack {target.stack} (not shown). The root token is revoked."
    )


def _wait_until_unsealed(address: str, seconds: float) -> None:
    from infra.ops import bootstrap

    deadline = time.monotonic() + seconds
    while bootstrap.seal_state(address).sealed:
        if time.monotonic() > deadline:
            raise bootstrap.BootstrapError(
                "OpenBao is still sealed; the root token is not kept. When it is unsealed, make one with "
                "`bao operator generate-root` and run `python cli.py bootstrap provisioner`"
            )
        time.sleep(1)


def _print_shares(shares: tuple[str, ...], pgp_keys: list[Path], encrypted: bool) -> None:
    label = "PGP-encrypted share" if encrypted else "unseal share (hand to its custodian, then clear the screen)"
    for index, share in enumerate(shares, start=1):
        owner = f" for {pgp_keys[index - 1].name}" if encrypted and pgp_keys else ""
        console.print(f"{label} {index}{owner}: {share}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="OpenBao one-time initialisation and unseal.", no_args_is_help=True)
    app.add_typer(group, name="bootstrap")

    @group.command("openbao")
    def openbao(
        stack: Stack = "dev",
        addr: Address = None,
        pgp_keys: Annotated[list[Path] | None, typer.Option("--pgp-keys", help="one public key file per share (binary or ASCII-armored)", exists=True, dir_okay=False)] = None,
        wait_minutes: Annotated[float, typer.Option("--wait-minutes", min=0.1, help="with --pgp-keys: how long to wait for the custodians to unseal")] = 30.0,
    ) -> None:
        """Initialise OpenBao, unseal it, set up Pulumi's provisioner AppRole (login stored as stack secrets) and revoke the root token."""
        # heavy (hvac, Automation API): only when the command runs
        from infra.ops import bootstrap
        from infra.ops.deploy import Target
        with _reported(stack):
            spec = load_stack(stack)
            address = openbao_address(stack, addr)
            keys = bootstrap.read_pgp_keys(pgp_keys or [])
            if not keys and not sys.stdout.isatty():
                raise _fail("without --pgp-keys the unseal shares are shown once on a terminal; stdout is not one (they would land in a log)", 2)
            target = Target.from_environment(stack)
            bootstrap.check_can_store(target, os.environ)
            result = bootstrap.initialize(address, spec.openbao.key_shares, spec.openbao.key_threshold, keys)
            console.print(f"OpenBao at {address} initialized: {spec.openbao.key_shares} shares, threshold {spec.openbao.key_threshold}.")
            if result.encrypted:
                _print_shares(result.shares, pgp_keys or [], encrypted=True)
                console.print(f"Waiting up to {wait_minutes:g} min for the custodians: `python cli.py bootstrap unseal --stack {stack} --gpg --share-file …`.")
                _wait_until_unsealed(address, wait_minutes * 60)
            else:
                bootstrap.unseal(address, result.shares[: spec.openbao.key_threshold])
            _provision(target, address, result.root_token, spec.openbao)
            if not result.encrypted:
                _print_shares(result.shares, [], encrypted=False)

    @group.command("provisioner")
    def provisioner(
        stack: Stack = "dev",
        addr: Address = None,
        root_token_file: Annotated[Path | None, typer.Option("--root-token-file", help="a file holding a root token (else typed in without echo)", exists=True, dir_okay=False)] = None,
        gpg: Annotated[bool, typer.Option("--gpg", help="the file holds the root token PGP-encrypted (bao operator generate-root -pgp-key): decrypt with gpg")] = False,
    ) -> None:
        """Set up or refresh the provisioner (policy from the spec, new secret id) with a root token from `bao operator generate-root`, then revoke that token."""
        # heavy (hvac, Automation API): only when the command runs
        from infra.ops import bootstrap
        from infra.ops.deploy import Target

        with _reported(stack):
            spec = load_stack(stack)
            address = openbao_address(stack, addr)
            target = Target.from_environment(stack)
            bootstrap.check_can_store(target, os.environ)
            if root_token_file is not None:
                text = root_token_file.read_text().strip()
                root_token = gpg_decrypt(text) if gpg else text
            elif sys.stdin.isatty():
                root_token = getpass.getpass("Root token (not echoed): ").strip()
            else:
                raise _fail("no --root-token-file given and stdin is not a terminal to type the root token into", 2)
            _provision(target, address, root_token, spec.openbao)

    @group.command("unseal")
    def unseal(
        stack: Stack = "dev",
        addr: Address = None,
        share_files: Annotated[list[Path] | None, typer.Option("--share-file", help="a file holding one share", exists=True, dir_okay=False)] = None,
        gpg: Annotated[bool, typer.Option("--gpg", help="share files hold PGP-encrypted shares: decrypt with gpg")] = False,
    ) -> None:
        """Unseal OpenBao after a restart: shares from files, or typed in without echo."""
        from infra.ops import bootstrap  # heavy (hvac): only when the command runs
        with _reported(stack):
            address = openbao_address(stack, addr)
            state = bootstrap.seal_state(address)
            if not state.sealed:
                console.print(f"OpenBao at {address} is already unsealed.")
                return
            if share_files:
                shares = [path.read_text().strip() for path in share_files]
                shares = [gpg_decrypt(share) for share in shares] if gpg else shares
            else:
                if not sys.stdin.isatty():
                    raise _fail("no --share-file given and stdin is not a terminal to type shares into", 2)
                needed = state.threshold - state.progress
                shares = (getpass.getpass(f"Unseal share ({index + 1} of {needed}, not echoed): ") for index in range(needed))
            state = bootstrap.unseal(address, shares)
        if state.sealed:
            raise _fail(f"still sealed: {state.progress} of {state.threshold} shares accepted; run again with the remaining shares")
        console.print(f"OpenBao at {address} is unsealed.")
