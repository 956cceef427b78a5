"""Web security of the pages, over HTTP against the app in its own process (users from real Keycloak
tokens): no page without a valid token, CSRF on every form post, the strict CSP and cookie attributes,
escaped input, each user's data kept from the others, logout through oauth2-proxy and Keycloak; and the
local mode refused wherever it could sign in strangers."""

from __future__ import annotations

import re
from datetime import date, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.settings import Settings
from app.web.local import LocalModeRefused
from tests.web.conftest import RunningApp
from tests.web.realm import REALM, WebRealm

pytestmark = pytest.mark.servers

CSP = "default-src 'none'; script-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"


class Browser:
    """An HTTP client that behaves like the browser behind oauth2-proxy: the user's token on every request and
    the CSRF cookie sent back (httpx keeps Secure cookies for https only; Chromium also for http://127.0.0.1)."""

    def __init__(self, app: RunningApp, token: str) -> None:
        self.client = httpx.Client(base_url=app.base_url, headers={"X-Forwarded-Access-Token": token}, follow_redirects=False)
        self.cookie = ""

    def csrf(self, path: str = "/declarations") -> str:
        page = self.client.get(path, headers={"Cookie": self.cookie})
        assert page.status_code == 200, page.text
        match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert match is not None
        self.cookie = f"__Host-psra_csrf={match.group(1)}"
        return match.group(1)

    def post(self, path: str, data: dict[str, str], headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(path, data=data, headers={"Cookie": self.cookie, **(headers or {})})

    def declaration(self, supplier: str, **extra: str) -> httpx.Response:
        today = date.today()
        form = {
            "csrf_token": self.csrf(),
            "type": "ltsd",
            "supplier_name": supplier,
            "supplier_country": "DE",
            "agreements": "EU-JP",
            "products": "steel",
            "issue_date": (today - timedelta(days=5)).isoformat(),
            "valid_from": (today - timedelta(days=5)).isoformat(),
            "valid_until": (today + timedelta(days=300)).isoformat(),
            **extra,
        }
        return self.post("/declarations", form)


def test_pages_need_a_valid_token(platform_app: RunningApp) -> None:
    for headers in ({}, {"X-Forwarded-Access-Token": "not-a-jwt"}, {"Authorization": "Bearer not-a-jwt"}, {"X-Forwarded-User": "web-alice"}):
        page = httpx.get(f"{platform_app.base_url}/calculations", headers=headers)
        assert page.status_code == 401
        assert "<h1>Sign-in required</h1>" in page.text
        assert page.headers["content-security-policy"] == CSP


def test_headers_and_cookie(platform_app: RunningApp, web_realm: WebRealm) -> None:
    page = httpx.get(f"{platform_app.base_url}/calculations/new", headers={"X-Forwarded-Access-Token": web_realm.token("web-alice")})
    assert page.status_code == 200
    assert page.headers["content-security-policy"] == CSP
    assert page.headers["x-frame-options"] == "DENY" and page.headers["x-content-type-options"] == "nosniff"
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-psra_csrf=")
    assert {"HttpOnly", "Path=/", "SameSite=strict", "Secure"} <= {part.strip() for part in cookie.split(";")[1:]}
    assert "<script" not in page.text and "style=" not in page.text  # nothing the CSP would have to allow


def test_form_posts_need_the_csrf_token(platform_app: RunningApp, web_realm: WebRealm) -> None:
    alice = Browser(platform_app, web_realm.token("web-alice"))
    token = alice.csrf()
    for data, headers in (
        ({"type": "ltsd"}, {}),  # no token
        ({"csrf_token": "x" * 43}, {}),  # not this browser's
        ({"csrf_token": token}, {"Origin": "http://attacker.invalid"}),  # from another site
    ):
        refused = alice.post("/declarations", data, headers)
        assert refused.status_code == 403
        assert "The form was refused" in refused.text
    stored = alice.declaration("CSRF Check GmbH")
    assert stored.status_code == 303 and stored.headers["location"] == "/declarations?created=1"


def test_input_is_escaped(platform_app: RunningApp, web_realm: WebRealm) -> None:
    alice = Browser(platform_app, web_realm.token("web-alice"))
    assert alice.declaration('<script>alert("x")</script> & Co').status_code == 303
    page = alice.client.get("/declarations").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in page and '<script>alert("x")' not in page


def test_users_see_only_their_own_declarations(platform_app: RunningApp, web_realm: WebRealm) -> None:
    alice = Browser(platform_app, web_realm.token("web-alice"))
    bob = Browser(platform_app, web_realm.token("web-bob"))
    assert alice.declaration("Alice Only Stahl GmbH").status_code == 303
    alices_page = alice.client.get("/declarations").text
    declaration_id = re.search(r'action="/declarations/([0-9a-f-]{36})/withdraw"', alices_page).group(1)  # type: ignore[union-attr]
    assert "Alice Only Stahl GmbH" not in bob.client.get("/declarations").text
    assert "Alice Only Stahl GmbH" not in bob.client.get("/calculations/new").text  # not offered as proof either
    withdraw = bob.post(f"/declarations/{declaration_id}/withdraw", {"csrf_token": bob.csrf()})
    assert withdraw.status_code == 404
    form = {
        "csrf_token": bob.csrf("/calculations/new"),
        "agreement": "EU-JP",
        "assessment_date": date.today().isoformat(),
        "product_hs_code": "850110",
        "product_ex_works_price": "100",
        "m0_hs_code": "720917",
        "m0_origin": "DE",
        "m0_value": "10",
        "m0_proof": f"declaration:{declaration_id}",
    }
    refused = bob.post("/calculations/new", form)
    assert refused.status_code == 422
    assert '<p class="error" id="m0_proof-error">no supplier declaration with this id is available to you</p>' in refused.text
    assert 'value="850110"' in refused.text  # what bob typed is still there


def test_logout_ends_the_keycloak_session(platform_app: RunningApp, web_realm: WebRealm, keycloak_server: object) -> None:
    response = httpx.get(f"{platform_app.base_url}/logout", headers={"X-Forwarded-Access-Token": web_realm.token("web-alice")})
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/oauth2/sign_out"
    end_session = urlsplit(parse_qs(location.query)["rd"][0])
    assert f"{end_session.scheme}://{end_session.netloc}{end_session.path}" == f"{web_realm.base_url}/realms/{REALM}/protocol/openid-connect/logout"
    assert parse_qs(end_session.query) == {"client_id": ["oauth2-proxy"], "post_logout_redirect_uri": [f"{platform_app.base_url}/"]}


def test_local_mode_answers_loopback_clients_only(tmp_path: object) -> None:
    settings = Settings(local_mode=True, sqlite_path=tmp_path / "psra.sqlite3")  # type: ignore[operator]
    app = create_app(settings)
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        assert local.get("/declarations").status_code == 200
    with TestClient(app, client=("192.0.2.10", 50000)) as remote:
        refused = remote.get("/declarations")
        assert refused.status_code == 403 and refused.text == "the local mode answers only on 127.0.0.1\n"


def test_local_mode_refuses_a_server_database() -> None:
    with pytest.raises(LocalModeRefused, match="the local mode runs on SQLite and an in-process cache only; unset PSRA_REDIS_URL or leave the local mode"):
        create_app(Settings(local_mode=True, redis_url="redis://127.0.0.1:1/0"))
