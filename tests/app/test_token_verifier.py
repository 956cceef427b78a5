"""The token verifier while the identity provider is away and when it comes back, against a real JWKS
endpoint on loopback (http.server) and a closed loopback port.

The load benchmark found it: a worker that had not fetched the realm's keys before Keycloak stopped
answered the first request 503 and then, for the 30 s until the next fetch was allowed, 401 to the
same valid token ("unknown signing key")."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.security import IdentityProviderUnavailable, InvalidToken, TokenVerifier
from tests.servers._process import LOOPBACK, free_port

ISSUER, AUDIENCE, KID = "https://auth.example.test/realms/sevensa", "psra-api", "realm-key-1"
PRIVATE_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwks(kid: str) -> bytes:
    key = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(PRIVATE_KEY.public_key()))
    return json.dumps({"keys": [key | {"kid": kid, "use": "sig", "alg": "RS256"}]}).encode()


def token(kid: str = KID) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "alice-id", "iat": now, "exp": now + 300, "realm_access": {"roles": ["psra-user"]}}
    return jwt.encode(claims, PRIVATE_KEY, algorithm="RS256", headers={"kid": kid})


class RealmKeys:
    """A JWKS endpoint that can be switched off and on (the port stays the same)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.document = jwks(KID)
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/certs"

    def start(self) -> None:
        document = self.document

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer((LOOPBACK, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def realm_keys() -> Iterator[RealmKeys]:
    keys = RealmKeys()
    yield keys
    keys.stop()


def verifier(url: str, refetch_interval: float = 30.0) -> TokenVerifier:
    return TokenVerifier(url, ISSUER, AUDIENCE, leeway_seconds=0, refetch_interval=refetch_interval)


def test_a_valid_token_is_unverifiable_not_wrong_while_the_keys_cannot_be_fetched(realm_keys: RealmKeys) -> None:
    tokens = verifier(realm_keys.url)
    for _ in range(3):  # the first request fetches and fails; the next ones wait for the 30 s turn
        with pytest.raises(IdentityProviderUnavailable, match="signing keys are unavailable"):
            tokens.verify(token())


def test_once_the_keys_are_back_the_same_token_is_verified(realm_keys: RealmKeys) -> None:
    tokens = verifier(realm_keys.url, refetch_interval=0)
    with pytest.raises(IdentityProviderUnavailable):
        tokens.verify(token())
    realm_keys.start()
    principal = tokens.verify(token())
    assert principal.subject == "alice-id" and principal.roles == frozenset({"psra-user"})


def test_a_key_the_reachable_realm_does_not_have_is_rejected(realm_keys: RealmKeys) -> None:
    realm_keys.start()
    tokens = verifier(realm_keys.url)
    assert tokens.verify(token()).username == "alice-id"
    for _ in range(2):  # refetched once, then (within the 30 s) refused from the keys in hand
        with pytest.raises(InvalidToken, match="unknown signing key"):
            tokens.verify(token(kid="another-key"))
