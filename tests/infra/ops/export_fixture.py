"""The fixture `fixtures/passphrase-stack-export.json`: a `pulumi stack export` of a stack with
the passphrase secrets provider, in the CLI's exact format, with real ciphertexts.

Pulumi's passphrase provider: key = PBKDF2-HMAC-SHA256(passphrase, 8-byte salt, 1,000,000
rounds, 32 bytes); a secret is AES-256-GCM over the JSON of its value, written
`v1:<b64 nonce>:<b64 ciphertext+tag>`; the stack's salt state is `v1:<b64 salt>:` followed
by the encryption of "pulumi". `python -m tests.infra.ops.export_fixture` regenerates the file;
tests decrypt it with PASSPHRASE to prove the ciphertexts are real and the plaintexts known.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

FIXTURE = Path(__file__).with_name("fixtures") / "passphrase-stack-export.json"
PASSPHRASE = "correct horse battery staple (test only)"
SIG, SECRET = "4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270"
# The secret values inside the fixture: none may ever appear in an auditor export.
PLAINTEXTS = {
    "db_password": "fixture-Db-Pa55word-9f1c2e",
    "bcrypt": "$2a$10$fixtureBcryptHashValue0123456789abcdefghijklmnopq",
    "cookie": "fixture-cookie-secret-32-bytes-long!",
}


def derive_key(passphrase: str, salt: bytes) -> bytes:
    return PBKDF2HMAC(algorithm=hashes.SHA256(), length=32, salt=salt, iterations=1_000_000).derive(passphrase.encode())


def encrypt(key: bytes, plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), None)
    return f"v1:{base64.b64encode(nonce).decode()}:{base64.b64encode(sealed).decode()}"


def decrypt(key: bytes, ciphertext: str) -> str:
    _, nonce, sealed = ciphertext.split(":")
    return AESGCM(key).decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode()


def key_from_state(passphrase: str, salt_state: str) -> bytes:
    """The key for a stack's salt state; raises if the passphrase is wrong (as Pulumi does)."""
    _, salt, verifier = salt_state.split(":", 2)
    key = derive_key(passphrase, base64.b64decode(salt))
    try:
        if decrypt(key, verifier) == "pulumi":
            return key
    except InvalidTag:
        pass
    raise ValueError("incorrect passphrase")


def _secret(key: bytes, value: Any) -> dict[str, str]:
    return {SIG: SECRET, "ciphertext": encrypt(key, json.dumps(value))}


def build(passphrase: str = PASSPHRASE) -> dict[str, Any]:
    salt = os.urandom(8)
    key = derive_key(passphrase, salt)
    stack = "urn:pulumi:prod::sevensa-platform::pulumi:pulumi:Stack::sevensa-platform-prod"
    random_provider = "urn:pulumi:prod::sevensa-platform::pulumi:providers:random::default_4_21_4"
    docker_provider = "urn:pulumi:prod::sevensa-platform::pulumi:providers:docker::docker"
    password = "urn:pulumi:prod::sevensa-platform::random:index/randomPassword:RandomPassword::psra-db-password"
    container = "urn:pulumi:prod::sevensa-platform::docker:index/container:Container::psra-db-container"
    stamp = {"created": "2026-11-20T09:12:44.118203Z", "modified": "2026-11-20T09:12:44.118203Z"}
    return {
        "version": 3,
        "deployment": {
            "manifest": {
                "time": "2026-11-20T09:13:02.771954+00:00",
                "magic": "d1a0b9d73cf6d3a7a1d7e7e9ab0de0c1cbd58f0f3a2c6e5a9b5c9f2e1d7c4b3a",
                "version": "v3.272.0",
            },
            "secrets_providers": {
                "type": "passphrase",
                "state": {"salt": f"v1:{base64.b64encode(salt).decode()}:{encrypt(key, 'pulumi')}"},
            },
            "resources": [
                {
                    "urn": stack,
                    "custom": False,
                    "type": "pulumi:pulumi:Stack",
                    "outputs": {"domain": "sevensa.nl", "cookieSecret": _secret(key, PLAINTEXTS["cookie"])},
                    **stamp,
                },
                {
                    "urn": random_provider,
                    "custom": True,
                    "id": "5e7e1f0c-0b8d-4c55-9b2e-7b1f2f6c8d11",
                    "type": "pulumi:providers:random",
                    "inputs": {"__internal": {"pluginDownloadURL": ""}, "version": "4.21.4"},
                    "outputs": {"version": "4.21.4"},
                    **stamp,
                },
                {
                    "urn": docker_provider,
                    "custom": True,
                    "id": "9a1c4e2b-6f3d-4a7b-8c9d-0e1f2a3b4c5d",
                    "type": "pulumi:providers:docker",
                    "inputs": {"host": "ssh://deploy@147.93.57.40", "version": "5.2.0"},
                    "outputs": {"host": "ssh://deploy@147.93.57.40", "version": "5.2.0"},
                    "parent": stack,
                    **stamp,
                },
                {
                    "urn": password,
                    "custom": True,
                    "id": "none",
                    "type": "random:index/randomPassword:RandomPassword",
                    "inputs": {
                        "__defaults": ["lower", "minLower", "minNumeric", "minSpecial", "minUpper", "number", "numeric", "upper"],
                        "length": 32,
                        "special": False,
                    },
                    "outputs": {
                        "bcryptHash": _secret(key, PLAINTEXTS["bcrypt"]),
                        "id": "none",
                        "length": 32,
                        "lower": True,
                        "minLower": 0,
                        "minNumeric": 0,
                        "minSpecial": 0,
                        "minUpper": 0,
                        "number": True,
                        "numeric": True,
                        "result": _secret(key, PLAINTEXTS["db_password"]),
                        "special": False,
                        "upper": True,
                    },
                    "parent": stack,
                    "provider": f"{random_provider}::5e7e1f0c-0b8d-4c55-9b2e-7b1f2f6c8d11",
                    "propertyDependencies": {"length": [], "special": []},
                    "additionalSecretOutputs": ["bcryptHash", "result"],
                    **stamp,
                },
                {
                    "urn": container,
                    "custom": True,
                    "id": "3f5c9a0e8b7d",
                    "type": "docker:index/container:Container",
                    "inputs": {
                        "__defaults": ["attach", "logs", "mustRun", "start", "wait", "waitTimeout"],
                        "image": "postgres:16.10-alpine",
                        "envs": ["POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password"],
                        "name": "psra-db",
                        "uploads": [
                            {
                                "__defaults": ["executable"],
                                "content": _secret(key, PLAINTEXTS["db_password"]),
                                "executable": False,
                                "file": "/run/secrets/postgres-password",
                            }
                        ],
                    },
                    "outputs": {
                        "envs": ["POSTGRES_PASSWORD_FILE=/run/secrets/postgres-password"],
                        "image": "postgres:16.10-alpine",
                        "name": "psra-db",
                        "uploads": [
                            {
                                "content": _secret(key, PLAINTEXTS["db_password"]),
                                "executable": False,
                                "file": "/run/secrets/postgres-password",
                            }
                        ],
                    },
                    "parent": stack,
                    "dependencies": [password],
                    "provider": f"{docker_provider}::9a1c4e2b-6f3d-4a7b-8c9d-0e1f2a3b4c5d",
                    "propertyDependencies": {"uploads": [password]},
                    **stamp,
                },
            ],
        },
    }


def decrypted(document: dict[str, Any], passphrase: str = PASSPHRASE) -> dict[str, Any]:
    """What `pulumi stack export --show-secrets` prints: envelopes with `plaintext`."""
    key = key_from_state(passphrase, document["deployment"]["secrets_providers"]["state"]["salt"])

    def walk(node: Any) -> Any:
        if isinstance(node, dict) and node.get(SIG) == SECRET:
            return {SIG: SECRET, "plaintext": decrypt(key, node["ciphertext"])}
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(document)


if __name__ == "__main__":
    FIXTURE.parent.mkdir(exist_ok=True)
    FIXTURE.write_text(json.dumps(build(), indent=4) + "\n")
    print(f"wrote {FIXTURE}")
