"""POST /v1/origin/calculations through app/api/hot_route.py answers exactly as the framework's route does.

A body sent as `application/json; charset=utf-8` takes the framework's way (FastAPI's route), the same body as
`application/json` the hot handler's; every answer, errors included, must be the same apart from the new
certificate's id and time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.hot_route import HotCalculations
from tests.app.cases import material, request
from tests.app.platform import PsraRealm

pytestmark = pytest.mark.servers

CALCULATIONS = "/v1/origin/calculations"
HOT, FRAMEWORK = "application/json", "application/json; charset=utf-8"
MOTOR = request("EU-JP", "850110", "100.00", [material("850300", "CN", "50.00")])


class Recorder:
    """The app behind HotCalculations, counting the requests handed to it."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        await self.app(scope, receive, send)


@pytest.fixture
def behind_hot(api: TestClient) -> Iterator[Recorder]:
    api.get("/healthz")  # the middleware stack is built on the first request
    layer = api.app.middleware_stack  # type: ignore[attr-defined]
    while not isinstance(layer, HotCalculations):
        layer = layer.app
    recorder = layer.app = Recorder(layer.app)
    try:
        yield recorder
    finally:
        layer.app = recorder.app


def _post(api: TestClient, body: bytes, content_type: str, headers: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
    response = api.post(CALCULATIONS, content=body, headers={**headers, "Content-Type": content_type})
    document = response.json() if response.headers.get("content-type") == "application/json" else response.text
    if response.status_code == 201:
        document = {key: value for key, value in document.items() if key not in ("id", "created_at")}
    kept = {name: response.headers[name] for name in ("content-type", "www-authenticate") if name in response.headers}
    return response.status_code, document, kept


BODIES = {
    "valid": json.dumps(MOTOR).encode(),
    "malformed JSON": b'{"agreement": "EU-JP", ',
    "not UTF-8": b'{"agreement": "\xff"}',
    "number out of range": json.dumps(MOTOR).replace('"100.00"', "1e999999").encode(),
    "nested too deeply": b"[" * 100_000 + b"]" * 100_000,
    "lone surrogate": json.dumps(MOTOR).replace("EU-JP", "\\ud800").encode(),
    "a list, not an object": b"[1, 2]",
    "a string": b'"calculate"',
    "field missing": json.dumps({k: v for k, v in MOTOR.items() if k != "product"}).encode(),
    "unknown agreement": json.dumps({**MOTOR, "agreement": "EU-XX"}).encode(),
    "declaration and proof dates together": json.dumps(
        {**MOTOR, "materials": [{**material("850300", "CN", "50.00"), "proof": {"declaration_id": "00000000-0000-4000-8000-000000000000", "type": "ltsd"}}]}
    ).encode(),
    "unknown declaration": json.dumps(
        {**MOTOR, "materials": [{**material("850300", "CN", "50.00"), "proof": {"declaration_id": "00000000-0000-4000-8000-000000000000"}}]}
    ).encode(),
}


@pytest.mark.parametrize("name", BODIES)
def test_every_answer_is_the_framework_route_s(api: TestClient, psra_realm: PsraRealm, behind_hot: Recorder, name: str):
    headers = psra_realm.headers("alice")
    hot = _post(api, BODIES[name], HOT, headers)
    assert behind_hot.calls == 0  # answered by the hot handler
    framework = _post(api, BODIES[name], FRAMEWORK, headers)
    assert behind_hot.calls == 1
    assert hot == framework
    assert hot[0] == (201 if name == "valid" else 422), hot


@pytest.mark.parametrize(
    ("who", "status"), [(None, 401), ("garbage", 401), ("dave", 403)], ids=["no token", "not a JWT", "no role"]
)
def test_token_and_role_are_checked_as_the_route_checks_them(api: TestClient, psra_realm: PsraRealm, behind_hot: Recorder, who: str | None, status: int):
    headers = {} if who is None else {"Authorization": "Bearer not.a.jwt"} if who == "garbage" else psra_realm.headers(who)
    hot = _post(api, b"{not even JSON", HOT, headers)
    framework = _post(api, b"{not even JSON", FRAMEWORK, headers)
    assert hot == framework and hot[0] == status, hot
    assert behind_hot.calls == 1


def test_an_empty_body_is_left_to_the_route(api: TestClient, psra_realm: PsraRealm, behind_hot: Recorder):
    status, document, _ = _post(api, b"", HOT, psra_realm.headers("alice"))
    assert (status, document["detail"][0]["type"], document["detail"][0]["loc"]) == (422, "missing", ["body"])
    assert behind_hot.calls == 1


def test_the_stored_calculation_reads_back(api: TestClient, psra_realm: PsraRealm, behind_hot: Recorder):
    created = api.post(CALCULATIONS, content=json.dumps(MOTOR), headers={**psra_realm.headers("alice"), "Content-Type": HOT})
    assert created.status_code == 201 and behind_hot.calls == 0
    assert created.headers["location"] == f"{CALCULATIONS}/{created.json()['id']}"
    assert api.get(created.headers["location"], headers=psra_realm.headers("alice")).json() == created.json()
