"""Drive Keycloak's real authorization-code + PKCE flow over HTTP, as a browser would.

No password grant: the driver opens the authorization endpoint, fills Keycloak's login form
(parsing the form's action URL), answers the OTP form or enrols OTP when Keycloak asks
(RFC 6238 codes from pyotp), stops at the redirect back to the client and exchanges the code
with the PKCE verifier and the client secret. Used by the conformance tests (Keycloak on
127.0.0.1) and the live lab (every host name through Traefik on 127.0.0.1: `to_loopback`).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpcore
import httpx
import pyotp

FORM = re.compile(r'<form[^>]*\bid="(?P<id>[^"]+)"[^>]*\baction="(?P<action>[^"]+)"', re.S)
FORM_ACTION_FIRST = re.compile(r'<form[^>]*\baction="(?P<action>[^"]+)"[^>]*\bid="(?P<id>[^"]+)"', re.S)
HIDDEN_TOTP_SECRET = re.compile(r'name="totpSecret"[^>]*value="(?P<value>[^"]+)"|value="(?P<value2>[^"]+)"[^>]*name="totpSecret"')


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


class LoopbackBackend(httpcore.SyncBackend):
    """Connects every host name to 127.0.0.1, as a browser does for `*.localhost` (RFC 6761);
    the URL, the Host header, TLS SNI and the cookie domains keep the name."""

    def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> httpcore.NetworkStream:
        return super().connect_tcp("127.0.0.1", port, *args, **kwargs)


def to_loopback(verify: ssl.SSLContext | bool = True) -> httpx.HTTPTransport:
    """A transport that sends every request to 127.0.0.1 (the lab's Traefik), by its host name."""
    transport = httpx.HTTPTransport(verify=verify)
    context = httpx.create_ssl_context(verify=verify) if not isinstance(verify, ssl.SSLContext) else verify
    # httpx 0.28 takes no network backend; its pool is the one attribute to replace (httpx is pinned)
    transport._pool = httpcore.ConnectionPool(ssl_context=context, network_backend=LoopbackBackend())
    return transport


def browser(transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A cookie-keeping HTTP client that stops at redirects, like a browser tab we inspect.

    Browsers treat http://127.0.0.1 as a secure context (W3C Secure Contexts) and send it
    Keycloak's `Secure` session cookies; httpx's cookie jar would not, so a request hook
    sends them, as a browser does.
    """
    client = httpx.Client(follow_redirects=False, timeout=30, transport=transport)

    def send_secure_cookies_to_loopback(request: httpx.Request) -> None:
        if request.url.host in LOOPBACK:
            pairs = [f"{c.name}={c.value}" for c in client.cookies.jar if request.url.path.startswith(c.path)]
            if pairs:
                request.headers["Cookie"] = "; ".join(pairs)

    client.event_hooks["request"] = [send_secure_cookies_to_loopback]
    return client


class LoginFailed(RuntimeError):
    """Keycloak did not redirect back with a code; carries the page for the assertion message."""

    def __init__(self, message: str, page: httpx.Response | None) -> None:
        super().__init__(f"{message} (HTTP {page.status_code}, forms: {forms(page.text)})" if page is not None else message)
        self.page = page


def forms(page: str) -> dict[str, str]:
    """Form id -> action URL of a Keycloak page."""
    found = {m["id"]: html.unescape(m["action"]) for m in FORM.finditer(page)}
    found |= {m["id"]: html.unescape(m["action"]) for m in FORM_ACTION_FIRST.finditer(page)}
    return found


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def claims(jwt: str) -> dict[str, Any]:
    """The payload of a JWT (signature checked by whoever consumes it: OpenBao, the apps)."""
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class Tokens:
    access_token: str
    id_token: str
    refresh_token: str

    @property
    def access(self) -> dict[str, Any]:
        return claims(self.access_token)

    @property
    def id(self) -> dict[str, Any]:
        return claims(self.id_token)


@dataclass
class OtpDevice:
    """The user's authenticator app: the secret Keycloak showed at enrolment."""

    secret: str = ""
    used: set[str] = field(default_factory=set)

    def code(self) -> str:
        """A fresh code; Keycloak refuses a reused one, so step into the look-ahead window if needed."""
        totp = pyotp.TOTP(base64.b32encode(self.secret.encode()).decode())
        now = time.time()
        for offset in (0, 30):
            code = totp.at(now + offset)
            if code not in self.used:
                self.used.add(code)
                return code
        raise LoginFailed("no unused TOTP code within the look-ahead window", None)


@dataclass
class OidcClient:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    transport: httpx.BaseTransport | None = None

    def authorization_url_params(self, challenge: str, **overrides: str) -> dict[str, str]:
        params = {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "response_type": "code",
            "scope": "openid",
            "state": secrets.token_urlsafe(12),
            "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        return {key: value for key, value in (params | overrides).items() if value is not None}

    def open_login(self, tab: httpx.Client, challenge: str, **overrides: str) -> httpx.Response:
        return tab.get(f"{self.issuer}/protocol/openid-connect/auth", params=self.authorization_url_params(challenge, **overrides))

    def login(self, username: str, password: str, otp: OtpDevice | None = None) -> Tokens:
        """The whole flow for one user; raises LoginFailed where Keycloak does not issue a code."""
        verifier, challenge = pkce_pair()
        with browser(self.transport) as tab:
            page = self.open_login(tab, challenge)
            action = forms(page.text).get("kc-form-login")
            if page.status_code != 200 or action is None:
                raise LoginFailed("no login form", page)
            page = self._within_keycloak(tab, tab.post(action, data={"username": username, "password": password, "credentialId": ""}))
            page = self._within_keycloak(tab, self._second_factor(tab, page, otp))
            code = self._code(page)
        return self.exchange(code, verifier)

    def _within_keycloak(self, tab: httpx.Client, page: httpx.Response) -> httpx.Response:
        """Follow Keycloak's own redirects (e.g. to a required action), stop at the client's."""
        for _ in range(5):
            location = page.headers.get("location", "")
            if page.status_code != 302 or location.startswith(self.redirect_uri):
                return page
            page = tab.get(page.url.join(location))
        raise LoginFailed("redirect loop inside Keycloak", page)

    def _second_factor(self, tab: httpx.Client, page: httpx.Response, otp: OtpDevice | None) -> httpx.Response:
        found = forms(page.text) if page.status_code == 200 else {}
        if "kc-totp-settings-form" in found:
            if otp is None:
                raise LoginFailed("Keycloak demands OTP enrolment", page)
            match = HIDDEN_TOTP_SECRET.search(page.text)
            if match is None:
                raise LoginFailed("OTP enrolment page without a secret", page)
            otp.secret = html.unescape(match["value"] or match["value2"])
            data = {"totp": otp.code(), "totpSecret": otp.secret, "userLabel": "conformance", "mode": ""}
            return tab.post(found["kc-totp-settings-form"], data=data)
        if "kc-otp-login-form" in found:
            if otp is None:
                raise LoginFailed("Keycloak demands an OTP code", page)
            return tab.post(found["kc-otp-login-form"], data={"otp": otp.code(), "login": "Sign In"})
        return page

    def _code(self, page: httpx.Response) -> str:
        location = page.headers.get("location", "")
        if page.status_code != 302 or not location.startswith(self.redirect_uri + "?"):
            raise LoginFailed("no redirect back to the client", page)
        query = parse_qs(urlparse(location).query)
        if "code" not in query:
            raise LoginFailed(f"redirect without a code: {query}", page)
        return query["code"][0]

    def exchange(self, code: str, verifier: str) -> Tokens:
        with httpx.Client(timeout=30, transport=self.transport) as client:
            response = client.post(
                f"{self.issuer}/protocol/openid-connect/token",
                data={
                    "grant_type": "authorization_code",
                    "code": code,
                    "redirect_uri": self.redirect_uri,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "code_verifier": verifier,
                },
            )
        response.raise_for_status()
        body = response.json()
        return Tokens(access_token=body["access_token"], id_token=body["id_token"], refresh_token=body["refresh_token"])
