"""The auditor's export: `pulumi stack export` exactly as stored, secrets still encrypted.

The Automation API's `export_stack()` runs `pulumi stack export --show-secrets` (it decrypts
every secret). This runs the same CLI through the workspace's own command runner without
that flag, and then checks the document it got: every secret must still be a ciphertext
envelope. A document with a decrypted (`plaintext`) envelope is refused, never written.
"""

from __future__ import annotations

import json
from typing import Any

from pulumi import automation as auto

from infra.ops.deploy import DeployError, ExitCode, Target, explain
from infra.plan.document import SECRET_SIG, SECRET_VALUE, ExportError, parse_export

EXPORT_ARGS = ("stack", "export")  # deliberately never "--show-secrets"


def decrypted_paths(node: Any, where: str = "deployment") -> list[str]:
    """Where a secret envelope carries `plaintext` instead of `ciphertext`."""
    found: list[str] = []
    if isinstance(node, dict):
        if node.get(SECRET_SIG) == SECRET_VALUE and ("plaintext" in node or "ciphertext" not in node):
            found.append(where)
        for key, value in node.items():
            found.extend(decrypted_paths(value, f"{where}.{key}"))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(decrypted_paths(item, f"{where}[{index}]"))
    return found


def export_sealed(stack: auto.Stack, target: Target) -> dict[str, Any]:
    """The stack's state document, secrets encrypted; raises DeployError otherwise."""
    ws = stack.workspace
    try:
        result = ws.pulumi_command.run([*EXPORT_ARGS, "--stack", stack.name], ws.work_dir, dict(ws.env_vars))
    except Exception as error:
        raise explain(error, target, "stack export") from error
    return sealed_document(result.stdout, stack.name)


def sealed_document(text: str, stack_name: str) -> dict[str, Any]:
    """`pulumi stack export` output as a document, refused if any secret in it is decrypted."""
    try:
        document = json.loads(text)
        parse_export(document, f"pulumi stack export --stack {stack_name}")
    except (json.JSONDecodeError, ExportError) as error:
        raise DeployError(f"pulumi stack export did not return a version-3 stack export: {error}", ExitCode.FAILED) from error
    leaked = decrypted_paths(document.get("deployment"))
    if leaked:
        raise DeployError(
            f"Refusing to write the export of stack {stack_name}: {len(leaked)} secret(s) came back decrypted "
            f"(first at {leaked[0]}); an auditor export must keep every secret encrypted.",
            ExitCode.FAILED,
        )
    return document
