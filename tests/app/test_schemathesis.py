"""Property-based requests generated from the OpenAPI schema (schemathesis, in-process ASGI) against the
app on real servers, authenticated as an admin so that every operation is reached: never a 5xx.

schemathesis' pytest fixture loader does not work with this pytest version, so each operation's
hypothesis strategy is driven directly. Its ASGI client would also run the app's lifespan on every
call; the app is therefore handed over behind a wrapper that leaves the running services alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from tests.app.platform import PsraRealm, RenewedToken

pytestmark = pytest.mark.servers
EXAMPLES_PER_OPERATION = 40


def _without_lifespan(app: Any) -> Callable[..., Any]:
    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    return asgi


def _exercise(strategy: Any, label: str, token: RenewedToken, statuses: dict[str, set[int]]) -> Callable[[], None]:
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=strategy)
    def exercise(case: Any) -> None:
        response = case.call(headers=token.headers())
        statuses.setdefault(label, set()).add(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])

    return exercise


def test_no_operation_answers_with_a_server_error(api: Any, psra_realm: PsraRealm) -> None:
    token = RenewedToken(psra_realm, "carol")
    schema = schemathesis.openapi.from_dict(api.app.openapi())  # production serves no /openapi.json
    schema.app = _without_lifespan(api.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 15
    statuses: dict[str, set[int]] = {}
    for operation in operations:
        _exercise(operation.as_strategy(), operation.label, token, statuses)()
        for example in operation.get_strategies_from_examples():
            _exercise(example, operation.label, token, statuses)()
    assert set(statuses) == {operation.label for operation in operations}
    assert all(max(codes) < 500 for codes in statuses.values()), statuses
    for created in ("POST /v1/origin/calculations", "POST /v1/supplier-declarations", "POST /v1/origin/rules"):
        assert 201 in statuses[created], statuses[created]
