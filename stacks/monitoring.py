"""Monitoring stack: what Prometheus scrapes, derived from the spec, and the monitoring containers.

`METRICS` says where each service serves Prometheus metrics; a job is emitted for every
such service whose stack is enabled, after checking Prometheus shares a network with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pulumi

from components import openbao_server
from components.monitoring import Monitoring, MonitoringArgs, ScrapeJob
from infra.spec.models import PlatformSpec
from stacks.apps import openbao_fields
from stacks.context import PlatformContext
from stacks.services import register, routing, service_spec

SLACK_WEBHOOK_PATH = "sevensa/shared/api/slack-webhook"
MONITORING_NETWORK = "monitoring-net"
# Docker daemon metrics (daemon.json "metrics-addr": "0.0.0.0:9323", port closed to the
# outside by the host firewall): reached on the monitoring network's gateway, the host.
DOCKER_METRICS_PORT = 9323


@dataclass(frozen=True)
class MetricsEndpoint:
    port: int
    path: str = "/metrics"
    params: dict[str, tuple[str, ...]] = field(default_factory=dict)


METRICS: dict[str, MetricsEndpoint] = {
    "traefik": MetricsEndpoint(8082),
    "oauth2-proxy": MetricsEndpoint(44180),
    "keycloak": MetricsEndpoint(9000),  # Keycloak's management port (KC_METRICS_ENABLED)
    "openbao": MetricsEndpoint(openbao_server.METRICS_PORT, "/v1/sys/metrics", {"format": ("prometheus",)}),  # its metrics-only listener
    "psra-api": MetricsEndpoint(9464),  # the bundled app serves metrics on its internal port only (app/metrics.py)
    "rentguy-api": MetricsEndpoint(8000),
    "wpcs-api": MetricsEndpoint(8000),
    "langgraph-runtime": MetricsEndpoint(8000),
    "n8n": MetricsEndpoint(5678),
    "alertmanager": MetricsEndpoint(9093),
    "grafana": MetricsEndpoint(3000),
    "loki": MetricsEndpoint(3100),
    "promtail": MetricsEndpoint(9080),
    "backup": MetricsEndpoint(9101),
}


def scrape_jobs(spec: PlatformSpec) -> tuple[ScrapeJob, ...]:
    """One job per enabled service with metrics, plus Prometheus itself."""
    prometheus = next(s for s in spec.services if s.name == "prometheus")
    gateway = next(spec.network(MONITORING_NETWORK).subnet.hosts())
    jobs = [ScrapeJob("prometheus", ("localhost:9090",)), ScrapeJob("docker-engine", (f"{gateway}:{DOCKER_METRICS_PORT}",))]
    for service in spec.services:
        endpoint = METRICS.get(service.name)
        if endpoint is None or not spec.enabled(service.stack):
            continue
        if not set(service.networks) & set(prometheus.networks):
            raise ValueError(
                f"Prometheus cannot reach {service.name!r}: no shared network "
                f"({', '.join(service.networks)} vs {', '.join(prometheus.networks)})"
            )
        jobs.append(ScrapeJob(service.name, (f"{service.name}:{endpoint.port}",), endpoint.path, endpoint.params))
    return tuple(jobs)


def slack_api_path(spec: PlatformSpec) -> str:
    path = next((p for p in spec.openbao.secret_paths if p.seed_path == SLACK_WEBHOOK_PATH), None)
    if path is None:
        raise ValueError(f"the secrets matrix has no {SLACK_WEBHOOK_PATH!r}; Alertmanager cannot notify Slack")
    return path.acl_path


def build(context: PlatformContext) -> None:
    spec = context.spec
    alertmanager = service_spec(context, "alertmanager")
    role = next(r.name for r in spec.openbao.approles if alertmanager.name in r.services)
    missing: list[str] = []
    approle = openbao_fields(context, alertmanager, missing=missing)
    if missing:
        pulumi.log.warn("monitoring: no AppRole credentials published for alertmanager; Slack notifications stay off until they are")
    policy = routing(context)
    if policy is None:
        raise ValueError("the monitoring stack needs the core stack's routing policy (enable 'core')")
    monitoring = Monitoring(
        "monitoring",
        MonitoringArgs(
            prometheus=service_spec(context, "prometheus"),
            alertmanager=alertmanager,
            grafana=service_spec(context, "grafana"),
            loki=service_spec(context, "loki"),
            promtail=service_spec(context, "promtail"),
            networks=context.networks.networks,
            routing=policy,
            scrape_jobs=scrape_jobs(spec),
            slack_secret_api_path=slack_api_path(spec),
            approle=role,
            alertmanager_env=approle.env,
            alertmanager_secret_files=approle.secret_files,
            platform=spec.project,
        ),
        pulumi.ResourceOptions(providers=[context.docker_provider]),
    )
    for container in monitoring.containers.values():
        register(context, container)
