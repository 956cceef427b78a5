"""Monitoring under mocks: never published, behind forward-auth, secrets as files, scrape jobs from the spec."""

from __future__ import annotations

import pytest

from infra.plan.document import is_secret
from stacks.monitoring import scrape_jobs
from tests.harness import Planned, plan_config, spec_for
from tests.components.platform_helpers import envs, labels, uploaded_files

MONITORING = ("prometheus", "alertmanager", "grafana", "loki", "promtail")


def test_monitoring_containers_publish_nothing_and_stay_on_internal_networks(prod_plan: Planned) -> None:
    containers = prod_plan.containers()
    internal = {r.inputs["name"] for r in prod_plan.of_type("docker:index/network:Network") if r.inputs["internal"]}
    for name in MONITORING:
        assert "ports" not in containers[name].inputs, name
        networks = {n["name"] for n in containers[name].inputs["networksAdvanced"]}
        assert networks <= internal | ({"egress-net"} if name == "alertmanager" else set()), name


def test_only_prometheus_and_grafana_are_routed_and_both_behind_forward_auth(prod_plan: Planned) -> None:
    containers = prod_plan.containers()
    routed = {name for name in MONITORING if labels(containers[name]).get("traefik.enable") == "true"}
    assert routed == {"prometheus", "grafana"}
    for name in routed:
        found = labels(containers[name])
        assert "forward-auth@file" in found[f"traefik.http.routers.{name}.middlewares"].split(",")
        assert found[f"traefik.http.routers.{name}.rule"] == f"Host(`{name}.sevensa.nl`)"


def test_grafana_admin_password_is_a_secret_file(prod_plan: Planned) -> None:
    grafana = prod_plan.containers()["grafana"]
    assert envs(grafana)["GF_SECURITY_ADMIN_PASSWORD__FILE"] == "/run/secrets/grafana-admin-password"
    upload = uploaded_files(prod_plan, "grafana")["/run/secrets/grafana-admin-password"]
    assert is_secret(upload["content"]) and (upload["owner"], upload["permissions"]) == ("472", "0400")


def test_promtail_reads_container_logs_read_only_without_the_docker_api(prod_plan: Planned) -> None:
    promtail = prod_plan.containers()["promtail"]
    mounts = promtail.inputs["mounts"]
    assert {"type": "bind", "source": "/var/lib/docker/containers", "target": "/var/lib/docker/containers", "readOnly": True} in mounts
    assert not any(m["source"] == "/var/run/docker.sock" for m in mounts)
    assert [n["name"] for n in promtail.inputs["networksAdvanced"]] == ["monitoring-net"]
    assert promtail.inputs["healthcheck"]["tests"][:3] == ["CMD", "bash", "-c"]


def test_every_container_logs_with_the_labels_promtail_reads(prod_plan: Planned) -> None:
    for name, container in prod_plan.containers().items():
        if labels(container).get("nl.sevensa.platform.role") == "file-seed":
            continue
        assert container.inputs["logOpts"]["labels"] == "nl.sevensa.platform.service,nl.sevensa.platform.stack", name


def test_alertmanager_fetches_the_webhook_at_start_into_tmpfs(prod_plan: Planned) -> None:
    alertmanager = prod_plan.containers()["alertmanager"]
    assert alertmanager.inputs["entrypoints"] == ["/bin/sh", "/etc/alertmanager/start.sh"]
    assert "/run/alertmanager" in alertmanager.inputs["tmpfs"]
    assert envs(alertmanager)["OPENBAO_ADDR"] == "http://172.20.10.10:8200"  # on shared-net, where its AppRole is bound
    assert envs(alertmanager)["OPENBAO_ROLE"] == "monitoring-role"


def test_scrape_jobs_follow_the_enabled_stacks() -> None:
    jobs = {job.name: job for job in scrape_jobs(spec_for({"stacks": ["core", "monitoring"]}))}
    assert set(jobs) == {"prometheus", "docker-engine", "traefik", "oauth2-proxy", "alertmanager", "grafana", "loki", "promtail"}
    assert jobs["docker-engine"].targets == ("172.20.9.1:9323",)
    full = {job.name for job in scrape_jobs(spec_for())}
    assert {"psra-api", "rentguy-api", "wpcs-api", "keycloak", "openbao", "n8n", "backup"} <= full


def test_an_unreachable_metrics_target_is_refused() -> None:
    spec = spec_for({"services": {"prometheus": {"networks": ["monitoring-net"]}}})
    with pytest.raises(ValueError, match="Prometheus cannot reach 'oauth2-proxy'"):
        scrape_jobs(spec)


def test_monitoring_alone_plans_without_tenant_stacks() -> None:
    planned = plan_config({"stacks": ["core", "monitoring"]})
    assert set(MONITORING) <= set(planned.containers())
