"""Traefik's configuration as declared in an export, from every place Traefik reads it.

Static configuration: the Traefik container's command-line flags, its `TRAEFIK_*`
environment and its uploaded YAML/TOML files. Dynamic configuration: `traefik.*` labels of
every container (docker provider) and the uploaded files (file provider: TLS options and
middlewares cannot come from labels, invariants fact 5). Everything is flattened to dotted
keys, lower-cased except router and middleware names, so the rules ask one dictionary.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import yaml

from infra.audit.resources import HOST_RULE, Container, Resources

DYNAMIC_ROOTS = ("http.", "tls.", "tcp.", "udp.")
PATH_PREFIX = re.compile(r"PathPrefix\(\s*`([^`]+)`")


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys; lists stay values."""
    if not isinstance(data, dict):
        return {prefix: data} if prefix else {}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _dynamic_key(key: str) -> str:
    """Keep `http.routers.<Name>` / `http.middlewares.<Name>` as written; lower-case the rest."""
    parts = key.split(".")
    if len(parts) >= 3 and parts[0].lower() in {"http", "tcp", "udp"}:
        return ".".join([parts[0].lower(), parts[1].lower(), parts[2], *(p.lower() for p in parts[3:])])
    return key.lower()


def parse_file(path: str, content: str) -> dict[str, Any]:
    """A YAML or TOML Traefik file as flat keys; anything else (or unparsable) is empty."""
    try:
        if path.endswith(".toml"):
            return flatten(tomllib.loads(content))
        if path.endswith((".yml", ".yaml")):
            return flatten(yaml.safe_load(content) or {})
    except (yaml.YAMLError, tomllib.TOMLDecodeError):
        return {}
    return {}


def as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v).strip() for v in value]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return []


def bare(name: str) -> str:
    """`hsts@file` -> `hsts` (the provider suffix does not change what a middleware is)."""
    return name.split("@", 1)[0]


@dataclass(frozen=True)
class Router:
    name: str
    urn: str  # the container whose labels (or the Traefik container whose files) declare it
    config: dict[str, Any]  # keys below `http.routers.<name>.`

    @property
    def rule(self) -> str:
        return str(self.config.get("rule") or "")

    @property
    def hosts(self) -> list[str]:
        return HOST_RULE.findall(self.rule)

    @property
    def path_prefixes(self) -> list[str]:
        return PATH_PREFIX.findall(self.rule)

    @property
    def entrypoints(self) -> list[str] | None:
        """None: not restricted, so the router listens on every entrypoint."""
        return as_list(self.config["entrypoints"]) if "entrypoints" in self.config else None

    @property
    def tls(self) -> bool:
        return str(self.config.get("tls", "")).lower() == "true" or any(key.startswith("tls.") for key in self.config)

    @property
    def cert_resolver(self) -> str | None:
        value = self.config.get("tls.certresolver")
        return str(value) if value else None

    @property
    def middlewares(self) -> list[str]:
        return [bare(m) for m in as_list(self.config.get("middlewares"))]

    @property
    def service(self) -> str:
        return str(self.config.get("service") or self.name)


@dataclass(frozen=True)
class Middleware:
    name: str
    kind: str  # headers, ratelimit, forwardauth, chain, …
    config: dict[str, Any]


class TraefikConfig:
    """Static and dynamic configuration of the (first) Traefik container."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources
        traefik = resources.with_role("traefik")
        self.container: Container | None = traefik[0] if traefik else None

    @cached_property
    def _files(self) -> list[dict[str, Any]]:
        if self.container is None:
            return []
        return [
            parse_file(upload.path, content)
            for upload in self.resources.service_files(self.container.service)
            if (content := upload.readable) is not None
        ]

    @cached_property
    def static(self) -> dict[str, Any]:
        if self.container is None:
            return {}
        flat: dict[str, Any] = {}
        for data in self._files:
            flat.update({k.lower(): v for k, v in data.items() if not k.lower().startswith(DYNAMIC_ROOTS)})
        for key, value in self.container.env.items():
            if key.startswith("TRAEFIK_"):
                flat[key.removeprefix("TRAEFIK_").replace("_", ".").lower()] = value
        for arg in self.container.command:
            if arg.startswith("--"):
                key, sep, value = arg[2:].partition("=")
                flat[key.lower()] = value if sep else "true"
        return flat

    def static_value(self, key: str) -> str | None:
        value = self.static.get(key.lower())
        if value is None:
            return None
        return str(value).lower() if isinstance(value, bool) else str(value)

    def static_matching(self, pattern: str) -> dict[str, Any]:
        regex = re.compile(pattern)
        return {key: value for key, value in self.static.items() if regex.fullmatch(key)}

    @cached_property
    def _dynamic(self) -> list[tuple[str, dict[str, Any]]]:
        """(declaring urn, flat dynamic keys) per source: each container's labels, each file."""
        sources: list[tuple[str, dict[str, Any]]] = []
        for container in self.resources.running():
            labels = {
                _dynamic_key(key.removeprefix("traefik.")): value
                for key, value in container.labels.items()
                if isinstance(key, str) and key.startswith("traefik.") and isinstance(value, str)
            }
            if labels:
                sources.append((container.urn, labels))
        if self.container is not None:
            for data in self._files:
                dynamic = {_dynamic_key(k): v for k, v in data.items() if k.lower().startswith(DYNAMIC_ROOTS)}
                if dynamic:
                    sources.append((self.container.urn, dynamic))
        return sources

    def dynamic_value(self, key: str) -> str | None:
        """A dynamic setting outside routers/middlewares (e.g. `tls.options.default.minversion`)."""
        for _, flat in self._dynamic:
            if key in flat:
                return str(flat[key])
        return None

    @cached_property
    def routers(self) -> list[Router]:
        grouped: dict[tuple[str, str], dict[str, Any]] = {}
        for urn, flat in self._dynamic:
            for key, value in flat.items():
                parts = key.split(".", 3)
                if len(parts) == 4 and parts[0] == "http" and parts[1] == "routers":
                    grouped.setdefault((parts[2], urn), {})[parts[3]] = value
        return [Router(name, urn, config) for (name, urn), config in sorted(grouped.items())]

    @cached_property
    def middlewares(self) -> dict[str, Middleware]:
        found: dict[str, Middleware] = {}
        for _, flat in self._dynamic:
            for key, value in flat.items():
                parts = key.split(".", 4)
                if len(parts) >= 4 and parts[0] == "http" and parts[1] == "middlewares":
                    name, kind = parts[2], parts[3]
                    middleware = found.setdefault(name, Middleware(name, kind, {}))
                    if len(parts) == 5:
                        middleware.config[parts[4]] = value
        return found

    def effective(self, router: Router) -> list[Middleware]:
        """The router's middlewares with chains expanded (unknown names are left out)."""
        result: list[Middleware] = []
        seen: set[str] = set()

        def add(name: str) -> None:
            if name in seen or name not in self.middlewares:
                return
            seen.add(name)
            middleware = self.middlewares[name]
            if middleware.kind == "chain":
                for inner in as_list(middleware.config.get("middlewares")):
                    add(bare(inner))
            else:
                result.append(middleware)

        for name in router.middlewares:
            add(name)
        return result

    def has(self, router: Router, kind: str) -> list[Middleware]:
        return [m for m in self.effective(router) if m.kind == kind]

    def public(self, router: Router) -> bool:
        """A router served without forward-auth: the seed's public routes, and oauth2-proxy's
        own `/oauth2/` endpoints (sign-in and callback cannot sit behind the sign-in)."""
        if router.hosts and set(router.hosts) <= self.resources.seed.public_hosts:
            return True
        owner = next((c for c in self.resources.containers if c.urn == router.urn), None)
        prefixes = router.path_prefixes
        return owner is not None and owner.role == "oauth2-proxy" and bool(prefixes) and all(p.startswith("/oauth2") for p in prefixes)

    @property
    def cert_resolvers(self) -> set[str]:
        return {key.split(".")[1] for key in self.static if key.startswith("certificatesresolvers.")}
