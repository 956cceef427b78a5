"""Shared selectors for the operational rule families (backups, monitoring).

Those rules look at one kind of container (the backup job, Prometheus); when the export
declares none while the platform has something to protect or watch, the rule reports it
once, on the stack.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import yaml

from infra.audit.model import text
from infra.audit.resources import Container, Resources


@dataclass(frozen=True)
class Missing:
    """The stack, standing in for a container that should exist and does not."""

    urn: str
    what: str


def role_or_missing(role: str, what: str, needed: Callable[[Resources], bool]) -> Callable[[Resources], list[Container | Missing]]:
    def select(r: Resources) -> list[Container | Missing]:
        found: list[Container | Missing] = list(r.with_role(role))
        if not found and needed(r):
            found.append(Missing(r.stack_urn, what))
        return found

    return select


def config_text(r: Resources, container: Container) -> str:
    """Everything readable that configures a service: env, command, plaintext files."""
    parts = [f"{key}={value}" for key, value in container.env.items() if isinstance(value, str)]
    parts += container.command
    parts += [content for upload in r.service_files(container.service) if (content := upload.readable) is not None]
    parts += [text(container.inputs.get("name")) or ""]
    return "\n".join(parts)


def yaml_documents(r: Resources, container: Container) -> list[object]:
    """The service's uploaded YAML files, parsed (unparsable ones are skipped)."""
    documents: list[object] = []
    for upload in r.service_files(container.service):
        content = upload.readable
        if content is None or not upload.path.endswith((".yml", ".yaml")):
            continue
        try:
            documents.append(yaml.safe_load(content))
        except yaml.YAMLError:
            continue
    return documents


def when_present(check: Callable[[Container, Resources], Iterator[str]]) -> Callable[[Container | Missing, Resources], Iterator[str]]:
    """Run `check` on a declared container; report a `Missing` one as such."""

    def run(subject: Container | Missing, r: Resources) -> Iterator[str]:
        if isinstance(subject, Missing):
            yield f"no {subject.what} is declared"
            return
        yield from check(subject, r)

    return run
