"""The live checks of the lab: what the plan declares, measured on the running engine.

Each check is a function `(LiveLab) -> CheckResult`; the report runs them all, and each
test under `tests/live/` runs one and asserts it passed (with its detail as the message).
Traffic goes only to 127.0.0.1 (Traefik's published ports) and to the lab's own containers.
"""

from __future__ import annotations

import ssl
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import docker
import docker.errors
import httpx

from infra.ops.lab import applier, isolation
from infra.ops.lab.content import unsealed_openbao
from infra.ops.lab.state import LabState

MB = 1024 * 1024
PUBLIC_ADDRESS = "127.0.0.1"
TRAEFIK = "traefik"
TRAEFIK_INTERNAL_PORTS = (8080, 8081, 8082)  # dashboard/API, ping, metrics: never published


@dataclass
class CheckResult:
    name: str
    passed: bool
    detail: str
    data: Any = None


@dataclass
class LiveLab:
    """The running lab beside the plan it was made from."""

    client: docker.DockerClient
    document: Mapping[str, Any]
    lab: str = "lab"
    seconds: dict[str, float] = field(default_factory=dict)

    @cached_property
    def planned(self) -> dict[str, dict[str, Any]]:
        """Container name -> planned inputs, for the containers that run (not the file seeds)."""
        found = {}
        for entry in applier.entries(self.document):
            if entry.type == applier.CONTAINER and entry.inputs.get("start", True) is not False:
                found[entry.inputs["name"]] = entry.inputs
        return found

    @cached_property
    def planned_networks(self) -> dict[str, dict[str, Any]]:
        return {e.inputs["name"]: e.inputs for e in applier.entries(self.document) if e.type == applier.NETWORK}

    def container(self, name: str) -> Any:
        return self.client.containers.get(name)

    def live(self) -> list[isolation.LiveContainer]:
        containers = []
        for name, inputs in sorted(self.planned.items()):
            attrs = self.container(name).attrs
            containers.append(
                isolation.LiveContainer(
                    name=name,
                    pid=attrs["State"]["Pid"],
                    planned_networks=frozenset(n["name"] for n in inputs.get("networksAdvanced", [])),
                    addresses={net: value["IPAddress"] for net, value in attrs["NetworkSettings"]["Networks"].items()},
                )
            )
        return containers

    def routed_hosts(self) -> dict[str, dict[str, Any]]:
        """Host -> {container, forward_auth} from the planned Traefik router labels."""
        hosts: dict[str, dict[str, Any]] = {}
        for name, inputs in self.planned.items():
            labels = {item["label"]: item["value"] for item in inputs.get("labels", [])}
            for key, rule in labels.items():
                if not (key.startswith("traefik.http.routers.") and key.endswith(".rule")) or "PathPrefix(`/oauth2/`)" in rule:
                    continue
                router = key.removesuffix(".rule")
                host = rule.split("Host(`", 1)[1].split("`", 1)[0]
                middlewares = labels.get(f"{router}.middlewares", "")
                hosts.setdefault(host, {"container": name, "forward_auth": "forward-auth" in middlewares, "paths": []})
                if "PathPrefix(`" in rule:
                    hosts[host]["paths"].append(rule.split("PathPrefix(`", 1)[1].split("`", 1)[0])
        return hosts


def _result(name: str, problems: list[str], ok: str, data: Any = None) -> CheckResult:
    return CheckResult(name, not problems, "; ".join(problems[:12]) + (f" (+{len(problems) - 12} more)" if len(problems) > 12 else "") if problems else ok, data)


# -- containers -----------------------------------------------------------------------------
def containers_healthy(lab: LiveLab, patience_seconds: float = 180) -> CheckResult:
    """Every planned container running and healthy; one still starting (a container the plan does not
    wait for, just replaced) is given `patience_seconds`."""
    deadline = time.monotonic() + patience_seconds
    while time.monotonic() < deadline and any(
        (lab.container(name).attrs["State"].get("Health") or {}).get("Status") == "starting" for name in lab.planned if _exists(lab, name)
    ):
        time.sleep(3)
    problems = []
    for name in sorted(lab.planned):
        try:
            state = lab.container(name).attrs["State"]
        except docker.errors.NotFound:
            problems.append(f"{name}: missing")
            continue
        health = (state.get("Health") or {}).get("Status", "no healthcheck")
        if state["Status"] != "running" or health != "healthy":
            problems.append(f"{name}: {state['Status']}/{health}")
    return _result("every container running and healthy", problems, f"{len(lab.planned)} containers running and healthy")


def _exists(lab: LiveLab, name: str) -> bool:
    try:
        lab.container(name)
    except docker.errors.NotFound:
        return False
    return True


def inspect_matches_plan(lab: LiveLab) -> CheckResult:
    """Read-only root, user, capabilities, no-new-privileges, memory, networks and addresses."""
    problems = []
    for name, inputs in sorted(lab.planned.items()):
        attrs = lab.container(name).attrs
        host, config = attrs["HostConfig"], attrs["Config"]
        want_caps = inputs.get("capabilities", {})
        checks = {
            "read-only root": (host["ReadonlyRootfs"], bool(inputs.get("readOnly", False))),
            # no planned user: the image's own (Docker copies it into the container's config)
            "user": (config.get("User", ""), inputs.get("user") or lab.client.images.get(attrs["Image"]).attrs["Config"].get("User", "")),
            "cap drop": (sorted(host.get("CapDrop") or []), sorted(want_caps.get("drops", []))),
            "cap add": (sorted(host.get("CapAdd") or []), sorted(want_caps.get("adds", []))),
            "no-new-privileges": ("no-new-privileges:true" in (host.get("SecurityOpt") or []), "no-new-privileges:true" in inputs.get("securityOpts", [])),
            "memory": (host["Memory"], int(inputs.get("memory", 0)) * MB),
            "swap": (host["MemorySwap"], int(inputs.get("memorySwap", 0)) * MB),
            "privileged": (host["Privileged"], bool(inputs.get("privileged", False))),
        }
        networks = attrs["NetworkSettings"]["Networks"]
        planned_networks = {n["name"]: n for n in inputs.get("networksAdvanced", [])}
        checks["networks"] = (sorted(networks), sorted(planned_networks))
        for net, planned in planned_networks.items():
            if "ipv4Address" in planned and net in networks:
                checks[f"address on {net}"] = (networks[net]["IPAddress"], planned["ipv4Address"])
            if net in networks:
                missing = set(planned.get("aliases", [])) - set(networks[net].get("Aliases") or [])
                checks[f"aliases on {net}"] = (sorted(missing), [])
        problems += [f"{name}: {what} is {got!r}, plan {want!r}" for what, (got, want) in checks.items() if got != want]
    return _result("docker inspect matches the plan", problems, f"{len(lab.planned)} containers: read-only root, user, capabilities, no-new-privileges, memory, networks and addresses as planned")


def networks_match_plan(lab: LiveLab) -> CheckResult:
    problems = []
    for name, inputs in sorted(lab.planned_networks.items()):
        try:
            attrs = lab.client.networks.get(name).attrs
        except docker.errors.NotFound:
            problems.append(f"{name}: missing")
            continue
        live = [{"subnet": c.get("Subnet"), "gateway": c.get("Gateway")} for c in (attrs.get("IPAM") or {}).get("Config") or []]
        planned = [{"subnet": c["subnet"], "gateway": c.get("gateway")} for c in inputs.get("ipamConfigs", [])]
        if live != planned:
            problems.append(f"{name}: IPAM {live}, plan {planned}")
        if attrs["Internal"] != bool(inputs.get("internal", False)):
            problems.append(f"{name}: internal={attrs['Internal']}, plan {inputs.get('internal', False)}")
    return _result("networks: exact subnets and internal flags", problems, f"{len(lab.planned_networks)} networks as planned")


def only_traefik_published(lab: LiveLab) -> CheckResult:
    """Nothing but Traefik publishes a host port, and Traefik only 80/443 on the publish address."""
    problems, seen = [], []
    for container in lab.client.containers.list(filters={"label": f"{applier.LAB_LABEL}={lab.lab}"}):
        for port, bindings in (container.attrs["NetworkSettings"].get("Ports") or {}).items():
            for binding in bindings or []:
                seen.append(f"{container.name} {binding['HostIp']}:{binding['HostPort']}->{port}")
                if container.name != TRAEFIK or port not in ("80/tcp", "443/tcp") or binding["HostIp"] != PUBLIC_ADDRESS:
                    problems.append(f"{container.name} publishes {binding['HostIp']}:{binding['HostPort']} -> {port}")
    return _result("only Traefik is published (80/443 on 127.0.0.1)", problems, ", ".join(sorted(seen)) or "nothing published", seen)


def isolation_matrix(lab: LiveLab) -> CheckResult:
    live = lab.live()
    running = [c for c in live if lab.container(c.name).status == "running" and c.pid > 0]
    matrix = isolation.measure(running)
    problems = [f"{c.name}: not running, not measured" for c in live if c not in running] + list(matrix.unmeasured) + [
        f"{c.source} -> {c.target.container}:{c.target.port} on {c.target.network}: {'open' if c.measured else 'closed'}, plan {'open' if c.expected else 'closed'}"
        for c in matrix.differing
    ]
    opened = sum(c.measured for c in matrix.cells)
    return _result(
        "isolation matrix from each container's network namespace",
        problems,
        f"{len(matrix.cells)} cells tested, {opened} open, {len(matrix.cells) - opened} closed, all as planned",
        matrix.as_json(),
    )


# -- Traefik --------------------------------------------------------------------------------
def https(host: str, path: str = "/", method: str = "GET", **kwargs: Any) -> httpx.Response:
    """A request to Traefik on 127.0.0.1:443 for `host` (SNI and Host header), not following redirects."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # the lab's CA is checked in `traefik_certificates`
    with httpx.Client(verify=context, timeout=10) as client:
        return client.request(method, f"https://{PUBLIC_ADDRESS}{path}", headers={"Host": host}, extensions={"sni_hostname": host}, **kwargs)


def certificates_from_acme(lab: LiveLab) -> CheckResult:
    """Each host's certificate was issued through ACME by the lab's Pebble (not Traefik's default)."""
    import socket

    from cryptography import x509

    problems, issuers = [], {}
    for host in sorted(lab.routed_hosts()):
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
        try:
            with socket.create_connection((PUBLIC_ADDRESS, 443), timeout=10) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
                certificate = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
        except (OSError, ssl.SSLError) as exc:
            problems.append(f"{host}: no certificate served ({exc})")
            continue
        issuer = certificate.issuer.rfc4514_string()
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        issuers[host] = issuer
        if "Pebble" not in issuer or host not in names:
            problems.append(f"{host}: issued by {issuer!r} for {names}")
    return _result("certificates issued through ACME by the lab's Pebble", problems, f"{len(issuers)} hosts: Pebble-issued", issuers)


def traefik_redirects_http(lab: LiveLab) -> CheckResult:
    problems = []
    for host in sorted(lab.routed_hosts()):
        response = httpx.get(f"http://{PUBLIC_ADDRESS}/", headers={"Host": host}, timeout=10)
        location = response.headers.get("location", "")
        if response.status_code not in (301, 302, 307, 308) or not location.startswith(f"https://{host}"):
            problems.append(f"{host}: {response.status_code} -> {location!r}")
    return _result("HTTP redirects to HTTPS", problems, f"{len(lab.routed_hosts())} hosts redirect to https")


def traefik_routes(lab: LiveLab) -> CheckResult:
    """Each public host reaches its service; each protected host without a session goes to the login."""
    problems, seen = [], {}
    for host, route in sorted(lab.routed_hosts().items()):
        path = (route["paths"] or ["/"])[0]
        try:
            response = https(host, path)
        except httpx.TransportError as exc:
            problems.append(f"{host}: {exc}")
            continue
        seen[host] = response.status_code
        if route["forward_auth"]:
            location = response.headers.get("location", "")
            if response.status_code not in (302, 303, 307) or "/oauth2/" not in location and "/realms/" not in location:
                problems.append(f"{host} (protected): {response.status_code} -> {location!r}, expected a redirect to the login")
        elif response.status_code >= 500 or response.status_code == 404:
            problems.append(f"{host}{path}: {response.status_code} (no route to {route['container']})")
    return _result("each host routes; protected hosts redirect to the login", problems, f"{len(seen)} hosts: {seen}", seen)


def traefik_forward_auth_login(lab: LiveLab) -> CheckResult:
    """A protected host without a session ends at Keycloak's login form through oauth2-proxy."""
    protected = sorted(h for h, r in lab.routed_hosts().items() if r["forward_auth"])
    if not protected:
        return CheckResult("forward-auth leads to the Keycloak login", False, "no protected host in the plan")
    host, hops = protected[0], []
    url_host, path = host, "/"
    response = None
    for _ in range(6):
        try:
            response = https(url_host, path)
        except httpx.TransportError as exc:
            hops.append(f"{url_host}{path.split('?')[0]} {exc}")
            response = None
            break
        hops.append(f"{url_host}{path.split('?')[0]} {response.status_code}")
        location = response.headers.get("location")
        if not location:
            break
        target = httpx.URL(location)
        url_host, path = target.host, target.raw_path.decode()
    ok = response is not None and response.status_code == 200 and "kc-form-login" in response.text
    return _result("forward-auth leads to the Keycloak login", [] if ok else [" -> ".join(hops)], " -> ".join(hops), hops)


def traefik_security_headers(lab: LiveLab) -> CheckResult:
    wanted = {"strict-transport-security": "max-age=", "x-content-type-options": "nosniff", "x-frame-options": "SAMEORIGIN", "referrer-policy": "strict-origin"}
    problems = []
    for host, route in sorted(lab.routed_hosts().items()):
        try:
            response = https(host, (route["paths"] or ["/"])[0])
        except httpx.TransportError as exc:
            problems.append(f"{host}: {exc}")
            continue
        problems += [f"{host}: {header} missing or wrong ({response.headers.get(header)!r})" for header, value in wanted.items() if value not in response.headers.get(header, "")]
    return _result("security headers on every host", problems, f"{', '.join(wanted)} on {len(lab.routed_hosts())} hosts")


def traefik_rate_limit(lab: LiveLab) -> CheckResult:
    """More requests in a second than average+burst, sent concurrently: some answer 429."""
    from concurrent.futures import ThreadPoolExecutor

    public = [(h, (r["paths"] or ["/"])[0]) for h, r in sorted(lab.routed_hosts().items()) if not r["forward_auth"]]
    if not public:
        return CheckResult("rate limit answers 429", False, "no public host in the plan to send requests to")
    host, path = public[0]
    for candidate, candidate_path in public:
        try:
            https(candidate, candidate_path)
            host, path = candidate, candidate_path
            break
        except httpx.TransportError:
            continue
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    statuses: dict[int, int] = {}
    with httpx.Client(verify=context, timeout=10, limits=httpx.Limits(max_connections=40)) as client:

        def one(_: int) -> int:
            return client.get(f"https://{PUBLIC_ADDRESS}{path}", headers={"Host": host}, extensions={"sni_hostname": host}).status_code

        with ThreadPoolExecutor(max_workers=40) as pool:
            for code in pool.map(one, range(600)):
                statuses[code] = statuses.get(code, 0) + 1
    return _result("rate limit answers 429", [] if 429 in statuses else [f"{host}{path}: no 429 in {statuses}"], f"{host}{path}: {statuses}", statuses)


def traefik_internals_not_public(lab: LiveLab) -> CheckResult:
    """Dashboard/API, ping and /metrics answer on no public address, by no host name."""
    problems = []
    for port in TRAEFIK_INTERNAL_PORTS:
        try:
            httpx.get(f"http://{PUBLIC_ADDRESS}:{port}/metrics", timeout=3)
            problems.append(f"127.0.0.1:{port} answers")
        except httpx.TransportError:
            pass
    for host in sorted(lab.routed_hosts()):
        for path in ("/metrics", "/dashboard/", "/api/rawdata", "/ping"):
            try:
                response = https(host, path)
            except httpx.TransportError:
                continue  # refused before any path is served (no certificate for the name yet)
            if response.status_code == 200 and ("traefik" in response.text.lower() and path != "/metrics" or "traefik_" in response.text):
                problems.append(f"{host}{path} serves Traefik's {path}")
    return _result("Traefik dashboard, API and /metrics not reachable from outside", problems, "ports 8080-8082 closed on 127.0.0.1; no host serves them")


def security_content_applied(lab: LiveLab) -> CheckResult:
    """The plan's Keycloak and OpenBao content, as planned now, is on the lab's servers."""
    from infra.ops.lab.content import KEYCLOAK, OPENBAO, family_digest

    state = LabState(lab.lab).load()
    problems = [
        f"{family} content of this plan not applied"
        for family, key in ((KEYCLOAK, "keycloak_digest"), (OPENBAO, "openbao_digest"))
        if state.get(key) != family_digest(lab.document, family)
    ]
    return _result("Keycloak and OpenBao content of the plan applied", problems, "keycloak and vault content applied on the lab's servers")


# -- restarts and faults --------------------------------------------------------------------
TRANSIENT = ("postmaster.pid", "postmaster.opts", "pg_internal.init", ".lock", ".pid", "pg_stat_tmp/", "pg_wal/", "pg_subtrans/", "pg_logical/", "pg_xact/", "pg_multixact/", "pg_notify/")


def data_volumes(inputs: Mapping[str, Any]) -> list[str]:
    """The writable named volumes of a container (its data; the file volumes are read-only)."""
    return [m["source"] for m in inputs.get("mounts", []) if m.get("type") == "volume" and not m.get("readOnly")]


def manifest(lab: LiveLab, volume: str) -> set[str]:
    """Files of a volume (host side), without the ones a server rewrites on every start."""
    root = lab.client.volumes.get(volume).attrs["Mountpoint"]
    import os

    found = set()
    for directory, _, files in os.walk(root):
        for name in files:
            relative = os.path.relpath(os.path.join(directory, name), root)
            if not any(marker in relative for marker in TRANSIENT):
                found.add(relative)
    return found


def restarts_keep_data(lab: LiveLab) -> CheckResult:
    """Each stateful container survives `docker restart`: healthy again, every data file still there."""
    problems, restarted = [], []
    for name, inputs in sorted(lab.planned.items()):
        volumes = data_volumes(inputs)
        if not volumes:
            continue
        if (lab.container(name).attrs["State"].get("Health") or {}).get("Status") != "healthy":
            problems.append(f"{name}: not healthy before the restart; not restarted")
            continue
        before = {volume: manifest(lab, volume) for volume in volumes}
        lab.container(name).restart(timeout=30)
        try:
            applier.Applier(lab.client, lab.lab, {}).wait_healthy(name, int(inputs.get("waitTimeout", 300)))
            if name == OPENBAO:  # sealed by the restart, by design: the operator's unseal step
                unsealed_openbao(lab.client, LabState(lab.lab), lambda message: None)
        except applier.LabApplyError as exc:
            problems.append(f"{name}: not healthy after restart: {str(exc)[:300]}")
            continue
        for volume, files in before.items():
            missing = files - manifest(lab, volume)
            if missing:
                problems.append(f"{name}: {len(missing)} files of {volume} gone after restart, e.g. {sorted(missing)[:3]}")
        restarted.append(f"{name} ({sum(len(f) for f in before.values())} files)")
    return _result("stateful containers survive docker restart with their data", problems, "restarted: " + ", ".join(restarted), restarted)


# -- the seed's flow, monitoring and faults -------------------------------------------------
ORIGIN_APP, ORIGIN_DB = "psra-api", "psra-db"
PROMETHEUS, ALERTMANAGER, OPENBAO = "prometheus", "alertmanager", "openbao"
ALERT_WAIT_SECONDS = 420  # TargetDown fires after 5 min down (the seed's number), scraped every 30 s


def issuer_trust(lab: LiveLab) -> ssl.SSLContext:
    """TLS trust in the lab's ACME root, as the plan gives it to OpenBao (`oidcDiscoveryCaPem`)."""
    backend = next(e for e in applier.entries(lab.document) if e.type == "vault:jwt/authBackend:AuthBackend")
    return ssl.create_default_context(cadata=backend.inputs["oidcDiscoveryCaPem"])


def end_to_end_flow(lab: LiveLab) -> CheckResult:
    """The seed's request flow: login (code + PKCE, OTP where asked), POST and GET through Traefik,
    the certificate in PostgreSQL and Redis, another tenant refused, the web front end behind forward-auth."""
    from infra.ops.lab import flow
    from infra.ops.oidc_login import LoginFailed

    try:
        result = flow.run(lab.client, lab.document, LabState(lab.lab), issuer_trust(lab))
    except (flow.FlowFailed, LoginFailed, httpx.HTTPError) as error:
        return CheckResult("the seed's end-to-end flow", False, f"{type(error).__name__}: {str(error)[:400]}")
    return CheckResult("the seed's end-to-end flow", True, "; ".join(result.steps), result.steps)


def in_container(lab: LiveLab, name: str, url: str) -> str:
    """GET `url` from inside container `name` (busybox wget): the monitoring APIs are on internal networks."""
    code, output = lab.container(name).exec_run(["wget", "-qO-", url])
    if code != 0:
        raise RuntimeError(f"wget {url} in {name} failed (exit {code})")
    return output.decode()


def prometheus_targets_up(lab: LiveLab) -> CheckResult:
    """Every declared scrape target answers: `up == 1` for each. Read from the targets Prometheus scrapes
    now, not from a query of `up`: a target dropped by a config change (a port that moved) keeps its
    last `up` sample visible for five minutes after a restart."""
    import json

    deadline, problems, targets = time.monotonic() + 90, ["no answer"], {}
    while time.monotonic() < deadline:
        active = json.loads(in_container(lab, PROMETHEUS, "http://127.0.0.1:9090/api/v1/targets?state=active"))["data"]["activeTargets"]
        targets = {f"{t['labels']['job']}/{t['labels']['instance']}": "1" if t["health"] == "up" else "0" for t in active}
        problems = [f"{target}: up={value}" for target, value in sorted(targets.items()) if value != "1"]
        if targets and not problems:
            break
        time.sleep(10)
    return _result("Prometheus scrapes every declared target (up == 1)", problems, f"{len(targets)} targets up: {', '.join(sorted(targets))}", targets)


def firing(lab: LiveLab) -> set[str]:
    import json

    alerts = json.loads(in_container(lab, ALERTMANAGER, "http://127.0.0.1:9093/api/v2/alerts?active=true"))
    return {f"{a['labels']['alertname']}:{a['labels'].get('job', '')}" for a in alerts}


def alert_fires_when_a_service_stops(lab: LiveLab) -> CheckResult:
    """Stop a scraped service: Alertmanager gets `TargetDown` for its job; the service comes back."""
    import json

    result = json.loads(in_container(lab, PROMETHEUS, "http://127.0.0.1:9090/api/v1/query?query=up"))["data"]["result"]
    jobs = {r["metric"]["job"]: r["metric"]["instance"].split(":")[0] for r in result}
    # a service nothing else needs meanwhile; never the alerting pipeline itself
    candidates = [(j, host) for j, host in sorted(jobs.items()) if host in lab.planned and host not in (PROMETHEUS, ALERTMANAGER, TRAEFIK)]
    if not candidates:
        return CheckResult("an alert fires when a service stops", False, f"no scraped service to stop among {sorted(jobs)}")
    job, victim = candidates[0]
    watchdog = any(name.startswith("Watchdog:") for name in firing(lab))
    lab.container(victim).stop(timeout=10)
    try:
        deadline, fired, delivered = time.monotonic() + ALERT_WAIT_SECONDS, False, False
        while time.monotonic() < deadline and not delivered:
            time.sleep(15)
            rules = json.loads(in_container(lab, PROMETHEUS, "http://127.0.0.1:9090/api/v1/alerts"))["data"]["alerts"]
            fired = any(a["labels"]["alertname"] == "TargetDown" and a["labels"].get("job") == job and a["state"] == "firing" for a in rules)
            delivered = fired and f"TargetDown:{job}" in firing(lab)
    finally:
        lab.container(victim).start()
        applier.Applier(lab.client, lab.lab, {}).wait_healthy(victim, 300)
    problems = [f"TargetDown for {job} not firing within {ALERT_WAIT_SECONDS} s"] if not fired else []
    problems += ([] if delivered or not fired else [f"TargetDown for {job} fired but is not in Alertmanager"]) + ([] if watchdog else ["Watchdog not in Alertmanager"])
    detail = f"stopped {victim}: TargetDown[{job}] firing in Prometheus and delivered to Alertmanager; Watchdog in Alertmanager"
    return _result("an alert fires when a service stops", problems, detail)


def origin_ready(lab: LiveLab) -> int:
    api = next(host for host, route in lab.routed_hosts().items() if route["container"] == ORIGIN_APP and not route["forward_auth"])
    return https(api, "/readyz").status_code


def database_outage_answers_503(lab: LiveLab) -> CheckResult:
    """PostgreSQL stopped: the origin app's /readyz answers 503 (not 500); back: 200 again."""
    problems, seen = [], []
    before = origin_ready(lab)
    seen.append(f"before {before}")
    lab.container(ORIGIN_DB).stop(timeout=30)
    try:
        during = origin_ready(lab)
        seen.append(f"PostgreSQL stopped {during}")
        if during != 503:
            problems.append(f"/readyz answered {during} with PostgreSQL stopped, not 503")
    finally:
        lab.container(ORIGIN_DB).start()
        applier.Applier(lab.client, lab.lab, {}).wait_healthy(ORIGIN_DB, 300)
    deadline, after = time.monotonic() + 60, 0
    while time.monotonic() < deadline and after != 200:
        after = origin_ready(lab)
        time.sleep(2)
    seen.append(f"PostgreSQL back {after}")
    if before != 200 or after != 200:
        problems.append(f"/readyz {before} before, {after} after PostgreSQL came back (200 expected)")
    return _result("PostgreSQL outage: /readyz 503, then recovers", problems, ", ".join(seen))


def app_restarts_after_kill(lab: LiveLab) -> CheckResult:
    """The origin app's process killed: its restart policy brings it back healthy, and the flow works again.

    The process is killed from the host, as a crash would end it: `docker kill` counts as a manual
    stop, which restart policies leave alone."""
    import os
    import signal

    container = lab.container(ORIGIN_APP)
    restarts = container.attrs["RestartCount"]
    os.kill(container.attrs["State"]["Pid"], signal.SIGKILL)
    time.sleep(2)
    try:
        applier.Applier(lab.client, lab.lab, {}).wait_healthy(ORIGIN_APP, 300)
    except applier.LabApplyError as error:
        return CheckResult("the origin app restarts after a kill", False, str(error)[:400])
    after = lab.container(ORIGIN_APP).attrs["RestartCount"]
    flow = end_to_end_flow(lab)
    problems = ([] if after > restarts else [f"restart count {restarts} -> {after}: not restarted by its policy"]) + ([] if flow.passed else [f"flow after restart: {flow.detail}"])
    return _result("the origin app restarts after a kill", problems, f"killed; restarted by its policy (restarts {restarts} -> {after}), healthy, flow works again")


BACKUP, BACKUP_CONFIG = "backup", "/etc/backup/backup.json"


def backup_and_restore_drill(lab: LiveLab) -> CheckResult:
    """The backup container backs up the lab's databases (restic, encrypted), then its drill restores
    each into a throw-away database and compares the rows with what was backed up."""
    import json

    container = lab.container(BACKUP)
    outcomes, problems = {}, []
    for job in ("backup", "drill"):
        code, output = container.exec_run(["python3", "-m", "platform_backup", "run", "--job", job, "--config", BACKUP_CONFIG])
        if code != 0:
            problems.append(f"{job} failed (exit {code}): {output.decode()[-600:]}")
            break
    state_dir = json.loads(container.exec_run(["cat", BACKUP_CONFIG]).output)["state_dir"]
    state = json.loads(container.exec_run(["cat", f"{state_dir}/state.json"]).output or b"{}")
    for job in ("backup", "drill"):
        result = state.get(job, {})
        outcomes[job] = {"seconds": result.get("seconds"), "datasets": {k: v.get("rows", v.get("success")) for k, v in result.get("datasets", {}).items()}}
    drilled = outcomes["drill"]["datasets"]
    if not problems and not drilled:
        problems.append("the drill restored no database")
    detail = f"backup {outcomes['backup']['seconds']} s, drill {outcomes['drill']['seconds']} s: " + ", ".join(f"{name} {rows} rows" for name, rows in sorted(drilled.items()))
    return _result("backup of the lab's databases, restore drill identical", problems, detail, outcomes)


LIVE_CHECKS: tuple[Callable[[LiveLab], CheckResult], ...] = (
    containers_healthy,
    security_content_applied,
    inspect_matches_plan,
    networks_match_plan,
    only_traefik_published,
    isolation_matrix,
    certificates_from_acme,
    traefik_redirects_http,
    traefik_routes,
    traefik_forward_auth_login,
    traefik_security_headers,
    traefik_rate_limit,
    traefik_internals_not_public,
    end_to_end_flow,
    prometheus_targets_up,
    database_outage_answers_503,
    app_restarts_after_kill,
    backup_and_restore_drill,
    restarts_keep_data,
    alert_fires_when_a_service_stops,
)


def run_all(lab: LiveLab, progress: Callable[[str], None] = lambda message: None) -> list[CheckResult]:
    results = []
    for check in LIVE_CHECKS:
        progress(f"check: {check.__name__}")
        started = time.monotonic()
        try:
            result = check(lab)
        except Exception as exc:  # a check that cannot run is a failed check, named, with where it stopped
            where = traceback.extract_tb(exc.__traceback__)[-1]
            result = CheckResult(check.__name__, False, f"could not run: {type(exc).__name__}: {exc} ({Path(where.filename).name}:{where.lineno})")
        lab.seconds[check.__name__] = time.monotonic() - started
        results.append(result)
    return results
