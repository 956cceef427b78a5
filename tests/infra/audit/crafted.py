"""A small, fully compliant platform, planned with the real provider SDKs, for the audit tests.

`compliant_document()` runs a Pulumi program under the plan harness, so every resource has
exactly the shape the SDKs give it in an export (camelCase inputs, secret envelopes,
dependencies). Each rule's test then breaks one thing in a copy of that document; the
helpers below find a resource and edit it in place and return the URN that must be named.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pulumi_docker as docker
import pulumi_keycloak as keycloak
import pulumi_random as random
import pulumi_vault as vault

from tests.harness import plan_function

DOMAIN = "example.test"
SECRET_SIG = "4dabf18193072939515e22adb298388d"
SECRET_VALUE = "1b47061264138c4ac30d75fd1eb44270"
SERVICE_LABEL = "nl.sevensa.platform.service"
STACK_LABEL = "nl.sevensa.platform.stack"
IMAGE_LABEL = "nl.sevensa.platform.image"

TRAEFIK_STATIC = """\
entryPoints:
  web:
    address: ":80"
    http:
      redirections:
        entryPoint: {to: websecure, scheme: https, permanent: true}
  websecure:
    address: ":443"
api: {dashboard: false, insecure: false}
providers:
  docker: {endpoint: "tcp://socket-proxy:2375", exposedByDefault: false}
  file: {directory: /etc/traefik/dynamic}
certificatesResolvers:
  letsencrypt:
    acme: {email: ops@example.test, storage: /letsencrypt/acme.json, tlsChallenge: {}}
"""
TRAEFIK_DYNAMIC = """\
tls:
  options:
    default: {minVersion: VersionTLS12, sniStrict: true}
http:
  middlewares:
    security-headers:
      headers: {stsSeconds: 63072000, stsIncludeSubdomains: true, contentTypeNosniff: true, frameDeny: true}
    rate-limit:
      rateLimit: {average: 50, burst: 100}
    forward-auth:
      forwardAuth: {address: "http://oauth2-proxy:4180/", trustForwardHeader: false}
    protected:
      chain: {middlewares: [security-headers, forward-auth]}
"""
OPENBAO_HCL = """\
storage "file" { path = "/openbao/file" }
listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}
audit "file" "file" {
  options {
    file_path = "/openbao/audit/audit.log"
  }
}
"""
APP_POLICY = """\
path "psra/kv/data/database/credentials" {
  capabilities = ["read"]
}
path "psra/transit/encrypt/psra-key" {
  capabilities = ["update"]
}
"""
ALERTS = """\
groups:
  - name: platform
    rules:
      - alert: TargetDown
        expr: up == 0
        for: 5m
      - alert: ContainerUnhealthy
        expr: engine_daemon_health_checks_failed_total > 0
        for: 5m
      - alert: CertificateExpiresSoon
        expr: probe_ssl_earliest_cert_expiry - time() < 14 * 86400
      - alert: BackupStale
        expr: time() - sevensa_backup_last_success_timestamp_seconds > 26 * 3600
      - alert: Watchdog
        expr: vector(1)
"""
BACKUP_CRONTAB = """\
0 2 * * * backup --dump psra-db --snapshot openbao --volume traefik-certificates
30 3 * * 0 restore-test --latest psra-db
0 5 * * 0 restic check --read-data-subset=10%
"""


def _labels(values: dict[str, str]) -> list[docker.ContainerLabelArgs]:
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(values.items())]


def router(name: str, host: str, port: int, middlewares: str, prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    rule = f"Host(`{host}`)" + (" && (" + " || ".join(f"PathPrefix(`{p}`)" for p in prefixes) + ")" if prefixes else "")
    base = f"traefik.http.routers.{name}"
    return {
        "traefik.enable": "true",
        f"{base}.rule": rule,
        f"{base}.entrypoints": "websecure",
        f"{base}.tls": "true",
        f"{base}.tls.certresolver": "letsencrypt",
        f"{base}.middlewares": middlewares,
        f"{base}.service": name,
        f"traefik.http.services.{name}.loadbalancer.server.port": str(port),
    }


def _container(
    name: str,
    image: str,
    stack: str,
    networks: list[docker.Network],
    *,
    labels: dict[str, str] | None = None,
    **overrides: Any,
) -> docker.Container:
    pulled = docker.RemoteImage(f"{name}-image", name=image, keep_locally=True)
    settings: dict[str, Any] = {
        "name": name,
        "image": pulled.image_id,
        "capabilities": docker.ContainerCapabilitiesArgs(drops=["ALL"]),
        "security_opts": ["no-new-privileges:true"],
        "read_only": True,
        "tmpfs": {"/tmp": "rw,noexec,nosuid,size=64m"},
        "user": "1000",
        "memory": 256,
        "memory_swap": 256,
        "cpus": "0.5",
        "restart": "unless-stopped",
        "healthcheck": docker.ContainerHealthcheckArgs(tests=["CMD", "true"], interval="30s"),
        "wait": True,
        "networks_advanced": [docker.ContainerNetworksAdvancedArgs(name=n.name, aliases=[name]) for n in networks],
        "labels": _labels({SERVICE_LABEL: name, STACK_LABEL: stack, IMAGE_LABEL: image, **(labels or {})}),
    }
    settings.update(overrides)
    return docker.Container(f"{name}-container", **settings)


def program() -> None:
    provider = docker.Provider("docker", host="ssh://deploy@vps.example.test")
    pulumi.export("domain", DOMAIN)

    def network(name: str, internal: bool) -> docker.Network:
        return docker.Network(f"net-{name}", name=name, internal=internal, opts=pulumi.ResourceOptions(provider=provider))

    edge, apps, data, shared, docker_api, egress = (
        network("traefik-net", False),
        network("psra-net", True),
        network("psra-db-net", True),
        network("shared-net", True),
        network("docker-api-net", True),
        network("egress-net", False),
    )
    certificates = docker.Volume("traefik-certificates", name="traefik-certificates")
    _container(
        "traefik",
        "traefik:v3.5.3",
        "core",
        [edge, apps, shared, docker_api, egress],
        user="65532",
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["NET_BIND_SERVICE"]),
        ports=[docker.ContainerPortArgs(internal=80, external=80), docker.ContainerPortArgs(internal=443, external=443)],
        command=["--configFile=/etc/traefik/traefik.yml"],
        mounts=[docker.ContainerMountArgs(type="volume", source=certificates.name, target="/letsencrypt")],
        uploads=[
            docker.ContainerUploadArgs(file="/etc/traefik/traefik.yml", content=TRAEFIK_STATIC),
            docker.ContainerUploadArgs(file="/etc/traefik/dynamic/platform.yml", content=TRAEFIK_DYNAMIC),
        ],
    )
    _container(
        "socket-proxy",
        "tecnativa/docker-socket-proxy:v0.4.1",
        "core",
        [docker_api],
        user="0",
        read_only=False,
        envs=["CONTAINERS=1", "POST=0"],
        mounts=[docker.ContainerMountArgs(type="bind", source="/var/run/docker.sock", target="/var/run/docker.sock", read_only=True)],
    )
    cookie = random.RandomPassword("oauth2-cookie-secret", length=32)
    _container(
        "oauth2-proxy",
        "quay.io/oauth2-proxy/oauth2-proxy:v7.12.0",
        "core",
        [apps, egress],
        labels=router("oauth2-proxy", f"psra.{DOMAIN}", 4180, "security-headers@file,rate-limit@file", ("/oauth2/",)),
        envs=["OAUTH2_PROXY_COOKIE_SECRET_FILE=/run/secrets/cookie-secret"],
        uploads=[docker.ContainerUploadArgs(file="/run/secrets/cookie-secret", content=pulumi.Output.secret(cookie.result))],
    )
    _container(
        "keycloak",
        "quay.io/keycloak/keycloak:26.4.2",
        "security",
        [apps, egress],
        read_only=False,
        labels=router(
            "keycloak", f"auth.{DOMAIN}", 8080, "security-headers@file,rate-limit@file", ("/realms/sevensa", "/resources", "/.well-known")
        ),
        envs=["KC_PROXY_HEADERS=xforwarded", "KC_PROXY_TRUSTED_ADDRESSES=172.20.0.0/24", f"KC_HOSTNAME=https://auth.{DOMAIN}"],
    )
    _container(
        "psra-frontend",
        "ghcr.io/sevensa/psra-frontend:2.0.0",
        "psra",
        [apps],
        labels=router("psra-frontend", f"psra.{DOMAIN}", 3000, "protected@file"),
    )
    db_password = random.RandomPassword("psra-db-password", length=32, special=False)
    _container(
        "psra-db",
        "postgres:16.10-alpine",
        "psra",
        [data],
        user="70:70",
        envs=["POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password", "POSTGRES_USER=psra"],
        uploads=[docker.ContainerUploadArgs(file="/run/secrets/postgres-password", content=pulumi.Output.secret(db_password.result))],
        mounts=[docker.ContainerMountArgs(type="volume", source="psra-db-data", target="/var/lib/postgresql/data")],
    )
    _container(
        "openbao",
        "quay.io/openbao/openbao:2.4.3",
        "security",
        [shared],
        user="100",
        command=["server"],
        capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"], adds=["IPC_LOCK"]),
        ulimits=[docker.ContainerUlimitArgs(name="core", soft=0, hard=0)],
        labels=router("openbao", f"vault.{DOMAIN}", 8200, "protected@file,rate-limit@file"),
        mounts=[
            docker.ContainerMountArgs(type="volume", source="openbao-data", target="/openbao/file"),
            docker.ContainerMountArgs(type="volume", source="openbao-audit", target="/openbao/audit"),
        ],
        uploads=[docker.ContainerUploadArgs(file="/openbao/config/openbao.hcl", content=OPENBAO_HCL)],
    )
    _container(
        "prometheus",
        "prom/prometheus:v3.6.0",
        "monitoring",
        [apps],
        labels=router("prometheus", f"prometheus.{DOMAIN}", 9090, "protected@file"),
        uploads=[docker.ContainerUploadArgs(file="/etc/prometheus/rules/platform.yml", content=ALERTS)],
    )
    restic = random.RandomPassword("backup-encryption-key", length=32)
    _container(
        "backup",
        "ghcr.io/sevensa/platform-backup:1.0.0",
        "backup",
        [data, shared, egress],
        envs=[
            "RESTIC_PASSWORD_FILE=/run/secrets/restic-password",
            "RESTIC_REPOSITORY=s3:https://s3.example.test/backups",
            "RETENTION_DAYS=7",
        ],
        mounts=[
            docker.ContainerMountArgs(type="volume", source="traefik-certificates", target="/backup/traefik-certificates", read_only=True)
        ],
        uploads=[
            docker.ContainerUploadArgs(file="/run/secrets/restic-password", content=pulumi.Output.secret(restic.result)),
            docker.ContainerUploadArgs(file="/etc/crontabs/backup", content=BACKUP_CRONTAB),
        ],
    )

    realm = keycloak.Realm(
        "realm",
        realm="sevensa",
        ssl_required="external",
        password_policy="length(12) and notUsername and notEmail and passwordHistory(5)",
        security_defenses=keycloak.RealmSecurityDefensesArgs(
            brute_force_detection=keycloak.RealmSecurityDefensesBruteForceDetectionArgs(max_login_failures=5)
        ),
        access_token_lifespan="5m",
        sso_session_idle_timeout="30m",
        sso_session_max_lifespan="10h",
        revoke_refresh_token=True,
    )
    keycloak.RealmEvents("realm-events", realm_id=realm.id, events_enabled=True, admin_events_enabled=True, events_expiration=7_776_000)
    keycloak.RequiredAction("realm-totp", realm_id=realm.id, alias="CONFIGURE_TOTP", enabled=True, default_action=True)
    client = keycloak.openid.Client(
        "psra-client",
        realm_id=realm.id,
        client_id="psra-client",
        access_type="CONFIDENTIAL",
        standard_flow_enabled=True,
        valid_redirect_uris=[f"https://psra.{DOMAIN}/api/auth/callback/keycloak"],
        web_origins=[f"https://psra.{DOMAIN}"],
        pkce_code_challenge_method="S256",
        full_scope_allowed=False,
    )
    role = keycloak.Role("psra-user", realm_id=realm.id, name="psra-user")
    group = keycloak.Group("psra-users", realm_id=realm.id, name="PSRA Users")
    keycloak.GroupRoles("psra-users-roles", realm_id=realm.id, group_id=group.id, role_ids=[role.id])
    keycloak.GenericRoleMapper("psra-client-scope", realm_id=realm.id, client_id=client.id, role_id=role.id)

    vault.Namespace("ns-psra", path="psra")
    vault.Mount("psra-kv", path="kv", type="kv", options={"version": "2"}, namespace="psra")
    vault.Policy("psra-role-policy", name="psra-role", policy=APP_POLICY)
    approle = vault.AuthBackend("approle", type="approle")
    vault.approle.AuthBackendRole(
        "psra-role",
        backend=approle.path,
        role_name="psra-role",
        token_policies=["psra-role"],
        secret_id_ttl=86_400,
        token_ttl=3600,
        token_max_ttl=14_400,
        secret_id_bound_cidrs=["172.20.10.11/32"],
        token_bound_cidrs=["172.20.10.11/32"],
    )
    vault.jwt.AuthBackendRole(
        "admin-oidc",
        backend="oidc",
        role_name="admin",
        role_type="oidc",
        user_claim="sub",
        bound_audiences=["bao-oidc"],
        allowed_redirect_uris=[f"https://vault.{DOMAIN}/ui/vault/auth/oidc/oidc/callback"],
        token_ttl=3600,
        token_max_ttl=28_800,
        token_policies=["admin"],
    )
    vault.database.SecretBackendRole(
        "psra-db-role",
        backend="database",
        name="psra-app",
        db_name="psra",
        creation_statements=["CREATE ROLE"],
        default_ttl=3600,
        max_ttl=86_400,
        namespace="psra",
    )
    vault.pkisecret.SecretBackendRole(
        "internal-certs",
        backend="pki",
        name="internal",
        allowed_domains=["sevensa.internal"],
        allow_subdomains=True,
        max_ttl="2592000",
    )


_document: dict[str, Any] | None = None


def compliant_document() -> dict[str, Any]:
    """A fresh copy of the compliant platform's export document (planned once per process)."""
    global _document
    if _document is None:
        _document = plan_function(program, stack="crafted").document
    return copy.deepcopy(_document)


# ---- editing a document -------------------------------------------------------------------


def entry(document: dict[str, Any], type_suffix: str, name: str) -> dict[str, Any]:
    """The resource entry whose type ends with `type_suffix` and whose URN name is `name`."""
    matches = [r for r in document["deployment"]["resources"] if r["type"].endswith(type_suffix) and r["urn"].rsplit("::", 1)[-1] == name]
    if len(matches) != 1:
        raise KeyError(f"{len(matches)} resources {type_suffix} named {name}")
    return matches[0]


def container(document: dict[str, Any], name: str) -> dict[str, Any]:
    return entry(document, "container:Container", f"{name}-container")


def set_label(resource: dict[str, Any], key: str, value: Any) -> None:
    labels = [item for item in resource["inputs"].get("labels", []) if item["label"] != key]
    resource["inputs"]["labels"] = [*labels, {"label": key, "value": value}]


def upload(resource: dict[str, Any], path: str) -> dict[str, Any]:
    return next(u for u in resource["inputs"]["uploads"] if u["file"] == path)


def envelope(plaintext_hint: str = "x") -> dict[str, str]:
    return {SECRET_SIG: SECRET_VALUE, "ciphertext": f"v1:AAAA:{plaintext_hint.encode().hex()}"}


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2)
