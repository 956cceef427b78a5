"""The CLI as a user runs it: a subprocess on the repo's stack files and on fresh configs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd, capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_plan_dev_prints_every_seed_network() -> None:
    result = cli("plan", "--stack", "dev")
    assert result.returncode == 0, result.stderr
    for name in ("traefik-net", "psra-net", "psra-db-net", "rentguy-net", "rentguy-db-net", "ai-net", "keycloak-net", "monitoring-net", "shared-net"):
        assert f"networks-{name}" in result.stdout
    assert "subnet=172.20.3.0/24" in result.stdout
    assert "Resources by type" in result.stdout


def test_plan_json_is_byte_identical_and_has_the_seed_networks(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert cli("plan", "--stack", "prod", "--json", str(first)).returncode == 0
    assert cli("plan", "--stack", "prod", "--json", str(second)).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    document = json.loads(first.read_text())
    networks = {
        r["inputs"]["name"]: r["inputs"]
        for r in document["deployment"]["resources"]
        if r["type"] == "docker:index/network:Network"
    }
    assert networks["keycloak-net"]["ipamConfigs"][0]["subnet"] == "172.20.8.0/24"
    assert networks["keycloak-net"]["internal"] is True


def test_plan_diff_against_an_earlier_plan(tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    assert cli("plan", "--stack", "prod", "--json", str(old)).returncode == 0
    document = json.loads(old.read_text())
    document["deployment"]["resources"] = [r for r in document["deployment"]["resources"] if "networks-ai-net" not in r["urn"]]
    for resource in document["deployment"]["resources"]:
        if resource["urn"].endswith("::networks-psra-net"):
            resource["inputs"]["internal"] = False
    old.write_text(json.dumps(document))
    result = cli("plan", "--stack", "prod", "--diff", str(old))
    assert result.returncode == 0, result.stderr
    assert "+ urn:pulumi:prod::platform::sevensa:platform:Networks$docker:index/network:Network::networks-ai-net" in result.stdout
    assert "networks-psra-net  changed: internal" in result.stdout


def test_plan_diff_rejects_a_file_that_is_no_export(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.json"
    bogus.write_text('{"hello": 1}')
    result = cli("plan", "--stack", "prod", "--diff", str(bogus))
    assert result.returncode == 2
    assert "not a version-3 stack export" in result.stderr


def write_stack(tmp_path: Path, config: dict) -> Path:
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump({"config": {f"platform:{k}": v for k, v in config.items()}}))
    return tmp_path


def test_validate_reports_every_problem_with_its_key(tmp_path: Path) -> None:
    project = write_stack(
        tmp_path,
        {
            "domain": "bad domain!",
            "acmeEmail": "ops@sevensa.nl",
            "dockerHost": "unix:///var/run/docker.sock",
            "stacks": ["core", "psra", "mining"],
            "networks": [{"name": "psra-net", "subnet": "172.20.4.0/24"}],
        },
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), "validate", "--stack", "broken"],
        cwd=project, capture_output=True, text=True, timeout=60, env={"COLUMNS": "250", "PATH": "/usr/bin:/bin", "SEVENSA_PROJECT_DIR": str(project)},
    )
    assert result.returncode == 1
    assert "Pulumi.broken.yaml: platform:domain:" in result.stderr
    assert "platform:stacks[2]: unknown stack 'mining'" in result.stderr
    assert "platform:networks[0].subnet: 172.20.4.0/24 overlaps 172.20.4.0/24 of network 'psra-db-net'" in result.stderr
    assert "3 problem(s)" in result.stderr


def test_validate_ok_and_usage_errors() -> None:
    ok = cli("validate", "--stack", "prod")
    assert ok.returncode == 0 and ok.stdout.startswith("valid: stack prod: domain sevensa.nl"), ok.stdout
    assert cli("validate", "--no-such-option").returncode == 2


def test_render_writes_config_files_and_never_secrets(tmp_path: Path) -> None:
    result = cli("render", "--stack", "prod", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    traefik = yaml.safe_load((tmp_path / "traefik/etc/traefik/traefik.yml").read_text())
    assert traefik["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]["to"] == "websecure"
    assert (tmp_path / "prometheus").is_dir()
    assert "secret, not written: psra-db:/run/secrets/postgres-password" in result.stdout
    assert not (tmp_path / "psra-db/run/secrets/postgres-password").exists()
    assert not list(tmp_path.rglob("*password*"))


def test_at_exit_the_process_leaves_what_it_made_out_of_the_interpreters_collections() -> None:
    """cli.py freezes every object at exit (before the interpreter's final full collections, which
    would walk them all only for the OS to free them); an exit hook registered earlier runs after it."""
    probe = (
        "import atexit, gc, runpy, sys; atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0)); "
        "sys.argv = [sys.argv[1], 'validate', '--stack', 'dev']; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    result = subprocess.run([sys.executable, "-c", probe, str(ROOT / "cli.py")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("valid: stack dev")
    assert result.stdout.endswith("frozen True\n")
