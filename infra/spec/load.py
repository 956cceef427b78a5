"""Stack config -> `PlatformSpec`: read `Pulumi.<stack>.yaml` (or Pulumi's runtime config),
merge it over the seed catalog, and collect every problem under the key that caused it.

Config keys (namespace `platform`): top-level keys are camelCase as Pulumi convention
wants; nested objects use the spec's field names (snake_case), so that what a user writes
is exactly what `infra.spec.models` documents.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from infra.spec import catalog
from infra.spec.models import (
    DOMAIN_PATTERN,
    EMAIL_PATTERN,
    PROJECT,
    STACK_NAMES,
    BackupSpec,
    NetworkSpec,
    PlatformSpec,
    ServiceSpec,
    TlsMode,
    check_image_pinned,
)
from infra.spec.problems import Problem, SpecError
from infra.spec.untrusted import MAX_STACK_FILE_BYTES, InputRefused, load_yaml, read_text
from infra.spec.validation import cross_check

NAMESPACE = PROJECT
# Where the Pulumi.<stack>.yaml files are: the repo, unless SEVENSA_PROJECT_DIR points elsewhere.
PROJECT_DIR = Path(os.environ.get("SEVENSA_PROJECT_DIR") or Path(__file__).resolve().parents[2])
API_VERSION_PATTERN = re.compile(r"^1\.[0-9]{2}$")
IPV4_PATTERN = re.compile(r"^(?:(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$")
DOCKER_HOST_PATTERN = re.compile(r"^(unix://(/[^\s]+)|ssh://[a-z_][a-z0-9_-]*@[A-Za-z0-9.-]+(:[0-9]{1,5})?|tcp://[A-Za-z0-9.-]+:[0-9]{1,5})$")

KNOWN_KEYS: dict[str, str] = {
    "domain": "DNS name the platform is served under, e.g. sevensa.nl",
    "acmeEmail": "e-mail address for Let's Encrypt",
    "dockerHost": "unix:///var/run/docker.sock or ssh://user@host",
    "dockerApiVersion": "Docker Engine API version of the host, e.g. 1.41 (Debian stable's 20.10, the default)",
    "publishAddress": "IPv4 address published ports bind to (default 0.0.0.0; 127.0.0.1 for a local lab)",
    "tls": "letsencrypt | letsencrypt-staging | acme (another ACME CA, e.g. a test CA) | self-signed",
    "acmeCaServer": "the ACME directory URL of tls: acme, e.g. https://pebble:14000/dir",
    "acmeCaCertificate": "PEM of the CA that signs the ACME directory's HTTPS certificate (tls: acme)",
    "acmeIssuerCertificate": "PEM of the root the ACME CA issues the platform's certificates under, when no public trust store holds it (tls: acme, optional)",
    "stacks": f"list out of {', '.join(STACK_NAMES)}",
    "imageOverrides": "map of service or datastore name -> pinned image",
    "networks": "list of networks {name, subnet, internal, purpose}, merged by name over the seed's",
    "services": "map of service name -> fields to override (spec field names)",
    "secretGrants": "map of AppRole name -> list of seed secret paths it may read",
    "backup": "fields of the backup spec to override",
}
REQUIRED_KEYS = ("domain", "acmeEmail", "dockerHost")
PLACEHOLDER_DOMAIN = "invalid.invalid"


@dataclass
class _Collector:
    file: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, key: str, message: str) -> None:
        self.problems.append(Problem(self.file, key, message))

    def add_validation(self, key: str, error: ValidationError) -> None:
        for err in error.errors():
            loc = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            self.add(f"{key}{loc}", f"{message} (got {_short(err.get('input'))})")


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def stack_file(stack: str, project_dir: Path = PROJECT_DIR) -> Path:
    return project_dir / f"Pulumi.{stack}.yaml"


def shown(path: Path) -> str:
    """A stack file as problems name it: relative to the working directory where it is below it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def read_stack_config(path: Path) -> dict[str, Any]:
    """The `platform:` keys of a stack file, without the namespace; `secure:` values kept as-is.
    The file is hostile input: bounded size and YAML expansion, UTF-8, a mapping at the top."""
    if not path.exists():
        raise SpecError([Problem(str(path), "-", "stack file not found; create it or pass an existing --stack")])
    try:
        document = load_yaml(read_text(path, MAX_STACK_FILE_BYTES))
    except InputRefused as error:
        raise SpecError([Problem(shown(path), "-", str(error))]) from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise SpecError([Problem(shown(path), "-", f"the top level is a {_kind(document)}; a stack file is a mapping with a 'config' key")])
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise SpecError([Problem(shown(path), "config", "must be a mapping of 'namespace:key' to values")])
    odd = [key for key in config if not isinstance(key, str)]
    if odd:
        raise SpecError([Problem(shown(path), "config", f"keys must be text such as 'platform:domain'; found a {_kind(odd[0])} key")])
    prefix = f"{NAMESPACE}:"
    return {key.removeprefix(prefix): value for key, value in config.items() if key.startswith(prefix)}


def _kind(value: Any) -> str:
    """How a YAML value reads to a user: a list, a number, text …"""
    kinds = {list: "list", str: "text", bool: "boolean", int: "number", float: "number", dict: "mapping"}
    return next((name for type_, name in kinds.items() if isinstance(value, type_)), type(value).__name__)


@dataclass(frozen=True)
class StackFile:
    """One stack file, read once: its `platform:` keys (`raw`) and how to name it in problems."""

    stack: str
    path: Path
    raw: dict[str, Any]

    @property
    def shown(self) -> str:
        return shown(self.path)

    def spec(self) -> PlatformSpec:
        return build_spec(self.raw, stack_name=self.stack, source=self.shown)


def read_stack(stack: str, project_dir: Path = PROJECT_DIR) -> StackFile:
    path = stack_file(stack, project_dir)
    return StackFile(stack=stack, path=path, raw=read_stack_config(path))


def load_stack(stack: str, project_dir: Path = PROJECT_DIR) -> PlatformSpec:
    return read_stack(stack, project_dir).spec()


def build_spec(raw: dict[str, Any], stack_name: str, source: str) -> PlatformSpec:
    """Merge `raw` (config keys without namespace) over the catalog; raise `SpecError` with all problems."""
    out = _Collector(source)
    for key in raw:
        if key not in KNOWN_KEYS:
            out.add(f"{NAMESPACE}:{key}", "unknown key; allowed: " + ", ".join(KNOWN_KEYS))
    for key in REQUIRED_KEYS:
        if key not in raw:
            out.add(f"{NAMESPACE}:{key}", f"required ({KNOWN_KEYS[key]})")

    domain = _scalar(raw, "domain", DOMAIN_PATTERN, "a DNS name of lower-case labels, e.g. sevensa.nl", out)
    acme_email = _scalar(raw, "acmeEmail", EMAIL_PATTERN, "an e-mail address, e.g. ops@sevensa.nl", out)
    docker_host = _scalar(raw, "dockerHost", DOCKER_HOST_PATTERN, "unix:///path/docker.sock, ssh://user@host[:port] or tcp://host:port", out)
    api_version = _scalar(raw, "dockerApiVersion", API_VERSION_PATTERN, "a Docker Engine API version such as 1.41", out)
    publish_address = _scalar(raw, "publishAddress", IPV4_PATTERN, "an IPv4 address such as 127.0.0.1", out)
    tls = _tls(raw, out)
    acme_ca = _acme_ca(raw, tls, out)
    stacks = _stacks(raw, out)
    seed = catalog.load(domain or PLACEHOLDER_DOMAIN)

    networks = _networks(seed["networks"], raw.get("networks"), out)
    services = _services(seed["services"], raw.get("services"), out)
    datastores = seed["datastores"]
    _image_overrides(services, datastores, raw.get("imageOverrides"), out)
    openbao = _secret_grants(seed["openbao"], raw.get("secretGrants"), out)
    backup = _backup(seed["backup"], raw.get("backup"), out)

    # Build with placeholders for invalid scalars so the cross-field checks still run:
    # the user gets every problem in one pass, not one per attempt.
    try:
        spec = PlatformSpec(
            stack_name=stack_name,
            domain=domain or PLACEHOLDER_DOMAIN,
            acme_email=acme_email or f"invalid@{PLACEHOLDER_DOMAIN}",
            docker_host=docker_host or "unix:///invalid",
            **({"docker_api_version": api_version} if api_version else {}),
            **({"publish_address": publish_address} if publish_address else {}),
            **acme_ca,
            tls=tls,
            stacks=stacks,
            networks=[n for n, _ in networks],
            services=[s for s, _ in services],
            datastores=datastores,
            keycloak=seed["keycloak"],
            openbao=openbao,
            backup=backup,
        )
    except ValidationError as exc:
        if not out.problems:  # only a consequence of problems already reported otherwise
            out.add_validation(f"{NAMESPACE}", exc)
        raise SpecError(out.problems) from exc
    network_keys = {n["name"]: key for n, key in networks}
    service_keys = {s["name"]: key for s, key in services}
    out.problems.extend(cross_check(spec, source, network_keys, service_keys, _grant_keys(raw.get("secretGrants"))))
    if out.problems:
        raise SpecError(out.problems)
    return spec


def _scalar(raw: dict[str, Any], key: str, pattern: re.Pattern[str], allowed: str, out: _Collector) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str) or not pattern.match(value):
        out.add(f"{NAMESPACE}:{key}", f"{_short(value)} is not valid; expected {allowed}")
        return ""
    return value


def _tls(raw: dict[str, Any], out: _Collector) -> TlsMode:
    value = raw.get("tls", TlsMode.LETSENCRYPT.value)
    try:
        return TlsMode(value)
    except ValueError:
        out.add(f"{NAMESPACE}:tls", f"{_short(value)} is not allowed; use one of {', '.join(m.value for m in TlsMode)}")
        return TlsMode.LETSENCRYPT


ACME_URL_PATTERN = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$")
PEM_PATTERN = re.compile(r"^-----BEGIN CERTIFICATE-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE-----\n?$")
MAX_PEM_LENGTH = 20_000


def _acme_ca(raw: dict[str, Any], tls: TlsMode, out: _Collector) -> dict[str, str]:
    """`acmeCaServer`/`acmeCaCertificate` (required) and `acmeIssuerCertificate` (optional) with `tls: acme`; refused otherwise."""
    keys = ("acmeCaServer", "acmeCaCertificate")
    if tls != TlsMode.ACME:
        for key in (*keys, "acmeIssuerCertificate"):
            if key in raw:
                out.add(f"{NAMESPACE}:{key}", "only used with tls: acme")
        return {}
    for key in keys:
        if key not in raw:
            out.add(f"{NAMESPACE}:{key}", f"required with tls: acme ({KNOWN_KEYS[key]})")
    server = _scalar(raw, "acmeCaServer", ACME_URL_PATTERN, "an https:// URL of an ACME directory", out)
    certificate = _pem(raw, "acmeCaCertificate", out)
    issuer = _pem(raw, "acmeIssuerCertificate", out)
    found = {"acme_ca_server": server, "acme_ca_certificate": certificate} if server and certificate else {}
    return found | ({"acme_issuer_certificate": issuer} if found and issuer else {})


def _pem(raw: dict[str, Any], key: str, out: _Collector) -> str | None:
    certificate = raw.get(key)
    if certificate is not None and (not isinstance(certificate, str) or len(certificate) > MAX_PEM_LENGTH or not PEM_PATTERN.match(certificate)):
        out.add(f"{NAMESPACE}:{key}", f"must be one PEM certificate (at most {MAX_PEM_LENGTH} characters)")
        return None
    return certificate


def _stacks(raw: dict[str, Any], out: _Collector) -> tuple[str, ...]:
    value = raw.get("stacks", list(STACK_NAMES))
    if not isinstance(value, list):
        out.add(f"{NAMESPACE}:stacks", f"must be a list out of {', '.join(STACK_NAMES)}")
        return ()
    seen: set[str] = set()
    for index, name in enumerate(value):
        key = f"{NAMESPACE}:stacks[{index}]"
        if name not in STACK_NAMES:
            out.add(key, f"unknown stack {_short(name)}; allowed: {', '.join(STACK_NAMES)}")
        elif name in seen:
            out.add(key, f"duplicate stack {name!r}")
        seen.add(name)
    if "core" not in value and value:
        out.add(f"{NAMESPACE}:stacks", "'core' is required: every other stack routes through its Traefik")
    return tuple(name for name in STACK_NAMES if name in value)


def _validated(model: type[BaseModel], data: dict[str, Any], key: str, out: _Collector) -> bool:
    try:
        model.model_validate(data)
        return True
    except ValidationError as exc:
        out.add_validation(key, exc)
        return False


def _networks(seed: list[dict[str, Any]], override: Any, out: _Collector) -> list[tuple[dict[str, Any], str]]:
    merged: dict[str, tuple[dict[str, Any], str]] = {n["name"]: (n, f"catalog:networks[{i}]") for i, n in enumerate(seed)}
    if override is None:
        return list(merged.values())
    if not isinstance(override, list):
        out.add(f"{NAMESPACE}:networks", "must be a list of {name, subnet, internal, purpose}")
        return list(merged.values())
    seen: set[str] = set()
    for index, entry in enumerate(override):
        key = f"{NAMESPACE}:networks[{index}]"
        if not isinstance(entry, dict) or "name" not in entry:
            out.add(key, "must be a mapping with at least 'name'")
            continue
        name = entry["name"]
        if name in seen:
            out.add(f"{key}.name", f"duplicate network name {name!r}")
            continue
        seen.add(name)
        data = {**merged[name][0], **entry} if name in merged else dict(entry)
        if _validated(NetworkSpec, data, key, out):
            merged[name] = (data, key)
    return list(merged.values())


def _services(seed: list[dict[str, Any]], override: Any, out: _Collector) -> list[tuple[dict[str, Any], str]]:
    merged = {s["name"]: (s, f"catalog:services.{s['name']}") for s in seed}
    if override is None:
        return list(merged.values())
    if not isinstance(override, dict):
        out.add(f"{NAMESPACE}:services", "must be a mapping of service name -> fields to override")
        return list(merged.values())
    for name, fields in override.items():
        key = f"{NAMESPACE}:services.{name}"
        if not isinstance(fields, dict):
            out.add(key, "must be a mapping of spec fields")
            continue
        data = {**copy.deepcopy(merged[name][0]), **fields, "name": name} if name in merged else {**fields, "name": name}
        if _validated(ServiceSpec, data, key, out):
            merged[name] = (data, key)
    return list(merged.values())


def _image_overrides(services: list[tuple[dict[str, Any], str]], datastores: list[dict[str, Any]], override: Any, out: _Collector) -> None:
    if override is None:
        return
    if not isinstance(override, dict):
        out.add(f"{NAMESPACE}:imageOverrides", "must be a mapping of service name -> image")
        return
    targets = {s["name"]: s for s, _ in services} | {d["name"]: d for d in datastores}
    for name, image in override.items():
        key = f"{NAMESPACE}:imageOverrides.{name}"
        if name not in targets:
            out.add(key, f"unknown service {name!r}; known: {', '.join(sorted(targets))}")
            continue
        try:
            targets[name]["image"] = check_image_pinned(str(image))
        except ValueError as exc:
            out.add(key, str(exc))


def _grant_keys(override: Any) -> dict[tuple[str, str], str]:
    if not isinstance(override, dict):
        return {}
    return {
        (role, path): f"{NAMESPACE}:secretGrants.{role}[{index}]"
        for role, paths in override.items()
        if isinstance(paths, list)
        for index, path in enumerate(paths)
    }


def _secret_grants(seed: dict[str, Any], override: Any, out: _Collector) -> dict[str, Any]:
    openbao = copy.deepcopy(seed)
    if override is None:
        return openbao
    if not isinstance(override, dict):
        out.add(f"{NAMESPACE}:secretGrants", "must be a mapping of AppRole name -> list of seed secret paths")
        return openbao
    roles = {role["name"]: role for role in openbao["approles"]}
    for name, paths in override.items():
        key = f"{NAMESPACE}:secretGrants.{name}"
        if name not in roles:
            out.add(key, f"unknown AppRole {name!r}; known: {', '.join(sorted(roles))}")
        elif not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
            out.add(key, "must be a list of seed secret paths such as psra/database/credentials")
        else:
            roles[name]["secret_paths"] = paths
    return openbao


def _backup(seed: dict[str, Any], override: Any, out: _Collector) -> dict[str, Any]:
    if override is None:
        return seed
    if not isinstance(override, dict):
        out.add(f"{NAMESPACE}:backup", "must be a mapping of backup spec fields")
        return seed
    data = {**seed, **override}
    _validated(BackupSpec, data, f"{NAMESPACE}:backup", out)
    return data


def from_pulumi_config() -> PlatformSpec:
    """Inside a Pulumi program: read every `platform:` key from the runtime config."""
    import pulumi

    config = pulumi.Config(NAMESPACE)
    raw: dict[str, Any] = {}
    for key in KNOWN_KEYS:
        value = config.get(key)
        if value is None:
            continue
        try:
            raw[key] = json.loads(value) if value[:1] in "[{" else value
        except json.JSONDecodeError:
            raw[key] = value
    return build_spec(raw, stack_name=pulumi.get_stack(), source=f"Pulumi.{pulumi.get_stack()}.yaml")


def as_pulumi_config(raw: dict[str, Any]) -> dict[str, str]:
    """The runtime config Pulumi would hand the program for these stack-file values."""
    return {f"{NAMESPACE}:{key}": value if isinstance(value, str) else json.dumps(value) for key, value in raw.items()}


def subnet_in_private_range(subnet: ipaddress.IPv4Network) -> bool:
    return any(subnet.subnet_of(block) for block in catalog.PRIVATE_BLOCKS)
