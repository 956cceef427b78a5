"""The lab stack on the engine: each live check of issue 11 as a test (the report runs the same checks)."""

from __future__ import annotations

import yaml

from infra.ops.lab import checks, images, lab
from tests.live.conftest import assert_passed


def test_the_lab_stack_runs_the_local_images_the_build_makes() -> None:
    config = yaml.safe_load((lab.REPO_ROOT / "Pulumi.lab.yaml").read_text())["config"]
    overrides, _ = images.image_overrides()
    assert config["platform:imageOverrides"] == overrides
    assert (config["platform:publishAddress"], config["platform:dockerApiVersion"]) == ("127.0.0.1", "1.41")


def test_a_second_up_converges(live_lab: checks.LiveLab) -> None:
    from infra.ops.lab.content import content_appliers

    again = lab.up(lab.DEFAULT_STACK, families=content_appliers(lab.DEFAULT_STACK, lambda m: None), engine=False, build=False)
    assert (again.applied.created, again.applied.replaced, again.applied.removed) == ([], [], [])


def test_every_container_is_running_and_healthy(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.containers_healthy(live_lab))


def test_docker_inspect_matches_the_plan(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.inspect_matches_plan(live_lab))


def test_networks_have_the_exact_subnets_and_internal_flags(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.networks_match_plan(live_lab))


def test_only_traefik_is_published_on_loopback(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.only_traefik_published(live_lab))


def test_the_isolation_matrix_is_the_planned_one(live_lab: checks.LiveLab) -> None:
    result = checks.isolation_matrix(live_lab)
    assert_passed(result)
    reachable = result.data["reachable"]
    assert "psra-db:5432" in reachable["psra-api"]
    assert not {"rentguy-db:5432", "keycloak-db:5432"} & set(reachable["psra-api"])
    # a database reaches only its own internal network's members: never another tenant, never the edge
    for database in ("psra-db", "rentguy-db", "keycloak-db"):
        own_network = {n["name"] for n in live_lab.planned[database]["networksAdvanced"]}
        neighbours = {name for name, inputs in live_lab.planned.items() if own_network & {n["name"] for n in inputs["networksAdvanced"]}}
        assert {target.split(":")[0] for target in reachable.get(database, [])} <= neighbours


def test_http_redirects_to_https(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.traefik_redirects_http(live_lab))


def test_each_host_routes_and_protected_hosts_redirect_to_the_login(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.traefik_routes(live_lab))


def test_forward_auth_ends_at_the_keycloak_login(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.traefik_forward_auth_login(live_lab))


def test_security_headers_on_every_host(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.traefik_security_headers(live_lab))


def test_the_rate_limit_answers_429(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.traefik_rate_limit(live_lab))


def test_traefik_dashboard_and_metrics_are_not_public(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.traefik_internals_not_public(live_lab))


def test_the_plans_keycloak_and_openbao_content_is_applied(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.security_content_applied(live_lab))


def test_stateful_containers_survive_docker_restart_with_their_data(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.restarts_keep_data(live_lab))


def test_certificates_come_from_the_labs_pebble_over_acme(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.certificates_from_acme(live_lab))
