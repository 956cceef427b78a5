"""Prometheus, Alertmanager, Grafana, Loki and Promtail, configured from `templates/`.

Nothing here is published on a host port: Prometheus and Grafana are reached only through
Traefik behind forward-auth (their spec routes), the rest only on monitoring-net.
Prometheus scrapes the jobs the monitoring stack derives from the spec; alert rules cover
down targets, certificate expiry, stale or failed backups and a watchdog. Alertmanager
reads the Slack webhook from OpenBao at start (AppRole) into tmpfs. Promtail tails
Docker's json-file logs read-only from the host, without Docker API access.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pulumi
import pulumi_docker as docker
import pulumi_random as random

from components.container import (
    SERVICE_LABEL,
    STACK_LABEL,
    ContainerArgs,
    HardenedContainer,
    HostMount,
)
from infra.spec.models import HealthcheckSpec, ServiceSpec
from infra.spec.traefik_labels import RoutingPolicy
from templates import TEMPLATE_DIR, render

PROMETHEUS_PORT = 9090
ALERTMANAGER_PORT = 9093
GRAFANA_PORT = 3000
LOKI_PORT = 3100
PROMTAIL_PORT = 9080
PROMETHEUS_DIR = "/etc/prometheus"
RULES_DIR = f"{PROMETHEUS_DIR}/rules"
ALERTMANAGER_DIR = "/etc/alertmanager"
WEBHOOK_FILE = "/run/alertmanager/slack-webhook"
GRAFANA_INI = "/etc/grafana/grafana.ini"
GRAFANA_PROVISIONING = "/etc/grafana/provisioning"
GRAFANA_DASHBOARDS = "/etc/grafana/dashboards"
GRAFANA_PASSWORD_FILE = "/run/secrets/grafana-admin-password"
LOKI_CONFIG = "/etc/loki/loki.yml"
PROMTAIL_CONFIG = "/etc/promtail/promtail.yml"
DOCKER_CONTAINERS_DIR = "/var/lib/docker/containers"
DASHBOARD_FILES = ("platform.json",)


@dataclass(frozen=True)
class ScrapeJob:
    """One Prometheus job: `host:port` targets reachable from Prometheus's networks."""

    name: str
    targets: tuple[str, ...]
    metrics_path: str = "/metrics"
    params: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertThresholds:
    """The seed's and the invariants' numbers (MON-01..03)."""

    target_down_for: str = "5m"
    unhealthy_for: str = "10m"
    cert_expiry_days: int = 14
    backup_max_age_hours: int = 26


@dataclass(frozen=True)
class MonitoringArgs:
    """Args:
    prometheus / alertmanager / grafana / loki / promtail: their service specs.
    networks: the platform networks by name. routing: Traefik's routing policy.
    scrape_jobs: what Prometheus scrapes (built by the monitoring stack from the spec).
    slack_secret_api_path: OpenBao API path of the Slack webhook (`<mount>/data/<key>`).
    alertmanager_env / alertmanager_secret_files: AppRole login material for Alertmanager.
    retention_days: metrics and logs retention (seed: monitoring data 15 days).
    """

    prometheus: ServiceSpec
    alertmanager: ServiceSpec
    grafana: ServiceSpec
    loki: ServiceSpec
    promtail: ServiceSpec
    networks: Mapping[str, docker.Network]
    routing: RoutingPolicy
    scrape_jobs: tuple[ScrapeJob, ...]
    slack_secret_api_path: str
    approle: str
    alertmanager_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    alertmanager_secret_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    thresholds: AlertThresholds = AlertThresholds()
    slack_channel: str = "#platform-alerts"
    retention_days: int = 15
    platform: str = "sevensa"


class Monitoring(pulumi.ComponentResource):
    """The five monitoring containers and Grafana's admin password."""

    containers: dict[str, HardenedContainer]
    grafana_admin_password: random.RandomPassword

    def __init__(self, name: str, args: MonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("sevensa:platform:Monitoring", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.grafana_admin_password = random.RandomPassword(f"{name}-grafana-admin-password", length=32, special=False, opts=child)

        def container(spec: ServiceSpec, port: int, path: str, **fields) -> HardenedContainer:
            probe = fields.pop("healthcheck", None) or spec.healthcheck or HealthcheckSpec(
                test=("CMD", "wget", "-qO-", f"http://127.0.0.1:{port}{path}"), interval_seconds=15
            )
            return HardenedContainer(
                spec.name, ContainerArgs(service=spec, networks=args.networks, routing=args.routing, healthcheck=probe, **fields), child
            )

        loki = container(
            args.loki, LOKI_PORT, "/ready", command=[f"-config.file={LOKI_CONFIG}"], config_files={LOKI_CONFIG: loki_config(args)}
        )
        alertmanager = container(
            args.alertmanager,
            ALERTMANAGER_PORT,
            "/-/healthy",
            entrypoint=["/bin/sh", f"{ALERTMANAGER_DIR}/start.sh"],
            command=[
                f"--config.file={ALERTMANAGER_DIR}/alertmanager.yml",
                f"--storage.path={args.alertmanager.volumes[0].container_path}" if args.alertmanager.volumes else "--storage.path=/alertmanager",
                "--cluster.listen-address=",
            ],
            env=args.alertmanager_env,
            secret_files=args.alertmanager_secret_files,
            config_files={
                f"{ALERTMANAGER_DIR}/alertmanager.yml": alertmanager_config(args),
                f"{ALERTMANAGER_DIR}/start.sh": alertmanager_start_script(args),
            },
        )
        prometheus = container(
            args.prometheus,
            PROMETHEUS_PORT,
            "/-/healthy",
            command=[
                f"--config.file={PROMETHEUS_DIR}/prometheus.yml",
                "--storage.tsdb.path=/prometheus",
                f"--storage.tsdb.retention.time={args.retention_days}d",
                f"--web.external-url=https://{args.prometheus.routes[0].host}/" if args.prometheus.routes else "--web.external-url=/",
            ],
            config_files={f"{PROMETHEUS_DIR}/prometheus.yml": prometheus_config(args), f"{RULES_DIR}/alerts.yml": alert_rules(args.thresholds)},
            depends_on=[alertmanager],
        )
        grafana = container(
            args.grafana,
            GRAFANA_PORT,
            "/api/health",
            env=grafana_env(),
            secret_files={GRAFANA_PASSWORD_FILE: self.grafana_admin_password.result},
            config_files=grafana_files(args),
            depends_on=[prometheus, loki],
        )
        promtail = container(
            args.promtail,
            PROMTAIL_PORT,
            "/ready",
            command=[f"-config.file={PROMTAIL_CONFIG}"],
            config_files={PROMTAIL_CONFIG: promtail_config(args)},
            host_mounts=[HostMount(DOCKER_CONTAINERS_DIR, DOCKER_CONTAINERS_DIR)],
            healthcheck=args.promtail.healthcheck or promtail_healthcheck(),
            depends_on=[loki],
        )
        self.containers = {c.service.name: c for c in (loki, alertmanager, prometheus, grafana, promtail)}
        self.register_outputs({"containers": [c.container.name for c in self.containers.values()]})


def prometheus_config(args: MonitoringArgs) -> str:
    return render(
        "prometheus/prometheus.yml.j2",
        scrape_interval="30s",
        platform=args.platform,
        rules_dir=RULES_DIR,
        alertmanager=f"{args.alertmanager.name}:{ALERTMANAGER_PORT}",
        jobs=args.scrape_jobs,
    )


def alert_rules(thresholds: AlertThresholds) -> str:
    return render(
        "prometheus/alerts.yml.j2",
        target_down_for=thresholds.target_down_for,
        unhealthy_for=thresholds.unhealthy_for,
        cert_expiry_days=thresholds.cert_expiry_days,
        backup_max_age_hours=thresholds.backup_max_age_hours,
    )


def alertmanager_config(args: MonitoringArgs) -> str:
    return render("alertmanager/alertmanager.yml.j2", webhook_file=WEBHOOK_FILE, slack_channel=args.slack_channel)


def alertmanager_start_script(args: MonitoringArgs) -> str:
    return render("alertmanager/start.sh.j2", webhook_file=WEBHOOK_FILE, approle=args.approle, secret_api_path=args.slack_secret_api_path)


def grafana_env() -> dict[str, str]:
    return {"GF_SECURITY_ADMIN_PASSWORD__FILE": GRAFANA_PASSWORD_FILE, "GF_PATHS_CONFIG": GRAFANA_INI}


def grafana_files(args: MonitoringArgs) -> dict[str, str]:
    root = f"https://{args.grafana.routes[0].host}/" if args.grafana.routes else "/"
    files = {
        GRAFANA_INI: render("grafana/grafana.ini.j2", root_url=root, provisioning_dir=GRAFANA_PROVISIONING),
        f"{GRAFANA_PROVISIONING}/datasources/platform.yml": render(
            "grafana/datasources.yml.j2", prometheus_url=f"http://prometheus:{PROMETHEUS_PORT}", loki_url=f"http://loki:{LOKI_PORT}"
        ),
        f"{GRAFANA_PROVISIONING}/dashboards/platform.yml": render("grafana/dashboards.yml.j2", dashboards_dir=GRAFANA_DASHBOARDS),
    }
    for dashboard in DASHBOARD_FILES:
        # dashboards are JSON with Grafana's own {{ }} legend syntax: copied, not rendered
        files[f"{GRAFANA_DASHBOARDS}/{dashboard}"] = (Path(TEMPLATE_DIR) / "grafana" / "dashboards" / dashboard).read_text()
    return files


def loki_config(args: MonitoringArgs) -> str:
    data_dir = args.loki.volumes[0].container_path if args.loki.volumes else "/loki"
    return render("loki/loki.yml.j2", port=LOKI_PORT, data_dir=data_dir, retention_hours=args.retention_days * 24)


def promtail_config(args: MonitoringArgs) -> str:
    positions = f"{args.promtail.volumes[0].container_path}/positions.yaml" if args.promtail.volumes else "/tmp/positions.yaml"
    return render(
        "promtail/promtail.yml.j2",
        port=PROMTAIL_PORT,
        positions_file=positions,
        loki_push_url=f"http://{args.loki.name}:{LOKI_PORT}/loki/api/v1/push",
        containers_dir=DOCKER_CONTAINERS_DIR,
        service_label=SERVICE_LABEL,
        stack_label=STACK_LABEL,
    )


def promtail_healthcheck() -> HealthcheckSpec:
    """Promtail's image has bash but no wget/curl (removed upstream): ask /ready over /dev/tcp."""
    probe = f"exec 3<>/dev/tcp/127.0.0.1/{PROMTAIL_PORT} && printf 'GET /ready HTTP/1.0\\r\\n\\r\\n' >&3 && grep -q ' 200 ' <&3"
    return HealthcheckSpec(test=("CMD", "bash", "-c", probe), interval_seconds=15)
