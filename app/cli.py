"""`cli.py origin ...`: the origin engine on the command line, without server or database.

The lead's cli.py mounts `origin_app` as the `origin` sub-command. Exit codes: 0 assessed (whether or
not the product originates), 2 invalid input (unreadable file, bad JSON, a field that fails
validation such as a proof without the dates its type requires, or a request the engine cannot
assess, e.g. UNVERIFIED rules data when PSRA_ORIGIN_ALLOW_UNVERIFIED_RULES=false), with one line per
problem on stderr.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import typer
from pydantic import ValidationError


origin_app = typer.Typer(help="Preferential origin: assess a product against a rule of origin.", no_args_is_help=True)

USAGE_ERROR = 2


@origin_app.callback()
def _origin() -> None:
    """Preferential rules-of-origin assessment (EU-JP, EU-UK, CETA, EU-KR, PEM)."""


@origin_app.command("check")
def check(
    request_file: Path = typer.Argument(..., metavar="REQUEST.json", help="Assessment request (see app/RULES.md)."),
) -> None:
    """Assess REQUEST.json and print the engine's JSON report."""
    # the engine (parser, rules data) loads only for this command: `cli.py plan` stays fast
    from app.engine.assess import EngineInputError, assess, field_path
    from app.engine.request import AssessmentRequest
    from app.engine.rulebook import default_rulebook
    from app.settings import Settings

    try:
        raw = json.loads(request_file.read_text(encoding="utf-8"), parse_float=Decimal)
    except OSError as error:
        _fail([f"cannot read {request_file}: {error.strerror}"])
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        _fail([f"{request_file} is not valid JSON: {error}"])
    except RecursionError:  # e.g. 10,000 nested arrays: the parser's recursion limit, not a crash
        _fail([f"{request_file} is nested too deeply; a request nests a few levels only"])
    try:
        request = AssessmentRequest.model_validate(raw)
        report = assess(request, default_rulebook(), allow_unverified=Settings().origin_allow_unverified_rules)
    except ValidationError as error:
        _fail([f"{field_path(e['loc']) or 'request'}: {e['msg']}" for e in error.errors(include_url=False)])
    except EngineInputError as error:
        _fail([f"{field_path(error.loc) or 'request'}: {error.message}"])
    typer.echo(report.model_dump_json(indent=2))


def _fail(problems: list[str]) -> None:
    typer.echo("invalid request:", err=True)
    for problem in problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(USAGE_ERROR)
