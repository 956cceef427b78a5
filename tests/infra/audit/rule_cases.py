"""One case per audit rule: how to break the compliant platform so the rule must fire (and
which resource it must name), and a near miss the rule must accept.

Rules are data; so are their tests (KICS-style positive and negative samples).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.infra.audit.crafted import (
    DOMAIN,
    container,
    entry,
    envelope,
    router,
    set_label,
    upload,
)

Document = dict[str, Any]


@dataclass(frozen=True)
class Case:
    fire: Callable[[Document], str]  # breaks the document, returns the URN the finding must name
    near_miss: Callable[[Document], None]  # a variant the rule must not report


def _inputs(document: Document, name: str) -> tuple[dict[str, Any], str]:
    resource = container(document, name)
    return resource["inputs"], resource["urn"]


def _edit(name: str, **changes: Any) -> Callable[[Document], str]:
    """Set (or, with None, drop) inputs of one container."""

    def apply(document: Document) -> str:
        inputs, urn = _inputs(document, name)
        for key, value in changes.items():
            if value is None:
                inputs.pop(key, None)
            else:
                inputs[key] = value
        return urn

    return apply


def _quiet(edit: Callable[[Document], str]) -> Callable[[Document], None]:
    """A near miss: the same kind of edit, within what the rule allows."""

    def apply(document: Document) -> None:
        edit(document)

    return apply


def _env(name: str, *entries: Any, drop: str | None = None) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        inputs, urn = _inputs(document, name)
        envs = [e for e in inputs.get("envs", []) if not (drop and isinstance(e, str) and e.startswith(drop + "="))]
        inputs["envs"] = [*envs, *entries]
        return urn

    return apply


def _file(name: str, path: str, old: str, new: str) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        resource = container(document, name)
        item = upload(resource, path)
        assert old in item["content"], f"{old!r} not in {path}"
        item["content"] = item["content"].replace(old, new)
        return resource["urn"]

    return apply


def _label(name: str, key: str, value: Any) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        resource = container(document, name)
        set_label(resource, key, value)
        return resource["urn"]

    return apply


def _then(edit: Callable[[Document], str], name: str, type_suffix: str = "container:Container") -> Callable[[Document], str]:
    """Apply `edit`; the finding must name another resource (the router a shared middleware
    serves, the realm whose required action was turned off)."""

    def apply(document: Document) -> str:
        edit(document)
        return entry(document, type_suffix, f"{name}-container" if type_suffix == "container:Container" else name)["urn"]

    return apply


def _labels(name: str, values: dict[str, str]) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        for key, value in values.items():
            _label(name, key, value)(document)
        return container(document, name)["urn"]

    return apply


def _content(name: str, path: str, content: str) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        resource = container(document, name)
        upload(resource, path)["content"] = content
        return resource["urn"]

    return apply


def _append_upload(name: str, path: str, content: str) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        resource = container(document, name)
        resource["inputs"]["uploads"].append({"file": path, "content": content})
        return resource["urn"]

    return apply


def _resource(type_suffix: str, resource_name: str, /, **changes: Any) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        resource = entry(document, type_suffix, resource_name)
        for key, value in changes.items():
            if value is None:
                resource["inputs"].pop(key, None)
            else:
                resource["inputs"][key] = value
        return resource["urn"]

    return apply


def _add_resource(type_: str, name: str, inputs: dict[str, Any]) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        stack = document["deployment"]["resources"][0]["urn"]
        urn = f"urn:pulumi:crafted::sevensa-platform::{type_}::{name}"
        document["deployment"]["resources"].append(
            {"urn": urn, "type": type_, "custom": True, "inputs": inputs, "outputs": inputs, "parent": stack, "dependencies": []}
        )
        return urn

    return apply


TRAEFIK_STATIC = "/etc/traefik/traefik.yml"
TRAEFIK_DYNAMIC = "/etc/traefik/dynamic/platform.yml"
OPENBAO_HCL = "/openbao/config/openbao.hcl"
ALERTS = "/etc/prometheus/rules/platform.yml"
CRONTAB = "/etc/crontabs/backup"
POLICY = "policy:Policy"
CLIENT = "client:Client"
REALM = "realm:Realm"
APPROLE = "authBackendRole:AuthBackendRole"


def _grant(policy: str, namespaces: tuple[str, ...] = ()) -> Callable[[Document], str]:
    """psra-role's policy becomes `policy`, with more tenants (OpenBao namespaces) declared; names the AppRole."""

    def apply(document: Document) -> str:
        for namespace in namespaces:
            _add_resource("vault:index/namespace:Namespace", f"ns-{namespace}", {"path": namespace})(document)
        _resource(POLICY, "psra-role-policy", policy=policy)(document)
        return entry(document, APPROLE, "psra-role")["urn"]

    return apply


def _operator_policy(policy: str) -> Callable[[Document], str]:
    return _add_resource("vault:index/policy:Policy", "admin-policy", {"name": "admin", "policy": policy})


def _inputs_as(value: Any) -> Callable[[Document], str]:
    def apply(document: Document) -> str:
        resource = container(document, "psra-frontend")
        resource["inputs"] = value
        return resource["urn"]

    return apply


CASES: dict[str, Case] = {
    "CR-01": Case(_edit("psra-frontend", privileged=True), _quiet(_edit("psra-frontend", privileged=False))),
    "CR-02": Case(
        _edit("psra-frontend", capabilities={"drops": ["NET_RAW"], "adds": ["SYS_ADMIN"]}),
        _quiet(_edit("psra-frontend", capabilities={"drops": ["ALL"], "adds": ["NET_BIND_SERVICE"]})),
    ),
    "CR-03": Case(_edit("psra-frontend", securityOpts=None), _quiet(_edit("psra-frontend", securityOpts=["no-new-privileges=true"]))),
    "CR-04": Case(_edit("psra-frontend", readOnly=False), _quiet(_edit("keycloak", readOnly=False))),
    "CR-05": Case(_edit("psra-frontend", user="0:0"), _quiet(_edit("prometheus", user=None))),
    "CR-06": Case(_edit("psra-frontend", memory=None), _quiet(_edit("psra-frontend", cpus=None, cpuShares=512))),
    "CR-08": Case(_edit("psra-frontend", restart="always"), _quiet(_edit("psra-frontend", restart="on-failure", maxRetryCount=3))),
    "CR-09": Case(
        _edit("psra-frontend", healthcheck=None),
        _quiet(_edit("psra-frontend", healthcheck={"tests": ["CMD-SHELL", "wget -q -O- localhost:3000"]}, wait="true")),
    ),
    "CR-10": Case(
        _resource("remoteImage:RemoteImage", "psra-frontend-image", name="ghcr.io/sevensa/psra-frontend:latest"),
        _quiet(_resource("remoteImage:RemoteImage", "psra-frontend-image", name="ghcr.io/sevensa/psra-frontend@sha256:" + "a" * 64)),
    ),
    "CR-11": Case(
        _edit(
            "psra-frontend", mounts=[{"type": "bind", "source": "/var/run/docker.sock", "target": "/var/run/docker.sock", "readOnly": True}]
        ),
        _quiet(_edit("psra-frontend", mounts=[{"type": "volume", "source": "docker.sock", "target": "/data"}])),
    ),
    "CR-12": Case(
        _edit("psra-frontend", mounts=[{"type": "bind", "source": "/etc", "target": "/host-etc"}]),
        _quiet(_edit("psra-frontend", mounts=[{"type": "bind", "source": "/etc/localtime", "target": "/etc/localtime", "readOnly": True}])),
    ),
    "CR-13": Case(_edit("psra-frontend", pidMode="host"), _quiet(_edit("psra-frontend", pidMode="container:psra-api"))),
    "CR-14": Case(
        _edit("psra-frontend", mounts=[{"type": "bind", "source": "/run/containerd/containerd.sock", "target": "/run/containerd.sock"}]),
        _quiet(_edit("psra-frontend", mounts=[{"type": "tmpfs", "target": "/run"}])),
    ),
    "NW-01": Case(
        _edit("psra-db", ports=[{"internal": 5432.0, "external": 5432.0}]),
        _quiet(_edit("traefik", ports=[{"internal": 8443.0, "external": 443.0}], publishAllPorts=False)),
    ),
    "NW-02": Case(
        _edit("psra-db", ports=[{"internal": 5432.0, "external": 5432.0, "ip": "0.0.0.0"}]),
        _quiet(_edit("psra-db", ports=[{"internal": 5432.0, "external": 5432.0, "ip": "127.0.0.1"}])),
    ),
    "NW-03": Case(
        _edit("psra-db", networksAdvanced=[{"name": "psra-db-net"}, {"name": "egress-net"}]),
        _quiet(_edit("psra-db", networksAdvanced=[{"name": "psra-db-net"}, {"name": "shared-net"}])),
    ),
    "NW-05": Case(_env("socket-proxy", "POST=1", drop="POST"), _quiet(_env("socket-proxy", "POST=0", drop="POST"))),
    "HOST-02": Case(
        _resource("providers:docker", "docker", host="tcp://10.0.0.5:2375"),
        _quiet(_resource("providers:docker", "docker", host="unix:///var/run/docker.sock")),
    ),
    "TLS-01": Case(
        _file("traefik", TRAEFIK_DYNAMIC, "VersionTLS12", "VersionTLS11"),
        _quiet(_file("traefik", TRAEFIK_DYNAMIC, "VersionTLS12", "VersionTLS13")),
    ),
    "TLS-02": Case(
        _file("traefik", TRAEFIK_STATIC, "entryPoint: {to: websecure, scheme: https, permanent: true}", "entryPoint: {}"),
        _quiet(_file("traefik", TRAEFIK_STATIC, "entryPoint: {to: websecure, scheme: https, permanent: true}", "entryPoint: {to: websecure}")),
    ),
    "TLS-03": Case(
        _then(_file("traefik", TRAEFIK_DYNAMIC, "stsSeconds: 63072000", "stsSeconds: 3600"), "psra-frontend"),
        _quiet(_file("traefik", TRAEFIK_DYNAMIC, "stsSeconds: 63072000", "stsSeconds: 31536000")),
    ),
    "TLS-04": Case(
        _label("psra-frontend", "traefik.http.routers.psra-frontend.entrypoints", "web,websecure"),
        _quiet(_label("psra-frontend", "traefik.http.routers.psra-frontend.tls", "True")),
    ),
    "TR-01": Case(
        _file("traefik", TRAEFIK_STATIC, "exposedByDefault: false", "exposedByDefault: true"),
        _quiet(_file("traefik", TRAEFIK_STATIC, "exposedByDefault: false", 'exposedByDefault: "false"')),
    ),
    "TR-02": Case(
        _file("traefik", TRAEFIK_STATIC, "insecure: false", "insecure: true"),
        _quiet(
            _labels(
                "traefik",
                {
                    **router("dashboard", f"traefik.{DOMAIN}", 8080, "protected@file"),
                    "traefik.http.routers.dashboard.service": "api@internal",
                },
            )
        ),
    ),
    "TR-03": Case(
        _then(_file("traefik", TRAEFIK_DYNAMIC, "contentTypeNosniff: true, ", ""), "psra-frontend"),
        _quiet(_file("traefik", TRAEFIK_DYNAMIC, "frameDeny: true", "customFrameOptionsValue: SAMEORIGIN")),
    ),
    "TR-04": Case(
        _label("keycloak", "traefik.http.routers.keycloak.middlewares", "security-headers@file"),
        _quiet(_label("keycloak", "traefik.http.routers.keycloak.middlewares", "rate-limit@file,security-headers@file")),
    ),
    "TR-05": Case(
        _label("psra-frontend", "traefik.http.routers.psra-frontend.middlewares", "security-headers@file"),
        _quiet(
            _labels(
                "psra-frontend",
                {
                    "traefik.http.routers.psra-frontend.middlewares": "security-headers@file,rate-limit@file",
                    "traefik.http.routers.psra-frontend.rule": f"Host(`api.psra.{DOMAIN}`)",
                },
            )
        ),
    ),
    "KC-01": Case(
        _resource(REALM, "realm", securityDefenses=None),
        _quiet(_resource(REALM, "realm", securityDefenses={"bruteForceDetection": {"maxLoginFailures": 10.0}})),
    ),
    "KC-02": Case(
        _resource(REALM, "realm", passwordPolicy="length(8) and notUsername"),
        _quiet(
            _resource(
                REALM, "realm", passwordPolicy="upperCase(1) and length(16) and notUsername(undefined) and notEmail and passwordHistory(3)"
            )
        ),
    ),
    "KC-03": Case(_resource(REALM, "realm", accessTokenLifespan="1h"), _quiet(_resource(REALM, "realm", accessTokenLifespan="2m"))),
    "KC-04": Case(
        _resource(CLIENT, "psra-client", validRedirectUris=[f"https://psra.{DOMAIN}/*"]),
        _quiet(
            _resource(
                CLIENT, "psra-client", validRedirectUris=[f"https://psra.{DOMAIN}/cb", f"https://psra.{DOMAIN}/api/auth/callback/keycloak"]
            )
        ),
    ),
    "KC-05": Case(
        _resource(CLIENT, "psra-client", accessType="PUBLIC"), _quiet(_resource(CLIENT, "psra-client", accessType="BEARER-ONLY"))
    ),
    "KC-06": Case(
        _resource(CLIENT, "psra-client", pkceCodeChallengeMethod="plain"),
        _quiet(_resource(CLIENT, "psra-client", standardFlowEnabled=False, pkceCodeChallengeMethod=None)),
    ),
    "KC-07": Case(
        _resource(CLIENT, "psra-client", directAccessGrantsEnabled=True),
        _quiet(_resource(CLIENT, "psra-client", directAccessGrantsEnabled=False, implicitFlowEnabled=False)),
    ),
    "KC-08": Case(
        _label("keycloak", "traefik.http.routers.keycloak.rule", f"Host(`auth.{DOMAIN}`)"),
        _quiet(_label("keycloak", "traefik.http.routers.keycloak.rule", f"Host(`auth.{DOMAIN}`) && PathPrefix(`/realms/sevensa/`)")),
    ),
    "KC-09": Case(
        _env("keycloak", drop="KC_PROXY_HEADERS"), _quiet(_env("keycloak", "KC_PROXY_HEADERS=forwarded", drop="KC_PROXY_HEADERS"))
    ),
    "KC-10": Case(_resource(REALM, "realm", sslRequired="none"), _quiet(_resource(REALM, "realm", sslRequired="all"))),
    "KC-11": Case(
        _then(_resource("requiredAction:RequiredAction", "realm-totp", enabled=False), "realm", REALM),
        _quiet(_resource("requiredAction:RequiredAction", "realm-totp", enabled="true", defaultAction=False)),
    ),
    "KC-12": Case(
        _then(_resource("realmEvents:RealmEvents", "realm-events", adminEventsEnabled=False), "realm", REALM),
        _quiet(_resource("realmEvents:RealmEvents", "realm-events", adminEventsEnabled="true", eventsExpiration=1.0)),
    ),
    "BAO-01": Case(
        _file("openbao", OPENBAO_HCL, "/openbao/audit/audit.log", "/var/log/openbao-audit.log"),
        _quiet(
            _file(
                "openbao",
                OPENBAO_HCL,
                'audit "file" "file" {',
                'audit "file" "stdout" {\n  options {\n    file_path = "stdout"\n  }\n}\naudit "file" "file" {',
            )
        ),
    ),
    "BAO-02": Case(
        _file("openbao", OPENBAO_HCL, "tls_disable = true", 'tls_min_version = "tls10"'),
        _quiet(_file("openbao", OPENBAO_HCL, "tls_disable = true", 'tls_min_version = "tls13"')),
    ),
    "BAO-03": Case(
        _resource(POLICY, "psra-role-policy", policy='path "psra/kv/data/*" {\n  capabilities = ["read", "list"]\n}\n'),
        _quiet(
            _add_resource(
                "vault:index/policy:Policy", "admin-policy", {"name": "admin", "policy": 'path "sys/*" { capabilities = ["sudo", "read"] }'}
            )
        ),
    ),
    "BAO-04": Case(_env("backup", "VAULT_TOKEN=s.root"), _quiet(_env("backup", "BAO_ADDR=http://openbao:8200"))),
    "BAO-05": Case(
        _resource(APPROLE, "psra-role", secretIdBoundCidrs=None, tokenBoundCidrs=None),
        _quiet(_resource(APPROLE, "psra-role", secretIdBoundCidrs=None)),
    ),
    "BAO-06": Case(
        _resource("jwt/authBackendRole:AuthBackendRole", "admin-oidc", boundAudiences=[]),
        _quiet(_resource("jwt/authBackendRole:AuthBackendRole", "admin-oidc", tokenTtl=900.0)),
    ),
    "BAO-07": Case(_env("backup", "BAO_UNSEAL_KEY=abc"), _quiet(_env("backup", "BAO_SEAL_TYPE=shamir"))),
    "BAO-08": Case(
        _resource("pkiSecret/secretBackendRole:SecretBackendRole", "internal-certs", allowAnyName=True),
        _quiet(_resource("pkiSecret/secretBackendRole:SecretBackendRole", "internal-certs", allowAnyName=False)),
    ),
    "BAO-09": Case(
        _edit("openbao", command=["server", "-dev"]),
        _quiet(_label("openbao", "nl.sevensa.platform.image", "quay.io/openbao/openbao:2.5.0")),
    ),
    "BAO-10": Case(_edit("openbao", ulimits=None), _quiet(_edit("openbao", memorySwap=256.0))),
    "SEC-01": Case(
        _env("psra-db", "POSTGRES_PASSWORD=hunter2hunter2"),
        _quiet(
            _env("psra-db", "POSTGRES_PASSWORD_FILE=/run/secrets/other", "DATABASE_URL=postgresql://{{username}}:{{password}}@psra-db/psra")
        ),
    ),
    "SEC-02": Case(_env("psra-db", envelope("POSTGRES_PASSWORD=x")), _quiet(_env("psra-db", "PGDATA=/var/lib/postgresql/data"))),
    "SEC-03": Case(
        _label("psra-frontend", "app.db.password", "hunter2hunter2"),
        _quiet(_label("psra-frontend", "app.db.password-file", "/run/secrets/db")),
    ),
    "SEC-04": Case(
        _content("psra-db", "/run/secrets/postgres-password", "hunter2hunter2"),
        _quiet(_append_upload("psra-db", "/etc/app.yml", "password_file: /run/secrets/db\ncache_password: ${CACHE_PASSWORD}\n")),
    ),
    "SEC-05": Case(
        _edit("psra-frontend", command=["server", "--db-password=hunter2hunter2"]),
        _quiet(_edit("psra-frontend", command=["server", "--db-password-file=/run/secrets/db", "--config.file=/etc/app.yml"])),
    ),
    "KC-13": Case(_resource(REALM, "realm", registrationAllowed=True), _quiet(_resource(REALM, "realm", registrationAllowed=False))),
    "BAO-11": Case(
        _grant('path "rentguy/kv/data/database/credentials" {\n  capabilities = ["read"]\n}\n', ("rentguy",)),
        _quiet(_grant('path "sevensa/data/shared/smtp/credentials" {\n  capabilities = ["read"]\n}\n', ("rentguy",))),
    ),
    "BAO-12": Case(
        _operator_policy('path "*" {\n  capabilities = ["read", "list"]\n}\n'),
        _quiet(_operator_policy('path "sys/auth/approle" {\n  capabilities = ["create", "update", "sudo"]\n}\n')),
    ),
    "DOC-01": Case(_inputs_as("privileged=true; mounts=/var/run/docker.sock"), _quiet(_inputs_as(None))),
    "BK-01": Case(
        _env("backup", drop="RESTIC_PASSWORD_FILE"),
        _quiet(_env("backup", "BACKUP_ENCRYPTION_KEY_FILE=/run/secrets/restic-password", drop="RESTIC_PASSWORD_FILE")),
    ),
    "BK-02": Case(
        _env("backup", drop="RESTIC_REPOSITORY"), _quiet(_env("backup", "S3_ENDPOINT=https://s3.example.test", drop="RESTIC_REPOSITORY"))
    ),
    "BK-03": Case(
        _file("backup", CRONTAB, "30 3 * * 0 restore-test --latest psra-db\n", ""),
        _quiet(_file("backup", CRONTAB, "restic check --read-data-subset=10%", "backup check --read-data-subset=5%")),
    ),
    "BK-04": Case(
        _content(
            "backup", CRONTAB, "0 2 * * * backup --snapshot openbao --volume traefik-certificates\n30 3 * * 0 restore-test --latest\n"
        ),
        _quiet(_edit("backup", networksAdvanced=[{"name": "psra-db-net"}, {"name": "shared-net"}])),
    ),
    "MON-01": Case(
        _file("prometheus", ALERTS, "expr: up == 0\n        for: 5m", "expr: up == 0"),
        _quiet(_file("prometheus", ALERTS, "expr: up == 0", 'expr: up{job="traefik"}==0')),
    ),
    "MON-02": Case(
        _file("prometheus", ALERTS, "probe_ssl_earliest_cert_expiry", "probe_success"),
        _quiet(_file("prometheus", ALERTS, "probe_ssl_earliest_cert_expiry", "traefik_tls_certs_not_after")),
    ),
    "MON-03": Case(
        _file(
            "prometheus", ALERTS, "time() - sevensa_backup_last_success_timestamp_seconds > 26 * 3600", "sevensa_backup_failures_total > 0"
        ),
        _quiet(_file("prometheus", ALERTS, "sevensa_backup_last_success_timestamp_seconds", "restic_backup_timestamp")),
    ),
    "MON-04": Case(
        _label("prometheus", "traefik.http.routers.prometheus.middlewares", "security-headers@file"),
        _quiet(_label("prometheus", "traefik.http.routers.prometheus.middlewares", "forward-auth@file,security-headers@file")),
    ),
}
