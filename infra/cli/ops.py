"""The operational commands of `cli.py`: preview, up, destroy, refresh, export, audit,
diagram, drift and verify. `register(app)` adds them to the Typer app.

Heavy modules (the planner, hvac, python-keycloak, testinfra) are imported inside the
command that needs them, so `cli.py --help` and `validate` stay fast.

Exit codes as everywhere in the CLI: 0 ok, 1 findings / drift / failed operation,
2 usage or environment (no `pulumi`, no passphrase, unknown stack, unreadable file …).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from infra.cli.output import Stack, console, errors, report_problems
from infra.ops.deploy import (
    PASSPHRASE,
    PASSPHRASE_FILE,
    Deployer,
    DeployError,
    ExitCode,
    Operation,
    Target,
    open_stack,
    passphrase_env,
    require_cli,
    terminal_prompt,
)
from infra.plan.document import ExportedResource, ExportError, parse_export, read_export
from infra.spec.problems import SpecError

Yes = Annotated[bool, typer.Option("--yes", "-y", help="skip the preview-and-confirm step")]
Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="also stream the engine's raw output")]
PolicyPackFlag = Annotated[bool, typer.Option("--policy-pack/--no-policy-pack", help="enforce policy/ (CrossGuard) during preview and up")]


def fail(error: DeployError) -> typer.Exit:
    errors.print(f"[red]{error.message}[/red]", highlight=False, soft_wrap=True)
    if error.detail:
        errors.print(error.detail, style="dim", markup=False, highlight=False)
    return typer.Exit(error.exit_code)


def invalid_config(error: SpecError) -> typer.Exit:
    report_problems(error)
    return typer.Exit(ExitCode.ENVIRONMENT)


def planned(stack: str) -> list[ExportedResource]:
    """The declared resources of a stack, from the offline plan."""
    from infra.plan.offline import plan_stack

    return parse_export(plan_stack(stack).document, f"plan of stack {stack}")


def declared(file: Path | None, stack: str | None) -> tuple[list[ExportedResource], str]:
    """Resources from an export/plan file, or from planning `stack` offline."""
    if file is not None:
        return read_export(file), str(file)
    if stack is None:
        raise DeployError("Give an export or plan FILE, or --stack NAME to plan one.")
    return planned(stack), f"plan of stack {stack}"


def refuse_on_findings(stack: str, allow_findings: bool) -> None:
    """`up` audits the declared stack first and refuses on high-severity findings."""
    from infra.audit import audit
    from infra.audit.model import Severity
    from infra.cli.views import findings_table

    result = audit(planned(stack), f"plan of stack {stack}")
    high = result.at_least(Severity.HIGH)
    if not high:
        console.print(f"[green]audit[/green]: no high-severity findings in the plan of {stack}")
        return
    console.print(findings_table(high, f"High-severity findings in the plan of {stack}"))
    if allow_findings:
        console.print(f"[yellow]{len(high)} high-severity finding(s); continuing because of --allow-findings[/yellow]")
        return
    raise DeployError(
        f"Refusing to deploy stack {stack}: the audit has {len(high)} high-severity finding(s) (listed above); "
        "fix them, or pass --allow-findings to deploy anyway.",
        ExitCode.FAILED,
    )


def deploy(
    operation: Operation, stack: str, *, yes: bool, allow_findings: bool = False, policy_pack: bool = True, verbose: bool = False
) -> None:
    target = Target.from_environment(stack)
    try:
        require_cli()
        env = passphrase_env(target, prompt=terminal_prompt())
        if operation is Operation.UP:
            refuse_on_findings(stack, allow_findings)
        ask = typer.confirm if sys.stdin.isatty() else None
        from infra.cli.views import DeployProgress

        view = DeployProgress(console, verbose=verbose)
        code = Deployer(target, view, env, policy_pack=policy_pack).run(operation, yes=yes, ask=ask)
    except DeployError as error:
        raise fail(error) from error
    except SpecError as error:
        raise invalid_config(error) from error
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    @app.command()
    def preview(stack: Stack = "dev", policy_pack: PolicyPackFlag = True, verbose: Verbose = False) -> None:
        """Preview an update with the real engine (Automation API, local file backend)."""
        deploy(Operation.PREVIEW, stack, yes=True, policy_pack=policy_pack, verbose=verbose)

    @app.command()
    def up(
        stack: Stack = "dev",
        yes: Yes = False,
        allow_findings: Annotated[bool, typer.Option("--allow-findings", help="deploy despite high-severity audit findings")] = False,
        policy_pack: PolicyPackFlag = True,
        verbose: Verbose = False,
    ) -> None:
        """Audit the plan, then create or update the stack's resources."""
        deploy(Operation.UP, stack, yes=yes, allow_findings=allow_findings, policy_pack=policy_pack, verbose=verbose)

    @app.command()
    def destroy(stack: Stack = "dev", yes: Yes = False, verbose: Verbose = False) -> None:
        """Delete every resource of the stack."""
        deploy(Operation.DESTROY, stack, yes=yes, verbose=verbose)

    @app.command()
    def refresh(stack: Stack = "dev", yes: Yes = False, verbose: Verbose = False) -> None:
        """Read the live state of every resource into the stack's state."""
        deploy(Operation.REFRESH, stack, yes=yes, verbose=verbose)

    @app.command()
    def export(
        stack: Stack = "dev",
        output: Annotated[Path, typer.Option("--output", "-o", help="file to write the export to")] = Path("stack-export.json"),
    ) -> None:
        """Write the stack's state for auditors, every secret still encrypted (never --show-secrets)."""
        from infra.ops.export import export_sealed

        target = Target.from_environment(stack)
        try:
            require_cli()
            env = passphrase_env(target, prompt=terminal_prompt()) if _has_passphrase() else {}
            document = export_sealed(open_stack(target, env, create=False), target)
        except DeployError as error:
            raise fail(error) from error
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(json.dumps(document, indent=4) + "\n")
        console.print(f"wrote {output}: {len(document['deployment'].get('resources') or [])} resources, secrets encrypted")

    @app.command("audit")
    def audit_command(
        file: Annotated[Path | None, typer.Argument(help="a plan (cli.py plan --json) or a `pulumi stack export` document")] = None,
        stack: Annotated[str | None, typer.Option("--stack", "-s", help="audit the offline plan of this stack instead of a file")] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="table | json | md | html")] = "table",
        fail_on: Annotated[
            str, typer.Option("--fail-on", help="exit 1 on findings of at least this severity: high | medium | low")
        ] = "high",
        output: Annotated[Path | None, typer.Option("--output", "-o", help="write the report to a file")] = None,
    ) -> None:
        """Check the declared platform against the security invariants; print the auditor reports."""
        from infra.audit import audit
        from infra.audit.model import Severity
        from infra.audit.render import TEXT_RENDERERS, Format
        from infra.cli.views import as_table

        try:
            chosen, threshold = Format(fmt), Severity.parse(fail_on)
        except ValueError as error:
            errors.print(f"[red]{error}; --format is one of {', '.join(f.value for f in Format)}[/red]")
            raise typer.Exit(ExitCode.ENVIRONMENT) from error
        try:
            resources, source = declared(file, stack)
        except (ExportError, DeployError) as error:
            errors.print(f"[red]{error}[/red]", highlight=False)
            raise typer.Exit(ExitCode.ENVIRONMENT) from error
        except SpecError as error:
            raise invalid_config(error) from error
        result = audit(resources, source)
        if chosen is Format.TABLE:
            target = Console(file=output.open("w"), width=200) if output else console
            target.print(as_table(result))
        else:
            text = TEXT_RENDERERS[chosen](result)
            if output:
                output.write_text(text)
            else:
                sys.stdout.write(text)
        failing = result.at_least(threshold)
        if failing:
            errors.print(f"{len(failing)} finding(s) at or above {threshold.label}")
            raise typer.Exit(ExitCode.FAILED)

    @app.command()
    def diagram(
        file: Annotated[Path | None, typer.Argument(help="a plan or `pulumi stack export` document")] = None,
        stack: Annotated[str | None, typer.Option("--stack", "-s", help="diagram the offline plan of this stack")] = None,
        output: Annotated[
            Path | None, typer.Option("--output", "-o", help="out.md (Mermaid), out.mmd, out.dot or out.svg (Graphviz)")
        ] = None,
    ) -> None:
        """Draw networks, containers and routes as declared (Mermaid; SVG through Graphviz)."""
        from infra.audit.diagram import DiagramError, write_diagram

        try:
            resources, source = declared(file, stack)
            text = write_diagram(resources, source, output)
        except (ExportError, DeployError, DiagramError) as error:
            errors.print(f"[red]{error}[/red]", highlight=False)
            raise typer.Exit(ExitCode.ENVIRONMENT) from error
        except SpecError as error:
            raise invalid_config(error) from error
        if output is None:
            sys.stdout.write(text)
        else:
            console.print(f"wrote {output}")

    @app.command()
    def drift(
        stack: Stack = "dev",
        from_file: Annotated[
            Path | None, typer.Option("--from", help="declared state from this export/plan instead of planning the stack")
        ] = None,
        keycloak_url: Annotated[str | None, typer.Option(help="Keycloak base URL (default https://auth.<domain>)")] = None,
        openbao_url: Annotated[str | None, typer.Option(help="OpenBao address (default https://vault.<domain>)")] = None,
        fmt: Annotated[str, typer.Option("--format", "-f", help="table | json")] = "table",
    ) -> None:
        """Compare the live Keycloak realm and OpenBao namespaces with what is declared."""
        from infra.cli.views import print_drift
        from infra.ops.drift import DriftError, LiveEndpoints, detect_drift

        try:
            resources, _ = declared(from_file, None if from_file else stack)
            endpoints = LiveEndpoints.from_environment(resources, keycloak_url=keycloak_url, openbao_url=openbao_url)
            report = detect_drift(resources, endpoints)
        except (ExportError, DeployError, DriftError) as error:
            errors.print(f"[red]{error}[/red]", highlight=False)
            raise typer.Exit(ExitCode.ENVIRONMENT) from error
        except SpecError as error:
            raise invalid_config(error) from error
        print_drift(report, console, fmt)
        if not report.clean:
            raise typer.Exit(ExitCode.FAILED)

    @app.command()
    def verify(
        host: Annotated[str, typer.Option("--host", help="ssh://user@host[:port] of the VPS")],
        domain: Annotated[str | None, typer.Option("--domain", help="platform domain (default: the stack's)")] = None,
        stack: Annotated[str, typer.Option("--stack", "-s", help="stack whose domain and backup path to use")] = "prod",
        ssh_key: Annotated[Path | None, typer.Option("--ssh-key", help="private key for the SSH login")] = None,
        address: Annotated[str | None, typer.Option("--address", help="address to reach 80/443 on (default: the SSH host)")] = None,
        ca_file: Annotated[Path | None, typer.Option("--ca-file", help="trust this CA for the TLS checks (default: system)")] = None,
        openbao_url: Annotated[
            str | None, typer.Option("--openbao-url", help="OpenBao address as seen from the host (default: the openbao container's)")
        ] = None,
        backup_dir: Annotated[str | None, typer.Option("--backup-dir", help="backup directory on the host (default: the stack's)")] = None,
        junit: Annotated[Path | None, typer.Option("--junit", help="write JUnit XML here")] = None,
        docker_label: Annotated[
            str | None, typer.Option("--docker-label", help="the Docker checks look at containers with this label (default: the platform's)")
        ] = None,
    ) -> None:
        """Run the post-deploy checks on the host over SSH (testinfra, paramiko) and from outside."""
        from infra.cli.views import print_verify
        from infra.ops.verify.runner import VerifyError, VerifyOptions, run_verify

        try:
            options = VerifyOptions.build(
                host=host,
                domain=domain,
                stack=stack,
                ssh_key=ssh_key,
                address=address,
                ca_file=ca_file,
                openbao_url=openbao_url,
                junit=junit,
                backup_dir=backup_dir,
                docker_label=docker_label,
            )
            results = run_verify(options)
            print_verify(results, options, console)
        except VerifyError as error:
            errors.print(f"[red]{error}[/red]", highlight=False)
            raise typer.Exit(ExitCode.ENVIRONMENT) from error
        except SpecError as error:
            raise invalid_config(error) from error
        if not results.passed:
            raise typer.Exit(ExitCode.FAILED)


def _has_passphrase() -> bool:
    """Export never needs to decrypt; the passphrase is passed only when one is at hand."""
    return PASSPHRASE in os.environ or bool(os.environ.get(PASSPHRASE_FILE)) or sys.stdin.isatty()
