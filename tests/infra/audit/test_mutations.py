"""The audit proven by mutation: the production plan, with one classic mistake injected at a time,
must give a high-severity finding of the rule that owns the mistake (so `cli.py audit` exits 1),
while the unmutated plan has none of those findings."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.audit import audit
from infra.audit.model import Severity
from infra.plan.document import parse_export
from tests.harness import Planned

ROOT = Path(__file__).resolve().parents[3]
Document = dict[str, Any]
PLAINTEXT = "hunter2hunter2"


def _resource(document: Document, name: str) -> Document:
    matches = [r for r in document["deployment"]["resources"] if r["urn"].rsplit("::", 1)[-1] == name]
    assert len(matches) == 1, f"{len(matches)} resources named {name}"
    return matches[0]


def _set(resource_name: str, /, **inputs: Any) -> Callable[[Document], None]:
    def apply(document: Document) -> None:
        _resource(document, resource_name)["inputs"].update(inputs)

    return apply


def _append(name: str, key: str, *items: Any) -> Callable[[Document], None]:
    def apply(document: Document) -> None:
        resource = _resource(document, name)["inputs"]
        resource[key] = [*(resource.get(key) or []), *items]

    return apply


def _direct_image(reference: str) -> Callable[[Document], None]:
    """The container names its image itself instead of depending on a pinned RemoteImage."""

    def apply(document: Document) -> None:
        container = _resource(document, "n8n-container")
        container["inputs"]["image"] = reference
        container["dependencies"] = [d for d in container["dependencies"] if "RemoteImage" not in d]
        container["inputs"]["labels"] = [item for item in container["inputs"]["labels"] if item["label"] != "nl.sevensa.platform.image"]

    return apply


def _plaintext_upload(name: str, path: str, content: str) -> Callable[[Document], None]:
    def apply(document: Document) -> None:
        upload = next(u for u in _resource(document, name)["inputs"]["uploads"] if u["file"] == path)
        upload["content"] = content

    return apply


def _policy(name: str, extra: str) -> Callable[[Document], None]:
    def apply(document: Document) -> None:
        _resource(document, name)["inputs"]["policy"] += extra

    return apply


def _no_brute_force(document: Document) -> None:
    _resource(document, "keycloak-realm-realm")["inputs"]["securityDefenses"].pop("bruteForceDetection")


def _inputs_as_text(document: Document) -> None:
    _resource(document, "psra-api-container")["inputs"] = "privileged=true"


BIND = "bind"
INJECTIONS: dict[str, tuple[str, Callable[[Document], None]]] = {
    "pulled image tagged :latest": ("CR-10", _set("traefik-traefik-image", name="traefik:latest")),
    "pulled image without tag or digest": ("CR-10", _set("psra-redis-image", name="redis")),
    "built image tagged :latest": ("CR-10", _set("backup-image", imageName="ghcr.io/sevensa/platform-backup:latest")),
    "container naming an untagged image itself": ("CR-10", _direct_image("n8nio/n8n")),
    "redis URL with a password in an env value": ("SEC-05", _append("psra-api-container", "envs", f"CACHE_URL=redis://:{PLAINTEXT}@psra-redis:6379/0")),
    "--password=… on a command line": ("SEC-05", _append("psra-api-container", "command", f"--db-password={PLAINTEXT}")),
    "requirepass in a command": ("SEC-05", _set("psra-redis-container", command=["redis-server", "--requirepass", PLAINTEXT])),
    "requirepass in a plaintext uploaded config": (
        "SEC-05",
        _plaintext_upload("psra-redis-files-seed", "/seed/etc_redis/redis.conf", f"port 6379\nrequirepass {PLAINTEXT}\n"),
    ),
    "Docker socket mounted outside the socket proxy": (
        "CR-11",
        _append("psra-api-container", "mounts", {"type": BIND, "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "readOnly": True}),
    ),
    "containerd socket mounted": (
        "CR-14",
        _append("psra-api-container", "mounts", {"type": BIND, "source": "/run/containerd/containerd.sock", "target": "/c.sock"}),
    ),
    "host /var/run mounted (as a volume host path)": ("CR-14", _append("psra-api-container", "volumes", {"hostPath": "/var/run", "containerPath": "/host-run"})),
    "psra's AppRole granted rentguy's secret": (
        "BAO-11",
        _policy("openbao-policies-psra-role", '\npath "rentguy/kv/data/database/credentials" {\n  capabilities = ["read"]\n}\n'),
    ),
    'admin policy with path "*"': ("BAO-12", _policy("openbao-policies-admin", '\npath "*" {\n  capabilities = ["read", "list"]\n}\n')),
    "admin policy with sudo beyond bootstrap": (
        "BAO-12",
        _policy("openbao-policies-admin", '\npath "sys/mounts/*" {\n  capabilities = ["update", "sudo"]\n}\n'),
    ),
    "Keycloak self-registration": ("KC-13", _set("keycloak-realm-realm", registrationAllowed=True)),
    "Keycloak without brute-force protection": ("KC-01", _no_brute_force),
    "resource whose inputs are text": ("DOC-01", _inputs_as_text),
}


@pytest.fixture(scope="module")
def baseline(prod_plan: Planned) -> set[str]:
    return {f.rule for f in audit(prod_plan.resources, "prod").findings}


@pytest.mark.parametrize("mistake", sorted(INJECTIONS))
def test_every_injected_mistake_is_a_high_finding(mistake: str, prod_plan: Planned, baseline: set[str]) -> None:
    rule, inject = INJECTIONS[mistake]
    assert rule not in baseline, f"{rule} already fires on the unmutated prod plan"
    document = copy.deepcopy(prod_plan.document)
    inject(document)
    result = audit(parse_export(document, "mutated prod plan"), "mutated prod plan")
    fired = [f for f in result.findings if f.rule == rule]
    assert fired, f"{mistake}: {rule} did not fire; got {sorted({f.rule for f in result.findings})}"
    assert {f.severity for f in fired} == {Severity.HIGH}
    assert all(PLAINTEXT not in f.message for f in result.findings), "a finding shows the secret"


def test_a_cross_tenant_grant_makes_the_audit_command_exit_1(prod_plan: Planned, tmp_path: Path) -> None:
    document = copy.deepcopy(prod_plan.document)
    INJECTIONS["psra's AppRole granted rentguy's secret"][1](document)
    export = tmp_path / "export.json"
    export.write_text(json.dumps(document))
    completed = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "audit", str(export), "--format", "json"], capture_output=True, text=True, timeout=120, check=False
    )
    assert completed.returncode == 1, completed.stderr
    findings = json.loads(completed.stdout)["findings"]
    assert [(f["rule"], f["severity"]) for f in findings if f["rule"] == "BAO-11"] == [("BAO-11", "high")]
    assert "1 finding(s) at or above high" in completed.stderr


HOSTILE_SHAPES = ("text", 1, True, [], {}, ["text"], [1], [{"a": 1}], {"a": "b"}, None, [[]], {"x": [1]}, [None], {"a": None})


@pytest.mark.parametrize("shape", HOSTILE_SHAPES, ids=repr)
def test_properties_of_any_shape_never_crash_the_audit_reports_or_diagram(shape: Any, prod_plan: Planned) -> None:
    """A hand-edited export where every property of every resource has the same wrong shape: the audit,
    its reports and the diagram still complete (what cannot be checked is a finding, never a traceback)."""
    from infra.audit.diagram import write_diagram
    from infra.audit.render import as_html, as_markdown

    document = copy.deepcopy(prod_plan.document)
    for resource in document["deployment"]["resources"]:
        resource["inputs"] = {key: copy.deepcopy(shape) for key in resource.get("inputs") or {}}
        resource["outputs"] = {key: copy.deepcopy(shape) for key in resource.get("outputs") or {}}
    resources = parse_export(document, "hostile")
    result = audit(resources, "hostile")
    assert as_markdown(result) and as_html(result) and write_diagram(resources, "hostile", None)
    assert result.at_least(Severity.HIGH)  # nothing hardened is left: the audit says so
