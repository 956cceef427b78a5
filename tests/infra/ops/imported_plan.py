"""The offline plan of a stack, made the state of a real file-backend stack by `pulumi stack import`.

Every secret envelope of the plan gets a distinct known plaintext and goes to the real CLI in
its decrypted form (what `pulumi stack export --show-secrets` prints); `pulumi stack import`
encrypts each one with the stack's passphrase secrets provider, so the state holds the CLI's
own ciphertexts whose plaintexts the test knows. No encryption happens in Python.
"""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import yaml

from infra.plan.document import SECRET_SIG, SECRET_VALUE, is_secret
from infra.plan.offline import plan_stack
from tests.servers.pulumi_cli import PulumiProject


@dataclass(frozen=True)
class ImportedPlan:
    plan: dict[str, Any]  # the offline plan document, as `cli.py plan --json` writes it
    plaintexts: tuple[str, ...]  # the value behind each secret envelope of the state, in document order


def reveal(plan: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The plan with each secret as a decrypted envelope of a fresh, unique plaintext."""
    plaintexts: list[str] = []

    def walk(node: Any) -> Any:
        if is_secret(node):
            plaintexts.append(f"plan-secret-{len(plaintexts)}-{uuid.uuid4().hex}")
            return {SECRET_SIG: SECRET_VALUE, "plaintext": json.dumps(plaintexts[-1])}
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    return walk(copy.deepcopy(plan)), tuple(plaintexts)


def import_plan(project: PulumiProject, stack: str, passphrase: str) -> ImportedPlan:
    plan = plan_stack(stack, project.project_dir).document
    state, plaintexts = reveal(plan)
    created = project.pulumi("stack", "init", stack, "--secrets-provider", "passphrase", PULUMI_CONFIG_PASSPHRASE=passphrase)
    assert created.returncode == 0, created.stderr
    # The stack's own secrets provider (its salt is in Pulumi.<stack>.yaml) replaces the plan's
    # "offline-plan" one; the manifest carries the checksum the CLI verifies (sha256 of the version).
    salt = yaml.safe_load(project.stack_file(stack).read_text())["encryptionsalt"]
    state["deployment"]["secrets_providers"] = {"type": "passphrase", "state": {"salt": salt}}
    manifest = state["deployment"]["manifest"]
    manifest["version"] = project.cli.version
    manifest["magic"] = hashlib.sha256(manifest["version"].encode()).hexdigest()
    state_file = project.home / f"{stack}-import.json"
    state_file.write_text(json.dumps(state))
    imported = project.pulumi("stack", "import", "--file", str(state_file), "--stack", stack, PULUMI_CONFIG_PASSPHRASE=passphrase)
    state_file.unlink()  # it held the plaintexts
    assert imported.returncode == 0, imported.stderr
    return ImportedPlan(plan, plaintexts)
