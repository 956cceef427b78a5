"""The typed platform spec: the single place where names, subnets, hostnames, images,
realm content, secret paths and schedules live.

Stack config (YAML) is merged over the seed catalog and validated into a `PlatformSpec`;
stacks and components only ever receive these typed values. Cross-field rules (overlaps,
unknown references, hostnames outside the domain) live in `infra.spec.validation` so that every
problem is reported at once, each under the config key that caused it.
"""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from typing import Annotated, Literal

from croniter import croniter
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

PROJECT = "platform"
"""The Pulumi project name; also the config namespace, so Pulumi.yaml can declare typed keys."""

STACK_NAMES: tuple[str, ...] = ("core", "security", "psra", "rentguy", "wpcs", "ai", "monitoring", "backup")
"""Every stack a platform may enable, in deployment order."""

DNS_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
DOMAIN_PATTERN = re.compile(rf"^(?:{DNS_LABEL}\.)*{DNS_LABEL}$")
EMAIL_PATTERN = re.compile(rf"^[A-Za-z0-9._%+-]+@(?:{DNS_LABEL}\.)+[a-z]{{2,63}}$")
NAME_PATTERN = r"^[a-z0-9][a-z0-9-]*[a-z0-9]$"
# repo[:port]/path:tag or repo@sha256:digest; the tag must be exact (never `latest`).
IMAGE_PATTERN = re.compile(
    r"^(?P<repo>[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>sha256:[a-f0-9]{64}))?$"
)
SECRET_KEY_PATTERN = re.compile(r"(pass(word)?|secret|token|api[_-]?key|private[_-]?key|cookie|credential)", re.I)

def _check_name(value: str) -> str:
    if not re.match(NAME_PATTERN, value) or len(value) > 63:
        raise ValueError(f"{value!r} is not a valid name: use 2-63 lower-case letters, digits and '-', starting and ending with a letter or digit")
    return value


Name = Annotated[str, AfterValidator(_check_name)]


class Model(BaseModel):
    """Strict base: unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class TlsMode(StrEnum):
    """How Traefik obtains certificates."""

    LETSENCRYPT = "letsencrypt"
    LETSENCRYPT_STAGING = "letsencrypt-staging"
    ACME = "acme"
    """Another ACME CA (`acmeCaServer`, trusted through `acmeCaCertificate`): the lab's Pebble."""
    SELF_SIGNED = "self-signed"


class NetworkSpec(Model):
    """A Docker bridge network. `internal` networks have no route to the outside world."""

    name: Name
    subnet: ipaddress.IPv4Network
    internal: bool
    purpose: str


class RouteSpec(Model):
    """One Traefik router: a hostname (FQDN) on the HTTPS entrypoint to one container port."""

    host: str
    service_port: int = Field(ge=1, le=65535)
    path_prefixes: tuple[str, ...] = ()
    forward_auth: bool = True
    middlewares: tuple[str, ...] = ()

    @field_validator("host")
    @classmethod
    def _host_is_dns(cls, host: str) -> str:
        if not DOMAIN_PATTERN.match(host):
            raise ValueError(f"{host!r} is not a DNS name (lower-case labels separated by dots)")
        return host

    @field_validator("path_prefixes")
    @classmethod
    def _paths_absolute(cls, paths: tuple[str, ...]) -> tuple[str, ...]:
        for path in paths:
            if not path.startswith("/"):
                raise ValueError(f"path prefix {path!r} must start with '/'")
        return paths


class VolumeMount(Model):
    """A named Docker volume mounted into a container."""

    volume: Name
    container_path: str
    read_only: bool = False


class HealthcheckSpec(Model):
    """Docker healthcheck: `test` is the CMD form (first element CMD or CMD-SHELL)."""

    test: tuple[str, ...]
    interval_seconds: int = Field(default=30, ge=1)
    timeout_seconds: int = Field(default=5, ge=1)
    retries: int = Field(default=3, ge=1, le=10)
    start_period_seconds: int = Field(default=20, ge=0)


class ServiceSpec(Model):
    """One container of the platform, hardened by default.

    `env` holds only non-secret settings; secrets reach containers as files (`*_FILE`) or
    through OpenBao, never as plaintext env. Exceptions to the hardened defaults
    (`read_only_root`, `user`, `cap_add`) are declared here so the audit can show them.
    """

    name: Name
    stack: Literal["core", "security", "psra", "rentguy", "wpcs", "ai", "monitoring", "backup"]
    description: str
    image: str
    networks: tuple[str, ...]
    ipv4_addresses: dict[str, ipaddress.IPv4Address] = Field(default_factory=dict)
    routes: tuple[RouteSpec, ...] = ()
    env: dict[str, str] = Field(default_factory=dict)
    volumes: tuple[VolumeMount, ...] = ()
    egress: bool = False
    egress_reason: str | None = None
    published_ports: tuple[int, ...] = ()
    read_only_root: bool = True
    tmpfs: tuple[str, ...] = ("/tmp",)
    user: str | None = None
    cap_add: tuple[str, ...] = ()
    memory_mb: int = Field(default=512, ge=16)
    cpus: float = Field(default=1.0, gt=0)
    healthcheck: HealthcheckSpec | None = None
    build_context: str | None = None

    @field_validator("image")
    @classmethod
    def _image_pinned(cls, image: str) -> str:
        return check_image_pinned(image)

    @field_validator("env")
    @classmethod
    def _env_not_secret(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if SECRET_KEY_PATTERN.search(key) and not key.endswith("_FILE"):
                raise ValueError(
                    f"env key {key!r} looks secret; pass secrets as a *_FILE path or through OpenBao, not plaintext env"
                )
        return env


def check_image_pinned(image: str) -> str:
    """Accept `repo:tag`, `repo@sha256:…` or both; refuse a missing tag and `latest`."""
    match = IMAGE_PATTERN.match(image)
    if not match:
        raise ValueError(f"{image!r} is not a Docker image reference (repo[:tag][@sha256:digest])")
    tag, digest = match.group("tag"), match.group("digest")
    if tag is None and digest is None:
        raise ValueError(f"image {image!r} has no tag; pin an exact version such as {image}:1.2.3")
    if tag == "latest":
        raise ValueError(f"image {image!r} uses 'latest'; pin an exact version tag or a sha256 digest")
    return image


class DatastoreSpec(Model):
    """A database or cache instance owned by one stack, reachable only on its internal network."""

    name: Name
    stack: Literal["security", "psra", "rentguy", "wpcs", "ai"]
    engine: Literal["postgres", "mysql", "redis"]
    image: str
    network: str
    volume: Name
    database: str | None = None
    user: str | None = None
    memory_mb: int = Field(default=512, ge=16)

    @field_validator("image")
    @classmethod
    def _image_pinned(cls, image: str) -> str:
        return check_image_pinned(image)


class KeycloakClientSpec(Model):
    """A confidential OIDC client using the authorization-code flow with PKCE S256."""

    client_id: Name
    description: str
    redirect_hosts: tuple[str, ...]
    redirect_paths: tuple[str, ...] = ("/oauth2/callback",)
    required_role: str | None = None
    audience: str | None = None
    # added (security layer): realm roles this client's tokens may carry (its scope mappings;
    # fullScopeAllowed is off, so a token never carries roles of another tenant)
    roles: tuple[str, ...] = ()


class KeycloakGroupSpec(Model):
    name: str
    roles: tuple[str, ...]
    otp_required: bool = False


class KeycloakHardeningSpec(Model):
    """Realm hardening (security invariants KC-01..KC-12)."""

    max_login_failures: int = Field(default=5, ge=1, le=10)
    password_min_length: int = Field(default=12, ge=12)
    password_history: int = Field(default=5, ge=1)
    access_token_lifespan_seconds: int = Field(default=300, ge=60, le=300)
    sso_session_idle_seconds: int = Field(default=1800, ge=300)
    sso_session_max_seconds: int = Field(default=36000, ge=600)
    events_expiration_seconds: int = Field(default=7_776_000, ge=86_400)
    ssl_required: Literal["external", "all"] = "external"


class KeycloakRealmSpec(Model):
    realm: Name
    display_name: str
    roles: tuple[Name, ...]
    groups: tuple[KeycloakGroupSpec, ...]
    clients: tuple[KeycloakClientSpec, ...]
    hardening: KeycloakHardeningSpec = KeycloakHardeningSpec()


class SecretPathSpec(Model):
    """A secret of the seed's secrets matrix, and where it lives in OpenBao.

    `seed_path` is the path as the seed writes it; `namespace` (empty = root namespace),
    `mount` and `key` are how it maps onto OpenBao (see `infra.spec.catalog` for the mapping).
    """

    seed_path: str
    namespace: str
    mount: str
    key: str
    description: str
    engine: Literal["kv-v2", "transit"] = "kv-v2"
    # added (security layer): where the value comes from: "operator" (set by hand in OpenBao,
    # never read back into state), "generated" (random, by the program),
    # "datastore:<name>" or "keycloak-client:<client_id>"
    source: Annotated[str, Field(pattern=r"^(operator|generated|datastore:[a-z0-9-]+|keycloak-client:[a-z0-9-]+)$")] = "operator"

    @property
    def acl_path(self) -> str:
        """The ACL path a root-namespace policy grants: `<ns>/<mount>/data/<key>` for KV v2."""
        prefix = f"{self.namespace}/" if self.namespace else ""
        if self.engine == "transit":
            return f"{prefix}{self.mount}/encrypt/{self.key}"
        return f"{prefix}{self.mount}/data/{self.key}"


class AppRoleSpec(Model):
    """One AppRole per tenant; reads exactly `secret_paths` (seed paths of the matrix).

    Its tokens are bound to the fixed addresses its `services` have on the network they
    reach OpenBao through, so a stolen role/secret id is useless from anywhere else.
    """

    name: Name
    services: tuple[str, ...]
    secret_paths: tuple[str, ...]
    transit_keys: tuple[str, ...] = ()
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    token_max_ttl_seconds: int = Field(default=14_400, ge=60, le=86_400)
    secret_id_ttl_seconds: int = Field(default=86_400, ge=60, le=7_776_000)
    secret_id_num_uses: int = Field(default=0, ge=0)
    # added (security layer): namespaces whose database engine may issue this role dynamic credentials
    database_credentials: tuple[str, ...] = ()
    # added (backup): may read OpenBao's raft snapshot (`sys/storage/raft/snapshot`, read only)
    raft_snapshot: bool = False


class OpenBaoSpec(Model):
    """Namespaces, engines and auth methods of OpenBao; the access matrix is `approles`."""

    namespaces: tuple[Name, ...]
    kv_mount: str = "kv"
    shared_mount: str = "sevensa"
    secret_paths: tuple[SecretPathSpec, ...]
    approles: tuple[AppRoleSpec, ...]
    transit_keys: dict[str, tuple[str, ...]]
    database_engine_namespaces: tuple[str, ...] = ("psra",)
    pki_max_ttl_seconds: int = 315_360_000
    # added (security layer): lease bounds of dynamic database credentials
    database_credentials_ttl_seconds: int = Field(default=3600, ge=60, le=86_400)
    database_credentials_max_ttl_seconds: int = Field(default=14_400, ge=60, le=86_400)
    admin_group: str = "Administrators"
    key_shares: int = Field(default=5, ge=1)
    key_threshold: int = Field(default=3, ge=1)


BackupKind = Literal["postgres", "mysql", "redis", "openbao", "volume"]


class BackupRetentionSpec(Model):
    """Days restic keeps a kind of data set: locally, and off-site (None: not copied off-site)."""

    local_days: int = Field(ge=1, le=3650)
    offsite_days: int | None = Field(default=None, ge=1, le=3650)


class BackupSpec(Model):
    """The backup container (restic): schedules, retention per kind of data, off-site copy.

    The off-site repository's location and credentials are an OpenBao record an operator
    sets (`offsite: true` copies to it); the repository password is generated into OpenBao.
    """

    schedule: str = "0 2 * * *"
    check_schedule: str = "0 5 * * 0"
    drill_schedule: str = "30 3 * * *"
    check_read_data_subset: str = Field(default="10%", pattern=r"^(\d{1,2}(\.\d+)?%|\d+/\d+)$")
    retention: dict[BackupKind, BackupRetentionSpec] = Field(default_factory=dict)
    local_path: str = "/opt/backups"
    offsite: bool = True

    @field_validator("schedule", "check_schedule", "drill_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        if len(value) > 100 or len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError("must be a five-field cron expression (minute hour day month weekday)")
        return value


class PlatformSpec(Model):
    """The whole platform of one stack."""

    project: str = PROJECT
    stack_name: str
    domain: str
    acme_email: str
    docker_host: str
    docker_api_version: str = "1.41"
    """The Docker Engine API the target host speaks (Debian stable's 20.10: 1.41); the plan may use no newer feature."""
    publish_address: ipaddress.IPv4Address = ipaddress.IPv4Address("0.0.0.0")
    """The host address published ports bind to (the lab: 127.0.0.1)."""
    acme_ca_server: str | None = None
    """The ACME directory of `tls: acme` (e.g. https://pebble:14000/dir)."""
    acme_ca_certificate: str | None = None
    """PEM of the CA that signs that directory's HTTPS certificate (Traefik trusts it for ACME only)."""
    acme_issuer_certificate: str | None = None
    """PEM of the root the ACME CA issues under, when no public trust store holds it (a private CA,
    the lab's Pebble): what calls the platform's own public hosts (the apps' token checks,
    OpenBao's OIDC discovery) trusts it."""
    tls: TlsMode
    stacks: tuple[str, ...]
    networks: tuple[NetworkSpec, ...]
    services: tuple[ServiceSpec, ...]
    datastores: tuple[DatastoreSpec, ...]
    keycloak: KeycloakRealmSpec
    openbao: OpenBaoSpec
    backup: BackupSpec

    def network(self, name: str) -> NetworkSpec:
        return next(net for net in self.networks if net.name == name)

    def enabled(self, stack: str) -> bool:
        return stack in self.stacks

    def services_of(self, stack: str) -> tuple[ServiceSpec, ...]:
        return tuple(svc for svc in self.services if svc.stack == stack)

    def datastores_of(self, stack: str) -> tuple[DatastoreSpec, ...]:
        return tuple(ds for ds in self.datastores if ds.stack == stack)

    def host(self, subdomain: str) -> str:
        """`psra` -> `psra.<domain>`."""
        return f"{subdomain}.{self.domain}"
