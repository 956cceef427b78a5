"""`cli.py bootstrap openbao` and `cli.py bootstrap unseal`.

First deploy: `up` (servers and realm), `bootstrap openbao` (init; root token into the
stack's config as a secret), `bootstrap unseal` (threshold shares), `up` again (OpenBao's
content). After every OpenBao restart: `bootstrap unseal`.
"""

from __future__ import annotations

import base64
import getpass
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from infra.cli_output import Stack, console, errors
from infra.config import load_stack, stack_file
from infra.problems import SpecError
from infra.security_settings import CONFIG_NAMESPACE, OPENBAO_ADDRESS_KEY, default_endpoints


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
        from infra.bootstrap import BootstrapError

        raise BootstrapError("gpg could not decrypt a share (is the custodian's private key available?)")
    return result.stdout.decode().strip()


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="OpenBao one-time initialisation and unseal.", no_args_is_help=True)
    app.add_typer(group, name="bootstrap")

    @group.command("openbao")
    def openbao(
        stack: Stack = "dev",
        addr: Address = None,
        pgp_keys: Annotated[list[Path] | None, typer.Option("--pgp-keys", help="one public key file per share (binary or ASCII-armored)", exists=True, dir_okay=False)] = None,
    ) -> None:
        """Initialise OpenBao (Shamir shares per the spec) and store the root token as a stack secret."""
        from infra import bootstrap  # heavy (hvac, Automation API): only when the command runs
        from infra.deploy import DeployError, Target
        try:
            spec = load_stack(stack)
            address = openbao_address(stack, addr)
            keys = bootstrap.read_pgp_keys(pgp_keys or [])
            if not keys and not sys.stdout.isatty():
                raise _fail("without --pgp-keys the unseal shares are shown once on a terminal; stdout is not one (they would land in a log)", 2)
            target = Target.from_environment(stack)
            bootstrap.check_can_store(target, os.environ)
            result = bootstrap.initialize(address, spec.openbao.key_shares, spec.openbao.key_threshold, keys)
            try:
                bootstrap.store_root_token(target, result.root_token)
            except bootstrap.BootstrapError as error:
                raise bootstrap.BootstrapError(
                    f"{error}. OpenBao is initialized; a new root token can be made with `bao operator generate-root` and the unseal shares"
                ) from error
        except SpecError as error:
            raise _fail(f"invalid configuration: {len(error.problems)} problem(s); run `cli.py validate --stack {stack}`", 1) from error
        except (bootstrap.BootstrapError, DeployError) as error:
            raise _fail(str(error), 1 if isinstance(error, bootstrap.BootstrapError) else error.exit_code) from error
        console.print(f"OpenBao at {address} initialized: {spec.openbao.key_shares} shares, threshold {spec.openbao.key_threshold}.")
        console.print(f"Root token stored as the secret {bootstrap.TOKEN_CONFIG_KEY} of stack {stack} (not shown).")
        label = "PGP-encrypted share" if result.encrypted else "unseal share (hand to its custodian, then clear the screen)"
        for index, share in enumerate(result.shares, start=1):
            owner = f" for {pgp_keys[index - 1].name}" if result.encrypted and pgp_keys else ""
            console.print(f"{label} {index}{owner}: {share}", highlight=False, markup=False, soft_wrap=True)
        console.print(f"Next: `python cli.py bootstrap unseal --stack {stack}` with {spec.openbao.key_threshold} shares.")

    @group.command("unseal")
    def unseal(
        stack: Stack = "dev",
        addr: Address = None,
        share_files: Annotated[list[Path] | None, typer.Option("--share-file", help="a file holding one share", exists=True, dir_okay=False)] = None,
        gpg: Annotated[bool, typer.Option("--gpg", help="share files hold PGP-encrypted shares: decrypt with gpg")] = False,
    ) -> None:
        """Unseal OpenBao after a restart: shares from files, or typed in without echo."""
        from infra import bootstrap  # heavy (hvac): only when the command runs
        try:
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
        except SpecError as error:
            raise _fail(f"invalid configuration: {len(error.problems)} problem(s); run `cli.py validate --stack {stack}`", 1) from error
        except bootstrap.BootstrapError as error:
            raise _fail(str(error)) from error
        if state.sealed:
            raise _fail(f"still sealed: {state.progress} of {state.threshold} shares accepted; run again with the remaining shares")
        console.print(f"OpenBao at {address} is unsealed.")
