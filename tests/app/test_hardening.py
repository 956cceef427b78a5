"""Hostile input against the origin app on real servers (PostgreSQL, Redis, OpenBao, Keycloak-issued tokens):
what an attacker tries first must be refused cheaply, precisely and without echoing what was sent.

`api` is the app in-process (TestClient); `served_api` is `python -m app serve` with two uvicorn workers on
127.0.0.1, for what needs real sockets: chunked bodies, worker memory, the event loop's latency, the
separate metrics port.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.api.main import create_app
from app.settings import Settings
from tests.app.cases import material, request
from tests.app.platform import PsraRealm, provision_claims_client
from tests.app.served import ServedApp

pytestmark = pytest.mark.servers

CALCULATIONS = "/v1/origin/calculations"
MOTOR = request("EU-JP", "850110", "100.00", [material("850300", "CN", "50.00")])
SECRET = "sk_live_" + "Q9x" * 10_000  # 30 KB that looks like a credential: no response may carry it back
MiB = 1024 * 1024


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


def _with_price(literal: str) -> bytes:
    """MOTOR with the ex-works price written as the raw JSON text `literal`."""
    return _json({**MOTOR, "product": {"hs_code": "850110", "ex_works_price": "PRICE"}}).replace(b'"PRICE"', literal.encode())


def _numbers(size: int) -> Iterator[bytes]:
    """About `size` bytes of a JSON list of numbers, in 64 KiB chunks (sent chunked: no Content-Length)."""
    chunk = b",".join([b"1234567"] * 8192)
    yield b"[" + chunk
    for _ in range(size // len(chunk)):
        yield b"," + chunk
    yield b"]"


class TestTokenBeforeBody:
    @staticmethod
    async def _post(app: Any, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, int]:
        """POST through the ASGI interface, counting the app's reads of the body: (status, reads)."""
        reads, status = 0, 0

        async def receive() -> dict[str, Any]:
            nonlocal reads
            reads += 1
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": CALCULATIONS,
            "raw_path": CALCULATIONS.encode(),
            "root_path": "",
            "query_string": b"",
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers],
            "client": ("127.0.0.1", 40000),
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)
        return status, reads

    @pytest.mark.parametrize("authorization", [None, b"Bearer not-a-jwt", b"Basic YWxpY2U6cHc="])
    def test_no_byte_of_the_body_is_read_without_a_valid_token(self, api, authorization):
        headers = [] if authorization is None else [(b"authorization", authorization)]
        assert api.portal.call(self._post, api.app, headers, _json(MOTOR)) == (401, 0)

    def test_with_a_valid_token_the_body_is_read(self, api, psra_realm):
        headers = [(b"authorization", psra_realm.headers("alice")["Authorization"].encode())]
        assert api.portal.call(self._post, api.app, headers, _json(MOTOR)) == (201, 1)

    def test_streamed_body_without_a_token_costs_the_worker_no_memory(self, served_api: ServedApp):
        before = served_api.worker_rss()
        with httpx.Client(timeout=60) as client:
            response = client.post(f"{served_api.base_url}{CALCULATIONS}", content=_numbers(11 * MiB), headers={"Content-Type": "application/json"})
        assert response.status_code == 401
        assert served_api.worker_rss() - before < 20 * MiB


class TestBodySize:
    def test_announced_body_over_the_limit_is_413(self, api, psra_realm):
        body = _json({**MOTOR, "padding": "x" * (256 * 1024)})
        response = api.post(CALCULATIONS, content=body, headers={**psra_realm.headers("alice"), "Content-Type": "application/json"})
        assert response.status_code == 413
        assert response.json() == {"detail": "the request body is larger than 262144 bytes (the limit for this service)"}

    def test_the_limit_is_a_setting(self, app_settings):
        app = create_app(app_settings.model_copy(update={"max_body_bytes": 2048}))
        response = TestClient(app).post(CALCULATIONS, content=b"[" + b"1," * 2000 + b"1]", headers={"Content-Type": "application/json"})
        assert response.status_code == 413 and "2048 bytes" in response.json()["detail"]

    def test_streamed_body_over_the_limit_is_413_and_the_worker_stays_small(self, served_api: ServedApp, psra_realm):
        before = served_api.worker_rss()
        headers = {**psra_realm.headers("alice"), "Content-Type": "application/json"}
        with httpx.Client(timeout=60) as client:
            response = client.post(f"{served_api.base_url}{CALCULATIONS}", content=_numbers(11 * MiB), headers=headers)
        assert response.status_code == 413 and "262144 bytes" in response.json()["detail"]
        assert served_api.worker_rss() - before < 20 * MiB

    @pytest.mark.parametrize(
        ("change", "loc", "message"),
        [
            (lambda b: b.update(materials=[material("850300", "CN", "0.10")] * 201), ["body"], "at most 200 materials in total, sub_materials included"),
            (
                lambda b: b["materials"][0].update(in_house=True, sub_materials=[material("720917", "CN", "0.10")] * 200),
                ["body"],
                "at most 200 materials in total, sub_materials included",
            ),
            (lambda b: b.update(operations=["assembly"] * 51), ["body", "operations"], "at most 50 items"),
            (lambda b: b["materials"][0].update(description="d" * 501), ["body", "materials", 0, "description"], "at most 500 characters"),
            (lambda b: b.update(rule="CTH or " * 300), ["body", "rule"], "at most 2000 characters"),
            (lambda b: b["materials"][0].update(hs_code="8" * 17), ["body", "materials", 0, "hs_code"], "at most 16 characters"),
            (
                lambda b: b["materials"][0].update(in_house=True, sub_materials=[_nested(5)]),
                ["body"],
                "sub_materials may nest at most 4 levels deep",
            ),
        ],
    )
    def test_lists_strings_and_depth_are_bounded(self, api, psra_realm, change, loc, message):
        body = json.loads(json.dumps(MOTOR))
        change(body)
        response = api.post(CALCULATIONS, json=body, headers=psra_realm.headers("alice"))
        assert response.status_code == 422, response.text
        (error,) = response.json()["detail"]
        assert error["loc"] == loc and message in error["msg"]


def test_deep_bills_of_materials_are_refused_before_validation(api, psra_realm):
    """300 levels of sub_materials: refused on the input as sent (validating them first cost 36 ms)."""
    body = {**MOTOR, "materials": [_nested(300)]}
    headers = psra_realm.headers("alice")
    start = time.perf_counter()
    response = api.post(CALCULATIONS, json=body, headers=headers)
    assert time.perf_counter() - start < 0.5
    assert response.json()["detail"] == [
        {"type": "bill_of_materials", "loc": ["body"], "msg": "sub_materials may nest at most 4 levels deep", "ctx": {"depth": 4}}
    ]


def _nested(levels: int) -> dict[str, Any]:
    inner = material("720917", "CN", "1.00")
    for _ in range(levels - 1):
        inner = material("720917", "EU", "1.00", in_house=True, sub_materials=[inner])
    return inner


class TestNumbers:
    PRICE = ["body", "product", "ex_works_price"]

    @pytest.mark.parametrize("literal", ["1e999999", "-1e999999", "1e5000", "1e-999999", "1e41", "9" * 5000, "1" + "0" * 4400, "NaN", "Infinity", "-Infinity"])
    def test_out_of_range_literals_are_422_at_once(self, api, psra_realm, literal):
        headers = {**psra_realm.headers("alice"), "Content-Type": "application/json"}
        start = time.perf_counter()
        response = api.post(CALCULATIONS, content=_with_price(literal), headers=headers)
        assert time.perf_counter() - start < 1.0
        assert response.status_code == 422
        assert response.json() == {
            "detail": [
                {
                    "type": "number_out_of_range",
                    "loc": self.PRICE,
                    "msg": "JSON numbers must be finite, at most 40 characters long and between 1e-40 and 1e40 in magnitude (or 0); "
                    'give money as a string such as "100.00"',
                }
            ]
        }

    @pytest.mark.parametrize(
        ("literal", "message"),
        [
            ('"1e999999"', "Decimal input should have no more than 18 digits in total"),
            ("1e30", "Decimal input should have no more than 18 digits in total"),
            ('"NaN"', "Input should be a finite number"),
            ('"-Infinity"', "Input should be a finite number"),
            ("100.00001", "Decimal input should have no more than 4 decimal places"),
            ("0", "Input should be greater than 0"),
        ],
    )
    def test_money_is_a_bounded_finite_decimal(self, api, psra_realm, literal, message):
        headers = {**psra_realm.headers("alice"), "Content-Type": "application/json"}
        start = time.perf_counter()
        response = api.post(CALCULATIONS, content=_with_price(literal), headers=headers)
        assert time.perf_counter() - start < 1.0
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["loc"] == self.PRICE and error["msg"] == message and "input" not in error

    def test_exact_decimals_still_pass(self, api, psra_realm):
        headers = {**psra_realm.headers("alice"), "Content-Type": "application/json"}
        response = api.post(CALCULATIONS, content=_with_price("1.0e2"), headers=headers)
        assert response.status_code == 201, response.text

    def test_the_event_loop_keeps_answering_while_numbers_attack(self, served_api: ServedApp, psra_realm):
        headers = {**psra_realm.headers("alice"), "Content-Type": "application/json"}
        statuses: list[int] = []

        def attack() -> None:
            with httpx.Client(base_url=served_api.base_url, timeout=120) as client:
                for literal in ("1e999999", "NaN", "1e5000", "9" * 5000) * 3:
                    statuses.append(client.post(CALCULATIONS, content=_with_price(literal), headers=headers).status_code)

        attacker = threading.Thread(target=attack)
        worst = 0.0
        with httpx.Client(base_url=served_api.base_url, timeout=120) as client:
            attacker.start()
            while attacker.is_alive():
                start = time.perf_counter()
                assert client.get("/healthz").status_code == 200
                worst = max(worst, time.perf_counter() - start)
            attacker.join()
        assert statuses == [422] * 12
        assert worst < 1.0


class TestErrorsDoNotEchoInput:
    @pytest.mark.parametrize(
        "change",
        [
            lambda b: b["product"].update(hs_code=SECRET),
            lambda b: b["materials"][0].update(origin=SECRET),
            lambda b: b["materials"][0].update(description=SECRET),
            lambda b: b["materials"][0].update(value=SECRET),
            lambda b: b.update(rule=SECRET),
            lambda b: b.update(operations=[SECRET]),
            lambda b: b.update(agreement=SECRET),
            lambda b: b.update(assessment_date=SECRET),
            lambda b: b["materials"][0].update(proof={"type": SECRET}),
            lambda b: b.update({SECRET: 1}),
            lambda b: b["product"].update(hs_code=SECRET[:15]),
        ],
    )
    def test_calculation_422_names_field_and_rule_only(self, api, psra_realm, change):
        body = json.loads(json.dumps(MOTOR))
        change(body)
        response = api.post(CALCULATIONS, json=body, headers=psra_realm.headers("alice"))
        assert response.status_code == 422
        assert SECRET[:70] not in response.text and len(response.text) < 2000
        for error in response.json()["detail"]:
            assert set(error) <= {"type", "loc", "msg", "ctx"} and error["loc"][0] == "body"

    @pytest.mark.parametrize("field", ["supplier_name", "supplier_country", "products", "issue_date", "type"])
    def test_declaration_422_names_field_and_rule_only(self, api, psra_realm, field):
        body = {
            "type": "supplier_declaration",
            "supplier_name": "Stahlwerk Nord GmbH",
            "supplier_country": "DE",
            "agreements": ["EU-JP"],
            "products": "steel",
            "issue_date": "2025-01-01",
        }
        response = api.post("/v1/supplier-declarations", json={**body, field: SECRET}, headers=psra_realm.headers("alice"))
        assert response.status_code == 422
        assert SECRET[:70] not in response.text and len(response.text) < 2000
        assert response.json()["detail"][0]["loc"] == ["body", field]

    def test_many_errors_are_summarised(self, api, psra_realm):
        body = {**MOTOR, "materials": [material("85", "china", "-1")] * 200}
        detail = api.post(CALCULATIONS, json=body, headers=psra_realm.headers("alice")).json()["detail"]
        assert len(detail) == 21 and detail[-1] == {"type": "too_many_errors", "loc": ["body"], "msg": "580 more errors not shown"}


class TestMaterialValues:
    """Found by the fuzzing: a material worth far more than the product overflowed the stored percentage (500)."""

    @pytest.mark.parametrize(
        ("materials", "path"),
        [
            ([material("850300", "CN", "1000000.00")], "materials[0]"),
            ([material("850300", "EU", "10.00", in_house=True, sub_materials=[material("720917", "CN", "10.01")])], "materials[0].sub_materials[0]"),
        ],
    )
    def test_a_material_worth_more_than_what_it_goes_into_is_422(self, api, psra_realm, materials, path):
        response = api.post(CALCULATIONS, json=request("EU-JP", "850110", "100.00", materials), headers=psra_realm.headers("alice"))
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body"] and error["type"] == "material_value"
        assert error["msg"].startswith(f"{path}.value is more than the value of what the material goes into")

    def test_a_material_worth_the_whole_price_is_stored(self, api, psra_realm):
        body = request("EU-JP", "850110", "100.00", [material("850300", "EU", "100.00", in_house=True, sub_materials=[material("720917", "CN", "100.00")])])
        assert api.post(CALCULATIONS, json=body, headers=psra_realm.headers("alice")).status_code == 201


class TestRuleTexts:
    """Found while looking: every rule text is parsed while the body is validated, at tens of microseconds per
    character; 120 in-house parts with 1,800-character rules held the event loop for about 4 s."""

    def test_rule_texts_of_a_request_are_bounded_together_before_parsing(self, api, psra_realm):
        parts = [material("850300", "EU", "0.10", in_house=True, rule="(" * 880 + f"CTH except from {1000 + n}" + ")" * 880) for n in range(120)]
        body, headers = request("EU-JP", "850110", "100.00", parts), psra_realm.headers("alice")
        start = time.perf_counter()
        response = api.post(CALCULATIONS, json=body, headers=headers)
        assert time.perf_counter() - start < 1.0
        assert response.status_code == 422
        assert response.json()["detail"] == [
            {
                "type": "rule_text",
                "loc": ["body"],
                "msg": "the rule texts of one request (its rule and every material's rule) may have at most 4000 characters together",
                "ctx": {"limit": 4000},
            }
        ]

    def test_rules_within_the_budget_are_read(self, api, psra_realm):
        parts = [material("850300", "EU", "10.00", in_house=True, rule="CTH or MaxNOM 50% (EXW)") for _ in range(5)]
        body = request("EU-JP", "850110", "100.00", parts, rule="CTH or MaxNOM 50% (EXW)")
        assert api.post(CALCULATIONS, json=body, headers=psra_realm.headers("alice")).status_code == 201


class TestUnicode:
    def test_lone_surrogate_is_422_not_500(self, api, psra_realm):
        body = _json({**MOTOR, "materials": [{**material("850300", "CN", "50.00"), "description": "\ud800"}]})
        response = api.post(CALCULATIONS, content=body, headers={**psra_realm.headers("alice"), "Content-Type": "application/json"})
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "materials", 0, "description"]
        assert response.json()["detail"][0]["type"] == "unicode_surrogate"

    def test_lone_surrogate_in_a_declaration_is_422_not_500(self, api, psra_realm):
        body = {"type": "supplier_declaration", "supplier_name": "\udfff", "supplier_country": "DE", "agreements": ["EU-JP"], "products": "x", "issue_date": "2025-01-01"}
        response = api.post("/v1/supplier-declarations", content=_json(body), headers={**psra_realm.headers("alice"), "Content-Type": "application/json"})
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "supplier_name"]

    @pytest.mark.parametrize("name", ["Stahlwerk \u202eHbmG", "Nord \u2066GmbH\u2069", "Nord\x7f", "Nord\x85GmbH", "Nord\x00"])
    def test_names_that_display_otherwise_than_stored_are_refused(self, api, psra_realm, name):
        body = {"type": "supplier_declaration", "supplier_name": name, "supplier_country": "DE", "agreements": ["EU-JP"], "products": "x", "issue_date": "2025-01-01"}
        response = api.post("/v1/supplier-declarations", json=body, headers=psra_realm.headers("alice"))
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "supplier_name"] and error["type"] == "control_character"
        assert error["msg"] == "text must not contain control characters or bidirectional overrides (U+202A-U+202E, U+2066-U+2069)"

    def test_surrogate_pairs_are_characters(self, api, psra_realm):
        body = _json({**MOTOR, "materials": [{**material("850300", "CN", "50.00"), "description": "motor \U0001f697"}]})
        response = api.post(CALCULATIONS, content=body, headers={**psra_realm.headers("alice"), "Content-Type": "application/json"})
        assert response.status_code == 201, response.text

    def test_invalid_utf8_and_deep_nesting_are_422(self, api, psra_realm):
        headers = {**psra_realm.headers("alice"), "Content-Type": "application/json"}
        for body, kind in ((b'{"agreement": "\xff"}', "json_encoding"), (b"[" * 100_000 + b"]" * 100_000, "json_depth")):
            response = api.post(CALCULATIONS, content=body, headers=headers)
            assert response.status_code == 422 and response.json()["detail"][0]["type"] == kind


class TestRequestHead:
    """Found while looking: httptools keeps a request head of any size (a 250 MB header: worker 150 -> 480 MB)."""

    @staticmethod
    def _exchange(served_api: ServedApp, head: bytes) -> bytes:
        host, port = served_api.base_url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as connection:
            connection.sendall(head)
            return connection.recv(4096).split(b"\r\n", 1)[0]

    def test_a_head_over_64_kib_is_431(self, served_api: ServedApp):
        head = b"GET /healthz HTTP/1.1\r\nHost: psra\r\nX-Padding: " + b"p" * 70_000
        assert self._exchange(served_api, head) == b"HTTP/1.1 431 Request Header Fields Too Large"

    def test_many_small_headers_count_together(self, served_api: ServedApp):
        head = b"GET /healthz HTTP/1.1\r\nHost: psra\r\n" + b"".join(b"X-%05d: y\r\n" % n for n in range(9_000))
        assert self._exchange(served_api, head) == b"HTTP/1.1 431 Request Header Fields Too Large"

    def test_a_large_body_behind_a_small_head_is_not_mistaken_for_a_head(self, served_api: ServedApp, psra_realm):
        body = _json({**MOTOR, "materials": [material("850300", "CN", "0.10")] * 200})  # ~13 KiB, one read with its head
        with httpx.Client(base_url=served_api.base_url, timeout=30) as client:
            response = client.post(CALCULATIONS, content=body + b" " * 120_000, headers={**psra_realm.headers("alice"), "Content-Type": "application/json"})
        assert response.status_code == 201, response.text

    def test_a_head_that_does_not_arrive_in_ten_seconds_is_408(self, served_api: ServedApp):
        """Slowloris: a trickled head, and a connection that sends nothing, are both ended after 10 s."""
        host, port = served_api.base_url.removeprefix("http://").split(":")
        trickling, silent = (socket.create_connection((host, int(port)), timeout=20) for _ in range(2))
        with trickling, silent:
            start = time.monotonic()
            trickling.sendall(b"GET /healthz HTTP/1.1\r\nHost: psra\r\n")
            answers = [connection.recv(4096).split(b"\r\n", 1)[0] for connection in (trickling, silent)]
            waited = time.monotonic() - start
        assert answers == [b"HTTP/1.1 408 Request Timeout"] * 2
        assert 9 < waited < 15

    def test_heads_within_the_limit_are_served_on_a_kept_alive_connection(self, served_api: ServedApp):
        with httpx.Client(base_url=served_api.base_url, timeout=30) as client:
            for _ in range(3):
                assert client.get("/healthz", headers={"X-Padding": "p" * 40_000}).status_code == 200


# Claims as a misconfigured Keycloak mapper would sign them (JSON text of the hard-coded claim).
MALFORMED_REALM_ACCESS = ["null", '"psra-user"', '["psra-user"]', "5", '{"roles": "psra-user"}', '{"roles": {"psra-admin": true}}', '{"roles": null}']
VALID_REALM_ACCESS = '{"roles": ["psra-user"]}'
MALFORMED_RESOURCE_ACCESS = ["null", '"psra-api"', '["psra-admin"]', "7", '{"psra-api": "psra-admin"}']


@pytest.fixture(scope="module")
def claim_clients(keycloak_server: Any, psra_realm: PsraRealm) -> dict[tuple[str, str], str]:
    """(realm_access, resource_access) JSON texts -> a Keycloak client whose tokens carry them."""
    shapes = [(shape, "") for shape in MALFORMED_REALM_ACCESS] + [(VALID_REALM_ACCESS, shape) for shape in MALFORMED_RESOURCE_ACCESS]
    clients = {}
    for number, (realm_access, resource_access) in enumerate(shapes):
        client_id = f"psra-tests-claims-{number}"
        claims = {"realm_access": realm_access} | ({"resource_access": resource_access} if resource_access else {})
        provision_claims_client(keycloak_server, psra_realm, client_id, claims)
        clients[(realm_access, resource_access)] = client_id
    return clients


class TestMalformedClaims:
    @pytest.mark.parametrize("realm_access", MALFORMED_REALM_ACCESS)
    def test_roles_claim_of_the_wrong_shape_is_403(self, api, psra_realm, claim_clients, realm_access):
        token = psra_realm.token("carol", claim_clients[(realm_access, "")])
        claims = json.loads(_payload(token))
        assert claims.get("realm_access") == json.loads(realm_access)  # Keycloak signed exactly this shape
        for method, path in (("GET", "/v1/hs-codes/8501"), ("GET", "/v1/audit-logs"), ("POST", CALCULATIONS)):
            response = api.request(method, path, json=MOTOR if method == "POST" else None, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 403, (method, path, response.text)

    @pytest.mark.parametrize("resource_access", MALFORMED_RESOURCE_ACCESS)
    def test_resource_access_of_any_shape_is_ignored(self, api, psra_realm, claim_clients, resource_access):
        token = psra_realm.token("alice", claim_clients[(VALID_REALM_ACCESS, resource_access)])
        assert json.loads(_payload(token))["resource_access"] == json.loads(resource_access)
        headers = {"Authorization": f"Bearer {token}"}
        assert api.get("/v1/hs-codes/8501", headers=headers).status_code == 200
        assert api.get("/v1/audit-logs", headers=headers).status_code == 403


def _payload(token: str) -> str:
    import base64

    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode()


class TestInternalEndpoints:
    @pytest.mark.parametrize("path", ["/docs", "/redoc", "/openapi.json", "/metrics", "/docs/oauth2-redirect"])
    def test_production_serves_no_docs_and_no_metrics(self, api, path):
        assert api.get(path).status_code == 404

    def test_the_embedded_default_serves_the_docs(self, tmp_path):
        app = create_app(Settings(sqlite_path=tmp_path / "psra.sqlite3"))
        client = TestClient(app)
        assert client.get("/docs").status_code == 200
        assert client.get("/openapi.json").json()["info"]["title"] == "PSRA origin calculation"
        assert client.get("/metrics").status_code == 404

    def test_metrics_are_on_the_internal_port_only(self, served_api: ServedApp, psra_realm):
        with httpx.Client(timeout=30) as client:
            created = client.post(f"{served_api.base_url}{CALCULATIONS}", json=MOTOR, headers=psra_realm.headers("alice"))
            assert created.status_code == 201, created.text
            assert client.get(f"{served_api.base_url}/metrics").status_code == 404
            assert client.get(f"{served_api.base_url}/openapi.json").status_code == 404
            metrics = client.get(served_api.metrics_url)
        assert metrics.status_code == 200
        assert 'psra_http_requests_total{method="POST",route="/v1/origin/calculations",status="201"}' in metrics.text
        assert 'psra_origin_calculations_total{agreement="EU-JP",originating="true"}' in metrics.text
