"""Diagrams drawn from what an export declares: Mermaid text and Graphviz SVG."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from infra.audit import diagram
from infra.audit.diagram import DiagramError, build_diagram, to_mermaid
from infra.plan.document import parse_export
from tests.infra.audit.crafted import DOMAIN, compliant_document, dumps

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def mermaid() -> str:
    return to_mermaid(build_diagram(parse_export(compliant_document()), "crafted"))


def test_networks_with_subnets_and_isolation(mermaid: str) -> None:
    assert 'net_psra_db_net{{"psra-db-net internal"}}' in mermaid
    assert "net_traefik_net" in mermaid and "traefik-net" in mermaid and "external" in mermaid
    assert 'net_egress_net -.->|"egress"| internet' in mermaid
    assert 'net_psra_net -.->|"egress"|' not in mermaid


def test_containers_by_stack_with_routes_and_published_ports(mermaid: str) -> None:
    assert 'subgraph stack_psra["stack: psra"]' in mermaid
    assert 'c_psra_db[("psra-db postgres:16.10-alpine")]' in mermaid
    assert f'c_traefik -->|"psra.{DOMAIN}"| c_psra_frontend' in mermaid
    assert f'c_traefik -->|"auth.{DOMAIN}"| c_keycloak' in mermaid
    assert 'internet ==>|":443, :80"| c_traefik' in mermaid
    assert "c_psra_db -.- net_psra_db_net" in mermaid
    assert "c_traefik --- net_traefik_net" in mermaid


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)


def test_cli_writes_markdown_and_svg(tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    export.write_text(dumps(compliant_document()))
    assert run_cli("diagram", str(export), "-o", str(tmp_path / "arch.md")).returncode == 0
    markdown = (tmp_path / "arch.md").read_text()
    assert markdown.startswith("## Architecture as declared") and "```mermaid\nflowchart LR" in markdown
    completed = run_cli("diagram", str(export), "-o", str(tmp_path / "arch.svg"))
    assert completed.returncode == 0, completed.stderr
    svg = (tmp_path / "arch.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg and "<title>c_psra_frontend</title>" in svg and "stack: security" in svg
    bad = run_cli("diagram", str(export), "-o", str(tmp_path / "arch.png"))
    assert bad.returncode == 2 and "use one of .md, .mmd, .dot, .svg" in bad.stderr


def test_cli_diagrams_the_prod_plan() -> None:
    completed = run_cli("diagram", "--stack", "prod")
    assert completed.returncode == 0, completed.stderr
    assert 'c_traefik -->|"auth.sevensa.nl"| c_keycloak' in completed.stdout


def test_svg_without_graphviz_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(diagram.shutil, "which", lambda name: None)
    with pytest.raises(DiagramError, match="apt-get install graphviz"):
        diagram.to_svg(build_diagram(parse_export(compliant_document()), "crafted"))
