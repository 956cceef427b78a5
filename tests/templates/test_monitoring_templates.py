"""The monitoring configs exactly as the prod plan uploads them, checked by the real tools.

promtool (Debian `prometheus`) checks the Prometheus config and rules and runs the rule
unit tests in `alerts_test.yml`; amtool (Debian `prometheus-alertmanager`) checks the
Alertmanager config. A missing tool fails the test (never skips).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from components.monitoring import RULES_DIR
from tests.harness import Planned
from tests.components.platform_helpers import file_content

HERE = Path(__file__).resolve().parent


def run(*command: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=60)
    assert result.returncode == 0, f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def rendered(prod_plan: Planned, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """prometheus.yml, rules/alerts.yml and alertmanager.yml from the plan, in one directory."""
    root = tmp_path_factory.mktemp("monitoring")
    (root / "rules").mkdir()
    rules = file_content(prod_plan, "prometheus", f"{RULES_DIR}/alerts.yml")
    (root / "rules" / "alerts.yml").write_text(rules)
    config = file_content(prod_plan, "prometheus", "/etc/prometheus/prometheus.yml")
    (root / "prometheus.yml").write_text(config.replace(RULES_DIR, str(root / "rules")))
    (root / "alertmanager.yml").write_text(file_content(prod_plan, "alertmanager", "/etc/alertmanager/alertmanager.yml"))
    return root


def test_promtool_accepts_the_prometheus_config(rendered: Path) -> None:
    result = run("promtool", "check", "config", str(rendered / "prometheus.yml"))
    # the rule file was found through rule_files and holds all six alerts
    assert "SUCCESS" in result.stdout + result.stderr and "11 rules found" in result.stdout + result.stderr


def test_promtool_accepts_the_alert_rules(rendered: Path) -> None:
    result = run("promtool", "check", "rules", str(rendered / "rules" / "alerts.yml"))
    assert "SUCCESS: 11 rules found" in result.stdout + result.stderr


def test_alert_rules_behave_as_specified(rendered: Path, tmp_path: Path) -> None:
    shutil.copy(rendered / "rules" / "alerts.yml", tmp_path / "alerts.yml")
    shutil.copy(HERE / "alerts_test.yml", tmp_path / "alerts_test.yml")
    result = run("promtool", "test", "rules", "alerts_test.yml", cwd=tmp_path)
    assert "SUCCESS" in result.stdout + result.stderr


def test_every_down_alert_has_a_for_clause(rendered: Path) -> None:
    rules = yaml.safe_load((rendered / "rules" / "alerts.yml").read_text())["groups"][0]["rules"]
    by_name = {rule["alert"]: rule for rule in rules}
    assert set(by_name) == {
        "TargetDown", "ContainerUnhealthy", "CertificateExpiresSoon", "BackupStale", "BackupFailed", "BackupOffsiteCopyFailed",
        "BackupCheckFailed", "BackupCheckMissing", "BackupRestoreDrillFailed", "BackupRestoreDrillMissing", "Watchdog",
    }
    assert by_name["TargetDown"]["for"] == "5m"
    assert "< 14 * 86400" in by_name["CertificateExpiresSoon"]["expr"]
    assert "> 26 * 3600" in by_name["BackupStale"]["expr"]


def test_amtool_accepts_the_alertmanager_config(rendered: Path) -> None:
    result = run("amtool", "check-config", str(rendered / "alertmanager.yml"))
    assert "SUCCESS" in result.stdout + result.stderr


def test_alertmanager_config_has_no_webhook_in_it(rendered: Path) -> None:
    config = yaml.safe_load((rendered / "alertmanager.yml").read_text())
    assert config["global"]["slack_api_url_file"] == "/run/alertmanager/slack-webhook"
    assert "hooks.slack.com" not in (rendered / "alertmanager.yml").read_text()
    watchdog = config["route"]["routes"][0]
    assert watchdog["matchers"] == ['alertname = "Watchdog"'] and watchdog["receiver"] == "heartbeat"


def test_prometheus_scrapes_traefik_every_api_keycloak_openbao_and_backup(rendered: Path) -> None:
    config = yaml.safe_load((rendered / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {name: job["static_configs"][0]["targets"] for name, job in jobs.items()}
    assert targets["traefik"] == ["traefik:8082"]
    for api in ("psra-api", "rentguy-api", "wpcs-api", "langgraph-runtime", "n8n"):
        assert jobs[api]["metrics_path"] == "/metrics" and targets[api][0].startswith(f"{api}:")
    assert targets["keycloak"] == ["keycloak:9000"]
    assert jobs["openbao"]["metrics_path"] == "/v1/sys/metrics" and jobs["openbao"]["params"] == {"format": ["prometheus"]}
    assert targets["backup"] == ["backup:9101"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_grafana_is_provisioned_with_prometheus_loki_and_a_dashboard(prod_plan: Planned) -> None:
    datasources = yaml.safe_load(file_content(prod_plan, "grafana", "/etc/grafana/provisioning/datasources/platform.yml"))
    by_type = {d["type"]: d for d in datasources["datasources"]}
    assert by_type["prometheus"]["url"] == "http://prometheus:9090" and by_type["prometheus"]["isDefault"] is True
    assert by_type["loki"]["url"] == "http://loki:3100"
    provider = yaml.safe_load(file_content(prod_plan, "grafana", "/etc/grafana/provisioning/dashboards/platform.yml"))
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"
    dashboard = json.loads(file_content(prod_plan, "grafana", "/etc/grafana/dashboards/platform.json"))
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert any("sevensa_backup_last_success_timestamp_seconds" in e for e in expressions)
    assert any("traefik_tls_certs_not_after" in e for e in expressions)
    ini = file_content(prod_plan, "grafana", "/etc/grafana/grafana.ini")
    assert "root_url = https://grafana.sevensa.nl/" in ini and "cookie_secure = true" in ini


def test_loki_and_promtail_configs_fit_together(prod_plan: Planned) -> None:
    loki = yaml.safe_load(file_content(prod_plan, "loki", "/etc/loki/loki.yml"))
    assert loki["server"]["http_listen_port"] == 3100
    assert loki["limits_config"]["retention_period"] == "360h" and loki["compactor"]["retention_enabled"] is True
    promtail = yaml.safe_load(file_content(prod_plan, "promtail", "/etc/promtail/promtail.yml"))
    assert promtail["clients"] == [{"url": "http://loki:3100/loki/api/v1/push"}]
    assert promtail["positions"]["filename"] == "/var/lib/promtail/positions.yaml"
    scrape = promtail["scrape_configs"][0]
    assert scrape["static_configs"][0]["labels"]["__path__"] == "/var/lib/docker/containers/*/*-json.log"
    expressions = scrape["pipeline_stages"][0]["json"]["expressions"]
    assert expressions["service"] == 'attrs."nl.sevensa.platform.service"'


def test_alertmanager_start_script_is_valid_shell(prod_plan: Planned, tmp_path: Path) -> None:
    script = tmp_path / "start.sh"
    script.write_text(file_content(prod_plan, "alertmanager", "/etc/alertmanager/start.sh"))
    run("sh", "-n", str(script))
    assert "v1/sevensa/data/shared/api/slack-webhook" in script.read_text()


@pytest.mark.servers
def test_alertmanager_start_script_reads_the_webhook_from_a_real_openbao(own_openbao_dev, tmp_path: Path) -> None:
    """The rendered entrypoint logs in with AppRole and writes only the webhook, mode 0600."""
    from templates import render

    openbao_dev = own_openbao_dev
    webhook = "https://hooks.slack.com/services/T000/B000/not-a-real-token"
    client = openbao_dev.client()
    client.sys.enable_secrets_engine("kv", path="sevensa", options={"version": "2"})
    client.secrets.kv.v2.create_or_update_secret(path="shared/api/slack-webhook", secret={"url": webhook}, mount_point="sevensa")
    client.sys.create_or_update_policy("monitoring", 'path "sevensa/data/shared/api/slack-webhook" { capabilities = ["read"] }')
    client.sys.enable_auth_method("approle")
    client.auth.approle.create_or_update_approle("monitoring-role", token_policies=["monitoring"])
    role_id = client.auth.approle.read_role_id("monitoring-role")["data"]["role_id"]
    secret_id = client.auth.approle.generate_secret_id("monitoring-role")["data"]["secret_id"]
    (tmp_path / "role-id").write_text(role_id)
    (tmp_path / "secret-id").write_text(secret_id)

    target = tmp_path / "slack-webhook"
    script = render("alertmanager/start.sh.j2", webhook_file=str(target), approle="monitoring-role", secret_api_path="sevensa/data/shared/api/slack-webhook")
    # the real binary is replaced by echo: the test is about what happens before it starts
    (tmp_path / "start.sh").write_text(script.replace("exec /bin/alertmanager", "exec echo started"))
    env = {"PATH": "/usr/bin:/bin", "OPENBAO_ADDR": openbao_dev.addr, "OPENBAO_ROLE_ID_FILE": str(tmp_path / "role-id"), "OPENBAO_SECRET_ID_FILE": str(tmp_path / "secret-id")}
    result = subprocess.run(["sh", str(tmp_path / "start.sh"), "--config.file=x"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started --config.file=x"
    assert target.read_text() == webhook
    assert target.stat().st_mode & 0o777 == 0o600
    assert secret_id not in result.stdout + result.stderr


def test_alertmanager_start_script_without_approle_material_says_so(tmp_path: Path) -> None:
    from templates import render

    target = tmp_path / "slack-webhook"
    script = render("alertmanager/start.sh.j2", webhook_file=str(target), approle="monitoring-role", secret_api_path="sevensa/data/x")
    (tmp_path / "start.sh").write_text(script.replace("exec /bin/alertmanager", "exec echo started"))
    result = subprocess.run(["sh", str(tmp_path / "start.sh")], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=30)
    assert result.returncode == 0 and "notifications cannot be delivered" in result.stderr
    assert target.read_text() == "http://127.0.0.1:9/slack-webhook-unset"
