"""Secret rules (SEC-*): nothing sensitive in plaintext anywhere in the export.

A value is encrypted iff it is Pulumi's secret envelope (fact 3). Policy packs cannot tell
the two apart (pulumi-policy#241), so these rules are `export_only`: they run on plans and
real `pulumi stack export` documents. Findings name where a value sits, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from infra.audit.model import Rule, Severity, is_secret, is_unknown, rules_on, strings
from infra.audit.resources import Container, Resources, Upload
from infra.plan.document import ExportedResource
from infra.spec.models import SECRET_KEY_PATTERN

SENSITIVE_KEY = re.compile(rf"{SECRET_KEY_PATTERN.pattern}|(encryption|signing|access|master|private|secret)[_-]?key", re.I)
# Keys that mention a secret but hold metadata about it (a TTL, a policy, a file path …).
METADATA_KEY = re.compile(
    r"(ttl|lifespan|timeout|polic(y|ies)|type|method|version|enabled|required|uri|uris|url|path|file|dir|name|claims?|"
    r"cidrs|uses|length|count|header|mode|algorithm|expiration|rotation|endpoint|domains?|samesite|secure)$",
    re.I,
)
# user:password@ in a URL; templated placeholders ({{password}}, ${PASSWORD}) are not values.
CREDENTIAL_URL = re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@{}$]*:[^/\s@{}$]+@", re.I)  # an empty user too: redis://:pw@host
CONFIG_ASSIGNMENT = re.compile(r"""^\s*["']?([A-Za-z0-9_.-]+)["']?\s*[:=]\s*(.*?)\s*$""")
PRIVATE_KEY_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
EMPTY_VALUES = frozenset({"", "''", '""', "~", "null", "true", "false", "[]", "{}"})
ENV_LISTS = frozenset({"envs", "env", "environment"})
# A credential given on a command line (visible in `ps`, `docker inspect`, the export): a secret flag with
# its value, a secret variable assigned inline (`PGPASSWORD=… psql`), redis-cli's `-a <password>`.
SECRET_FLAG = re.compile(
    r"(?:^|\s)--?(?:[a-z0-9]+[-_.])*(?:password|passwd|pass|secret|token|requirepass|masterauth|api[-_]?key)(?:=|\s+)(?P<value>[^\s;&|]+)",
    re.I,
)
INLINE_SECRET = re.compile(r"(?:^|[\s;&|])(?P<key>[A-Za-z_]*(?:PASSWORD|PASSWD|SECRET|TOKEN)[A-Za-z_]*)=(?P<value>[^\s;&|]+)")
REDIS_CLI_AUTH = re.compile(r"\bredis-cli\b.*?\s-a\s+(?P<value>[^\s;&|]+)")
# Configuration directives that carry a password as their argument (redis.conf, sentinel.conf).
SECRET_DIRECTIVE = re.compile(r"^\s*(?P<key>requirepass|masterauth|masterpass|sentinel\s+auth-pass\s+\S+)\s+(?P<value>\S.*?)\s*$", re.I)


def sensitive_key(key: str) -> bool:
    """A key that names a secret itself (not its TTL, file, policy …); write-only inputs are never stored."""
    is_path = key.startswith("/")  # a mount point such as tmpfs {"/run/secrets": "size=1m"} names a place
    return bool(SENSITIVE_KEY.search(key)) and not METADATA_KEY.search(key) and not key.endswith("Wo") and not is_path


def _plaintext(value: Any) -> bool:
    return isinstance(value, str) and value.strip() not in EMPTY_VALUES and not is_unknown(value)


def _env_findings(entries: list[Any], where: str) -> Iterator[str]:
    for index, entry in enumerate(entries):
        if not isinstance(entry, str):
            continue
        key, _, value = entry.partition("=")
        if (sensitive_key(key) and _plaintext(value)) or CREDENTIAL_URL.search(value):
            yield f"plaintext secret in {where}[{index}] ({key})"


def plaintext_secrets(node: Any, where: str) -> Iterator[str]:
    """Where `node` holds a sensitive value outside an envelope (the value is never shown)."""
    if is_secret(node):
        return
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}.{key}"
            if key in ENV_LISTS and isinstance(value, list):
                yield from _env_findings(value, path)
            elif sensitive_key(str(key)) and _plaintext(value):
                yield f"plaintext secret at {path}"
            else:
                yield from plaintext_secrets(value, path)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from plaintext_secrets(item, f"{where}[{index}]")
    elif isinstance(node, str) and CREDENTIAL_URL.search(node):
        yield f"credentials embedded in a URL at {where}"


def _export_walk(resource: ExportedResource, _: Resources) -> Iterator[str]:
    yield from plaintext_secrets(resource.inputs, "inputs")
    yield from plaintext_secrets(resource.outputs, "outputs")


def _env(container: Container, _: Resources) -> Iterator[str]:
    for key in container.env:
        if sensitive_key(key):
            yield f"container {container.name} gets {key} through its environment (visible in docker inspect)"
    if container.secret_env_entries:
        yield f"container {container.name} gets {container.secret_env_entries} secret env entr(ies); secrets belong in *_FILE files"


def _labels(container: Container, _: Resources) -> Iterator[str]:
    for key, value in container.labels.items():
        if is_secret(value):
            yield f"label {key} of {container.name} carries a secret"
        elif sensitive_key(str(key)) and _plaintext(value):
            yield f"label {key} of {container.name} looks secret"
        elif isinstance(value, str) and CREDENTIAL_URL.search(value):
            yield f"label {key} of {container.name} embeds credentials in a URL"


def config_secrets(upload: Upload) -> Iterator[str]:
    """Secret assignments, credential URLs or private keys in a plaintext file."""
    content = upload.readable
    if content is None:
        return
    if PRIVATE_KEY_BLOCK.search(content):
        yield f"file {upload.path} holds a private key in plaintext"
    for number, line in enumerate(content.splitlines(), start=1):
        match = CONFIG_ASSIGNMENT.match(line)
        if match and sensitive_key(match.group(1)):
            value = match.group(2).strip().strip(",")
            if value.strip("'\"") and value not in EMPTY_VALUES and not value.strip("'\"").startswith(("/", "$", "{{")):
                yield f"file {upload.path} line {number} sets {match.group(1)} in plaintext"
        if CREDENTIAL_URL.search(line):
            yield f"file {upload.path} line {number} embeds credentials in a URL"


def _uploads(container: Container, _: Resources) -> Iterator[str]:
    for upload in container.uploads:
        name = upload.path.rsplit("/", 1)[-1]
        if upload.readable is not None and sensitive_key(name.replace(".", "_")):
            yield f"file {upload.path} of {container.name} looks secret but its content is not a Pulumi secret"
        else:
            for finding in config_secrets(upload):
                yield f"{finding} ({container.name})"


def _is_reference(value: str) -> bool:
    """A value that names where a secret is, not the secret: a path, a variable, a template, a flag."""
    value = value.strip("'\"")
    return not value or value.startswith(("/", "$", "{{", "@", "-")) or value in EMPTY_VALUES


def command_credentials(text_: str) -> Iterator[str]:
    """What in one command-line string carries a credential (never the value itself)."""
    for match in SECRET_FLAG.finditer(text_):
        if not _is_reference(match.group("value")):
            yield "a secret flag with its value"
    for match in INLINE_SECRET.finditer(text_):
        if not _is_reference(match.group("value")) and not match.group("key").endswith("_FILE"):
            yield f"{match.group('key')} assigned inline"
    for match in REDIS_CLI_AUTH.finditer(text_):
        if not _is_reference(match.group("value")):
            yield "redis-cli -a with a password"
    if CREDENTIAL_URL.search(text_):
        yield "a URL with credentials"


def _command_lines(container: Container) -> Iterator[tuple[str, list[str]]]:
    check = container.inputs.get("healthcheck")
    yield "command", container.command
    yield "entrypoint", strings(container.inputs.get("entrypoints"))
    yield "healthcheck", strings(check.get("tests")) if isinstance(check, dict) else []


def _credentials(container: Container, _: Resources) -> Iterator[str]:
    for where, args in _command_lines(container):
        # `--password pw` is two arguments: look at the line as the process sees it, and at each argument
        found = set(command_credentials(" ".join(args))) | {hit for arg in args for hit in command_credentials(arg)}
        for hit in sorted(found):
            yield f"container {container.name}: {where} carries {hit}"
    for key, value in container.env.items():
        if isinstance(value, str) and next(command_credentials(value), None):
            yield f"container {container.name}: env {key} carries credentials in its value"
    for upload in container.uploads:
        for number, line in enumerate((upload.readable or "").splitlines(), start=1):
            match = SECRET_DIRECTIVE.match(line)
            if match and not _is_reference(match.group("value")):
                yield f"container {container.name}: file {upload.path} line {number} sets {match.group('key').split()[0]} in plaintext"


every_container = rules_on(lambda r: r.containers)

RULES: tuple[Rule, ...] = (
    Rule(
        "SEC-01",
        Severity.HIGH,
        "every sensitive value in the export is encrypted",
        "wrap the value in pulumi.Output.secret (or a pulumi_random secret) so state and exports seal it",
        "Pulumi secrets docs",
        subjects=lambda r: r.all,
        violations=_export_walk,
        export_only=True,
    ),
    every_container(
        "SEC-02",
        Severity.MEDIUM,
        "no secrets in container env",
        "upload the secret as a file (content a Pulumi secret) and pass KEY_FILE=/path",
        "postgres image file_env convention",
        _env,
        export_only=True,
    ),
    every_container(
        "SEC-03",
        Severity.HIGH,
        "no secrets in Docker labels",
        "labels carry names and routes only; move the value to a secret file",
        '"Leaky Labels" (cAdvisor)',
        _labels,
        export_only=True,
    ),
    every_container(
        "SEC-05",
        Severity.HIGH,
        "no credentials on command lines, in env values or in plaintext config directives",
        "pass the secret as a file (content a Pulumi secret) and point the program at it: --password-file, "
        "REDISCLI_AUTH from a file, `include /run/secrets/redis.conf` for requirepass; never user:password@ in a URL",
        "CWE-214; Docker secrets docs",
        _credentials,
        export_only=True,
    ),
    every_container(
        "SEC-04",
        Severity.HIGH,
        "uploaded files with secrets are Pulumi secrets",
        "pass the file's content as pulumi.Output.secret (secret_files of the hardened container)",
        "pulumi-docker schema",
        _uploads,
        export_only=True,
    ),
)
