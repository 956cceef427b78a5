"""Monitoring rules (MON-*): the alerts an operator needs exist, and the UIs are not open.

Alert rules are read from Prometheus's uploaded rule files (`groups: [{rules: […]}]`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from infra.audit.model import Rule, Severity, rules_on
from infra.audit.operations import role_or_missing, when_present, yaml_documents
from infra.audit.resources import MONITORING_UI_ROLES, Container, Resources
from infra.audit.traefik_config import TraefikConfig

TARGET_DOWN = re.compile(r"\bup\b\s*(\{[^}]*\})?\s*==\s*0")
UNHEALTHY = re.compile(r"health", re.I)
CERT_EXPIRY = re.compile(r"probe_ssl_earliest_cert_expiry|traefik_tls_certs_not_after|cert\w*expir", re.I)
BACKUP_AGE = re.compile(r"backup", re.I)
WATCHDOG = re.compile(r"^\s*vector\(\s*1\s*\)\s*$")


def alerts(r: Resources, prometheus: Container) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for document in yaml_documents(r, prometheus):
        groups = document.get("groups") if isinstance(document, dict) else None
        for group in groups or []:
            for rule in (group or {}).get("rules") or []:
                if isinstance(rule, dict) and "alert" in rule:
                    found.append(rule)
    return found


def _expr(rule: dict[str, Any]) -> str:
    return str(rule.get("expr", ""))


def _requires(*wanted: tuple[str, Callable[[dict[str, Any]], bool]]) -> Callable[[Container, Resources], Iterator[str]]:
    """A check that Prometheus declares, for each (description, predicate), a matching alert."""

    def check(prometheus: Container, r: Resources) -> Iterator[str]:
        declared = alerts(r, prometheus)
        for description, predicate in wanted:
            if not any(predicate(rule) for rule in declared):
                yield f"Prometheus {prometheus.name} has no alert {description}"

    return check


def _ui_closed(_: Container, r: Resources) -> Iterator[str]:
    traefik = r.view(TraefikConfig)
    for ui in r.with_role(*MONITORING_UI_ROLES):
        if ui.ports:
            yield f"{ui.role} {ui.name} publishes host ports"
        for router in traefik.routers:
            if router.urn == ui.urn and not traefik.has(router, "forwardauth"):
                yield f"router {router.name} serves {ui.role} without forward-auth"


prometheus_rule = rules_on(role_or_missing("prometheus", "Prometheus", lambda r: bool(r.containers)))

RULES: tuple[Rule, ...] = (
    prometheus_rule(
        "MON-01",
        Severity.MEDIUM,
        "alert on down targets and unhealthy containers",
        "add alerts `up == 0` with a `for:` and one on container health; unit-test them with promtool",
        "kube-prometheus alerts",
        when_present(
            _requires(
                ("on down targets (up == 0 with for:)", lambda a: bool(TARGET_DOWN.search(_expr(a))) and bool(a.get("for"))),
                ("on unhealthy containers", lambda a: bool(UNHEALTHY.search(_expr(a)))),
            )
        ),
    ),
    prometheus_rule(
        "MON-02",
        Severity.MEDIUM,
        "alert on certificate expiry (< 14 days)",
        "alert on probe_ssl_earliest_cert_expiry (or traefik_tls_certs_not_after) - time() < 14 days",
        "blackbox / Traefik metrics",
        when_present(_requires(("on certificate expiry", lambda a: bool(CERT_EXPIRY.search(_expr(a)))))),
    ),
    prometheus_rule(
        "MON-03",
        Severity.MEDIUM,
        "alert when backups are stale (> 26 h)",
        "alert when time() - <last successful backup timestamp> > 26h",
        "—",
        when_present(_requires(("on stale backups", lambda a: bool(BACKUP_AGE.search(_expr(a))) and "time()" in _expr(a)))),
    ),
    prometheus_rule(
        "MON-04",
        Severity.LOW,
        "watchdog alert; monitoring UIs behind forward-auth, no published ports",
        "add a Watchdog alert (expr vector(1)); route Grafana/Prometheus/Alertmanager only through forward-auth",
        "Prometheus docs",
        when_present(
            lambda p, r: [*_requires(("Watchdog (vector(1))", lambda a: bool(WATCHDOG.match(_expr(a)))))(p, r), *_ui_closed(p, r)]
        ),
    ),
)
