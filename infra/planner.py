"""`plan_stack`: stack file -> validated spec -> offline run of the real program -> export document."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import config
from infra.export_document import build_export
from infra.plan import run_program
from infra.program import main
from infra.spec import PlatformSpec


@dataclass
class StackPlan:
    spec: PlatformSpec
    document: dict[str, Any]


def plan_stack(stack: str, project_dir: Path = config.PROJECT_DIR) -> StackPlan:
    """Validate first (all problems at once, with file and key), then run the program under mocks."""
    spec = config.load_stack(stack, project_dir)
    raw = config.read_stack_config(config.stack_file(stack, project_dir))
    secure = {key: value for key, value in raw.items() if isinstance(value, dict) and "secure" in value}
    plain = {key: value for key, value in raw.items() if key not in secure}
    run = run_program(
        main,
        project=spec.project,
        stack=stack,
        # encrypted config cannot be read offline: the program sees a stand-in, still secret
        config=config.as_pulumi_config(plain) | {f"{config.NAMESPACE}:{key}": f"<encrypted {key}>" for key in secure},
        secret_keys=[f"{config.NAMESPACE}:{key}" for key in secure],
    )
    return StackPlan(spec=spec, document=build_export(run))
