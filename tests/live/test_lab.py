"""The lab stack on the engine: each live check of issue 11 as a test (`make lab`'s report runs the same checks)."""

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
    again = lab.up(lab.DEFAULT_STACK, engine=False, build=False)
    assert (again.applied.created, again.applied.replaced, again.applied.removed) == ([], [], [])


def test_every_container_is_running_and_healthy(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.containers_healthy(live_lab))


def test_the_plans_keycloak_and_openbao_content_is_applied(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.security_content_applied(live_lab))


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


def test_certificates_are_issued_through_acme_by_pebble(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.certificates_from_acme(live_lab))


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


def test_the_seeds_end_to_end_flow(live_lab: checks.LiveLab) -> None:
    result = checks.end_to_end_flow(live_lab)
    assert_passed(result)
    assert any("403" in step for step in result.data) and any("psra-db" in step for step in result.data)


def test_lab_users_are_kept_only_in_the_root_only_state_file(live_lab: checks.LiveLab) -> None:
    from infra.ops.lab.flow import USERS_KEY
    from infra.ops.lab.state import LabState

    state = LabState(lab.DEFAULT_STACK)
    assert set(state.load()[USERS_KEY]) == {"lab-psra-user", "lab-psra-admin", "lab-rentguy-admin"}
    assert state.secrets_file.stat().st_mode & 0o777 == 0o600


def test_prometheus_scrapes_every_declared_target(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.prometheus_targets_up(live_lab))


def test_a_postgresql_outage_answers_503_and_recovers(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.database_outage_answers_503(live_lab))


def test_the_origin_app_restarts_after_its_process_is_killed(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.app_restarts_after_kill(live_lab))


def test_backup_of_the_lab_databases_and_restore_drill(live_lab: checks.LiveLab) -> None:
    result = checks.backup_and_restore_drill(live_lab)
    assert_passed(result)
    assert result.data["drill"]["datasets"]["psra-db.psra_production"] > 0  # the flow stored certificates


def test_stateful_containers_survive_a_restart_with_their_data(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.restarts_keep_data(live_lab))


def test_an_alert_fires_when_a_scraped_service_stops(live_lab: checks.LiveLab) -> None:
    assert_passed(checks.alert_fires_when_a_service_stops(live_lab))
