"""Keycloak OIDC bearer tokens: signature against the realm's JWKS, issuer, audience, expiry, roles.

Realm roles are read from `realm_access.roles` (a claim of another shape counts as no roles). Keys are
cached; an unknown key id triggers one JWKS refetch (key rotation), at most every 30 s, done off the
event loop by the caller. While the last fetch failed, a token of an unknown key id is unverifiable
(IdentityProviderUnavailable, 503), not rejected: a valid token must not read as a wrong one (401).

A client sends the same access token with every request until it expires, so a token that passed every
check is remembered (bounded, by its exact text) with its principal and `exp`: a repeat costs one dict
look-up and the expiry comparison PyJWT would make. Once signature, issuer, audience, `iat` and `nbf` have
passed they stay passed; only `exp` can change the verdict, and an expired entry is dropped and the token
verified again, which rejects it with PyJWT's message. A JWKS refetch empties the memo.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import jwt
from jwt import PyJWK, PyJWKClient

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"]
UNAVAILABLE = "the identity provider's signing keys are unavailable"


class InvalidToken(Exception):
    """The bearer token cannot be trusted; the message is safe to return to the client."""


class IdentityProviderUnavailable(Exception):
    """The realm's JWKS could not be fetched."""


@dataclass(frozen=True)
class Principal:
    subject: str
    username: str
    email: str | None
    roles: frozenset[str]


class TokenVerifier:
    MEMO_SIZE = 1024

    def __init__(self, jwks_url: str, issuer: str, audience: str, leeway_seconds: int, refetch_interval: float = 30.0) -> None:
        self._client = PyJWKClient(jwks_url, cache_jwk_set=False, timeout=5)
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = float("-inf")
        self._unreachable = False  # the last JWKS fetch failed: an unknown key id is then unverifiable (503), not wrong (401)
        self._refetch_interval = refetch_interval
        self._lock = threading.Lock()
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._verified: dict[str, tuple[Principal, float]] = {}

    def needs_key_fetch(self, token: str) -> bool:
        """True when verifying `token` would call the identity provider (unknown key id)."""
        return token not in self._verified and _kid(token) not in self._keys

    def verify(self, token: str) -> Principal:
        verified = self._verified  # a JWKS refetch replaces the memo; a verdict reached before it lands in the old one
        memo = verified.get(token)
        if memo is not None:
            principal, expires = memo
            if time.time() - self._leeway < expires:  # PyJWT: expired when exp <= now - leeway
                return principal
            verified.pop(token, None)
        principal, expires = self._verify(token)
        if len(verified) >= self.MEMO_SIZE:
            # dicts keep insertion order: forget the oldest quarter (other threads may be changing the memo too)
            for old in list(verified)[: self.MEMO_SIZE // 4]:
                verified.pop(old, None)
        verified[token] = (principal, expires)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        key = self._signing_key(token)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as error:
            raise InvalidToken(f"token rejected: {error}") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject:
            raise InvalidToken("token rejected: its subject is not a string")
        username, email = claims.get("preferred_username"), claims.get("email")
        principal = Principal(
            subject=subject,
            username=username if isinstance(username, str) and username else subject,
            email=email if isinstance(email, str) else None,
            roles=realm_roles(claims),
        )
        return principal, float(claims["exp"])

    def _signing_key(self, token: str) -> PyJWK:
        kid = _kid(token)
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at >= self._refetch_interval:
                self._refresh()
        key = self._keys.get(kid)
        if key is None:
            if self._unreachable:  # the key may well exist: the last fetch failed, and the next waits its turn
                raise IdentityProviderUnavailable(UNAVAILABLE)
            raise InvalidToken("token rejected: unknown signing key")
        return key

    def _refresh(self) -> None:
        try:
            jwk_set = self._client.get_jwk_set(refresh=True)
        except jwt.PyJWKClientError as error:
            self._unreachable = True
            raise IdentityProviderUnavailable(UNAVAILABLE) from error
        finally:
            self._fetched_at = time.monotonic()
        self._unreachable = False
        self._keys = {key.key_id: key for key in jwk_set.keys if key.key_id}
        self._verified = {}  # a key may have been withdrawn: verify every token again


def realm_roles(claims: dict[str, object]) -> frozenset[str]:
    """`realm_access.roles` when it has Keycloak's shape (an object holding a list of strings); any other
    shape (null, a string, a list, a number, roles as an object...) is no roles: 403, never an error."""
    access = claims.get("realm_access")
    roles = access.get("roles") if isinstance(access, dict) else None
    if not isinstance(roles, list):
        return frozenset()
    return frozenset(role for role in roles if isinstance(role, str))


def _kid(token: str) -> str:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise InvalidToken("token rejected: not a JWT") from None
    if not isinstance(kid, str):
        raise InvalidToken("token rejected: no key id")
    return kid
