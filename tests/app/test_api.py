"""HTTP tests against real PostgreSQL, Redis, OpenBao (AppRole) and Keycloak-issued tokens.

Servers come from the tests.servers plugin; a missing server fails these tests, never skips them.
"""

from __future__ import annotations

import time
import uuid
from datetime import date
from decimal import Decimal

import httpx
import pytest
from prometheus_client import generate_latest

from app.api.main import create_app
from app.api.routes import calculations
from app.api.routing import UserFirstRoute
from app.metrics import metrics_registry
from app.openbao import SecretsError
from tests.app.cases import material, request
from tests.app.platform import FOREIGN_CLIENT, SHORT_CLIENT
from tests.app.stored_rows import calculation_rows

pytestmark = pytest.mark.servers

MOTOR = request("EU-JP", "850110", "100.00", [material("850300", "CN", "50.00"), material("720917", "CN", "10.00")], fob="120.00")


def _sample(name: str, **labels: str) -> float:
    """A counter's value now, 0 when no request has created its labels yet."""
    return metrics_registry().get_sample_value(name, labels) or 0.0


def _rows(postgres_server, sql: str, *params):  # type: ignore[no-untyped-def]
    with postgres_server.connect("psra_app") as conn:
        return conn.execute(sql, params).fetchall()


class TestSecretsAndStartup:
    def test_credentials_come_from_openbao(self, api, app_settings, approle_files):
        services = api.app.state.services
        assert app_settings.database_url is None and app_settings.redis_url is None
        assert services.engine.url.username == approle_files.database_user == "psra_app"
        assert services.engine.url.get_backend_name() == "postgresql"
        assert api.get("/readyz").json() == {"status": "ready", "checks": {"database": True, "cache": True}}

    def test_wrong_secret_id_stops_start_up_without_leaking_it(self, app_settings, tmp_path):
        bad = tmp_path / "secret_id"
        bad.write_text("not-the-secret-id", encoding="utf-8")
        from fastapi.testclient import TestClient

        with pytest.raises(SecretsError) as raised, TestClient(create_app(app_settings.model_copy(update={"openbao_secret_id_file": bad}))):
            pass
        assert "AppRole" in str(raised.value) and "not-the-secret-id" not in str(raised.value)


class TestCalculations:
    def test_create_stores_certificate_materials_and_audit_row(self, api, psra_realm, postgres_server, redis_server):
        body = request(
            "EU-JP",
            "850110",
            "100.00",
            [
                material("850300", "CN", "50.00"),
                material("850300", "EU", "20.00", in_house=True, sub_materials=[material("720917", "CN", "5.00")]),
            ],
        )
        response = api.post("/v1/origin/calculations", json=body, headers=psra_realm.headers("alice"))
        assert response.status_code == 201, response.text
        created = response.json()
        assert response.headers["location"] == f"/v1/origin/calculations/{created['id']}"
        assert created["originating"] is True and created["agreement"] == "EU-JP" and created["hs_code"] == "850110"
        assert created["result"]["alternatives"][1]["criteria"][0]["nom_percent"] == "50.00"

        query = "SELECT agreement, destination_country, originating, calculation_result->>'originating' FROM certificates WHERE id = %s"
        (certificate,) = _rows(postgres_server, query, created["id"])
        assert certificate == ("EU-JP", "JP", True, "true")
        # the stored report is the text the caller received, byte for byte (json, not jsonb's rebuilt form)
        ((stored_text,),) = _rows(postgres_server, "SELECT calculation_result::text FROM certificates WHERE id = %s", created["id"])
        assert response.text.endswith(f',"result":{stored_text}}}')
        query = "SELECT path, value, value_percentage, originating, parent_id IS NOT NULL FROM materials WHERE certificate_id = %s ORDER BY path"
        materials = _rows(postgres_server, query, created["id"])
        assert materials == [
            ("materials[0]", Decimal("50.0000"), Decimal("50.0000"), False, False),
            ("materials[1]", Decimal("20.0000"), Decimal("20.0000"), True, False),
            ("materials[1].sub_materials[0]", Decimal("5.0000"), Decimal("25.0000"), False, True),
        ]
        (audit,) = _rows(postgres_server, "SELECT action, details->>'hs_code' FROM audit_logs WHERE details->>'certificate_id' = %s", created["id"])
        assert audit == ("calculation.create", "850110")

        redis = redis_server.client()
        assert 3500 < redis.ttl(f"certificate:{created['id']}") <= 3600
        assert 43000 < redis.ttl("origin_rules:EU-JP:850110") <= 43200

    def test_read_back_own_and_admin_but_not_others(self, api, psra_realm):
        created = api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice")).json()
        path = f"/v1/origin/calculations/{created['id']}"
        assert api.get(path, headers=psra_realm.headers("alice")).json() == created
        assert api.get(path, headers=psra_realm.headers("carol")).json()["id"] == created["id"]
        assert api.get(path, headers=psra_realm.headers("bob")).status_code == 404
        assert api.get(f"/v1/origin/calculations/{uuid.uuid4()}", headers=psra_realm.headers("alice")).status_code == 404

    def test_read_back_after_cache_eviction_comes_from_the_database(self, api, psra_realm, redis_server):
        response = api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice"))
        created = response.json()
        redis_server.client().delete(f"certificate:{created['id']}")
        read = api.get(f"/v1/origin/calculations/{created['id']}", headers=psra_realm.headers("alice"))
        assert read.json() == created
        assert read.content == response.content  # the stored text as it is, not parsed and written again

    def test_identical_requests_reuse_the_cached_engine_result(self, api, psra_realm, redis_server):
        body = request("EU-UK", "851660", "77.00", [material("851680", "CN", "30.00")])
        first = api.post("/v1/origin/calculations", json=body, headers=psra_realm.headers("alice")).json()
        keys = set(redis_server.client().keys("calculation:*"))  # KEYS gives no order, and it changes as Redis rehashes
        second = api.post("/v1/origin/calculations", json=body, headers=psra_realm.headers("bob")).json()
        assert first["id"] != second["id"] and first["result"] == second["result"]
        assert set(redis_server.client().keys("calculation:*")) == keys
        hits = _sample("psra_cache_requests_total", family="calculation", result="hit")
        api.post("/v1/origin/calculations", json=body, headers=psra_realm.headers("bob"))
        assert _sample("psra_cache_requests_total", family="calculation", result="hit") == hits + 1

    def test_json_numbers_stay_exact(self, api, psra_realm):
        text = (
            '{"agreement": "EU-JP", "assessment_date": "2025-03-01", "rule": "MaxNOM 30% (EXW)",'
            ' "product": {"hs_code": "850110", "ex_works_price": 1.00},'
            ' "materials": [{"hs_code": "850300", "origin": "CN", "value": 0.10}, {"hs_code": "850300", "origin": "CN", "value": 0.20}]}'
        )
        headers = {**psra_realm.headers("alice"), "Content-Type": "application/json"}
        response = api.post("/v1/origin/calculations", content=text, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["originating"] is True and response.json()["result"]["non_originating_value"] == "0.30"

    def test_nothing_is_half_written_when_storing_fails(self, api, psra_realm, postgres_server, monkeypatch):
        import app.api.routes.calculations as calculations

        def broken_rows(*args, **kwargs):  # type: ignore[no-untyped-def]
            yield from ()
            raise RuntimeError("disk full while writing materials")

        before = _rows(postgres_server, "SELECT count(*) FROM certificates")[0][0], _rows(postgres_server, "SELECT count(*) FROM audit_logs")[0][0]
        monkeypatch.setattr(calculations, "_material_rows", broken_rows)
        with pytest.raises(RuntimeError, match="disk full"):
            api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice"))
        after = _rows(postgres_server, "SELECT count(*) FROM certificates")[0][0], _rows(postgres_server, "SELECT count(*) FROM audit_logs")[0][0]
        assert after == before

    def test_the_largest_bill_of_materials_is_stored_whole(self, api, psra_realm, postgres_server):
        """200 materials (the limit), 49 of them sub-materials: one INSERT statement with 2,200+ parameters."""
        parts = [material("850300", "CN", "1.00") for _ in range(150)]
        in_house = material("850300", "EU", "20.00", in_house=True, sub_materials=[material("720917", "CN", "0.10") for _ in range(49)])
        body = request("EU-JP", "850110", "100000.00", [*parts, in_house])
        response = api.post("/v1/origin/calculations", json=body, headers=psra_realm.headers("alice"))
        assert response.status_code == 201, response.text
        query = "SELECT count(*), count(parent_id), sum(value) FROM materials WHERE certificate_id = %s"
        assert _rows(postgres_server, query, response.json()["id"]) == [(200, 49, Decimal("174.9000"))]

    def test_blocking_inserts_are_one_transaction_and_leave_the_pool_as_found(self, api, psra_realm, postgres_server):
        """AtomicInserts.insert, the path off the app's event loop: a refused row undoes the whole write, and
        every connection goes back to the pool in transactional (non-autocommit) mode."""
        import sqlalchemy.exc
        from sqlalchemy import event

        services = api.app.state.services
        api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice"))  # alice has a users row
        (user_id,) = _rows(postgres_server, "SELECT id FROM users WHERE username = 'alice'")[0]
        checked_in: list[bool] = []

        def on_checkin(dbapi_connection, _record):  # type: ignore[no-untyped-def]
            checked_in.append(dbapi_connection.autocommit)

        event.listen(services.engine, "checkin", on_checkin)
        try:
            refused, rows = calculation_rows(user_id, declaration_id=uuid.uuid4())
            with pytest.raises(sqlalchemy.exc.IntegrityError):
                services.inserts.insert(rows)
            stored, rows = calculation_rows(user_id)
            services.inserts.insert(rows)
        finally:
            event.remove(services.engine, "checkin", on_checkin)
        query = "SELECT id::text, (SELECT count(*) FROM materials m WHERE m.certificate_id = c.id) FROM certificates c WHERE c.id = ANY(%s)"
        assert _rows(postgres_server, query, [refused, stored]) == [(str(stored), 2)]
        assert len(_rows(postgres_server, "SELECT 1 FROM audit_logs WHERE action = 'test.insert'")) == 1
        assert checked_in == [False, False]

    def test_a_calculation_waits_for_no_worker_thread(self, api, psra_realm, monkeypatch):
        """With its rules held by the process, POST does its cache and database I/O with asyncio on the event
        loop: no thread-pool hand-off (and no GIL contention between threads) per calculation."""
        import app.api.routes.calculations as calculations
        import app.cache as cache
        import app.db.inserts as inserts

        headers = psra_realm.headers("alice")
        assert api.post("/v1/origin/calculations", json=MOTOR, headers=headers).status_code == 201

        def no_thread(*args, **kwargs):  # type: ignore[no-untyped-def]
            raise AssertionError(f"a worker thread was used for {args[0]}")

        for module in (calculations, cache, inserts):
            monkeypatch.setattr(module, "run_in_threadpool", no_thread)
        body = request("EU-JP", "850110", "100.00", [material("850300", "CN", "40.00"), material("720917", "CN", "10.00")], fob="120.00")
        response = api.post("/v1/origin/calculations", json=body, headers=headers)
        assert response.status_code == 201, response.text
        assert api.get(response.headers["location"], headers=headers).json() == response.json()

    def test_nothing_is_written_when_the_database_refuses_a_row(self, api, psra_realm, postgres_server, monkeypatch):
        """The last material names no stored declaration, so the database refuses it: certificate, materials
        and audit row are rolled back together, and the pooled connection stays usable."""
        import sqlalchemy.exc

        import app.api.routes.calculations as calculations

        real_rows = calculations._material_rows

        def dangling_declaration(*args, **kwargs):  # type: ignore[no-untyped-def]
            rows = list(real_rows(*args, **kwargs))
            if rows:
                rows[-1] = {**rows[-1], "declaration_id": uuid.uuid4()}
            yield from rows

        def counts() -> tuple[int, ...]:
            return tuple(_rows(postgres_server, f"SELECT count(*) FROM {table}")[0][0] for table in ("certificates", "materials", "audit_logs"))

        before = counts()
        monkeypatch.setattr(calculations, "_material_rows", dangling_declaration)
        with pytest.raises(sqlalchemy.exc.IntegrityError):
            api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice"))
        assert counts() == before
        monkeypatch.undo()
        for _ in range(3):
            assert api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice")).status_code == 201
        assert counts() == (before[0] + 3, before[1] + 6, before[2] + 3)


class TestValidation:
    @pytest.mark.parametrize(
        ("change", "loc", "fragment"),
        [
            (lambda b: b["product"].update(hs_code="85.01.10"), ["body", "product", "hs_code"], "6, 8 or 10 digits"),
            (lambda b: b["materials"][0].update(value="-5"), ["body", "materials", 0, "value"], "greater than or equal to 0"),
            (lambda b: b.update(agreement="EU-US"), ["body", "agreement"], "'EU-JP', 'EU-UK', 'CETA', 'EU-KR' or 'PEM'"),
            (lambda b: b.update(rule="CTH except 8503"), ["body", "rule"], "at column 12; expected 'from'"),
            (lambda b: b["materials"][0].update(origin="china"), ["body", "materials", 0, "origin"], "ISO 3166"),
            (lambda b: b.update(product={"hs_code": "010121", "ex_works_price": "100"}), ["body", "rule"], "no product-specific rule"),
            (lambda b: b.update(assessment_date="2018-12-31"), ["body", "assessment_date"], "applies from 2019-02-01"),
        ],
    )
    def test_invalid_input_is_422_with_path_and_allowed_values(self, api, psra_realm, change, loc, fragment):
        body = request("EU-JP", "850110", "100.00", [material("850300", "CN", "50.00")])
        change(body)
        response = api.post("/v1/origin/calculations", json=body, headers=psra_realm.headers("alice"))
        assert response.status_code == 422, response.text
        (error,) = [e for e in response.json()["detail"] if e["loc"] == loc]
        assert fragment in error["msg"]

    def test_rule_error_carries_its_position(self, api, psra_realm):
        body = request("EU-JP", "850110", "100.00", rule="MaxNOM 50 (EXW)")
        (error,) = api.post("/v1/origin/calculations", json=body, headers=psra_realm.headers("alice")).json()["detail"]
        assert (error["type"], error["ctx"]["column"], error["ctx"]["position"]) == ("rule_syntax", 11, 10)


class TestAuthentication:
    def test_missing_token(self, api):
        response = api.post("/v1/origin/calculations", json=MOTOR)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"

    @pytest.mark.parametrize("token", ["garbage", "a.b.c"])
    def test_malformed_token(self, api, token):
        response = api.get("/v1/hs-codes/8501", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and "invalid_token" in response.headers["www-authenticate"]

    def test_tampered_token(self, api, psra_realm):
        header, payload, signature = psra_realm.token("alice").split(".")
        forged = f"{header}.{payload}.{signature[:-4]}AAAA"
        assert api.get("/v1/hs-codes/8501", headers={"Authorization": f"Bearer {forged}"}).status_code == 401

    def test_token_without_the_api_audience(self, api, psra_realm):
        response = api.get("/v1/hs-codes/8501", headers=psra_realm.headers("alice", FOREIGN_CLIENT))
        assert response.status_code == 401 and "audience" in response.json()["detail"].lower()

    def test_expired_token(self, api, psra_realm):
        headers = psra_realm.headers("alice", SHORT_CLIENT)
        time.sleep(2.5)
        response = api.get("/v1/hs-codes/8501", headers=headers)
        assert response.status_code == 401 and "expired" in response.json()["detail"].lower()

    def test_token_of_another_realm(self, api, keycloak_server):
        grant = {"grant_type": "password", "client_id": "admin-cli", "username": keycloak_server.admin_user, "password": keycloak_server.admin_password}
        master = httpx.post(f"{keycloak_server.base_url}/realms/master/protocol/openid-connect/token", data=grant, timeout=30).json()["access_token"]
        assert api.get("/v1/hs-codes/8501", headers={"Authorization": f"Bearer {master}"}).status_code == 401

    def test_user_without_psra_role_is_forbidden(self, api, psra_realm):
        response = api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("dave"))
        assert response.status_code == 403 and "psra-user" in response.json()["detail"]

    def test_user_without_psra_role_is_forbidden_before_the_body_is_read(self, api, psra_realm):
        # app/api/routing.py UserFirstRoute: the role is checked between the token and the body
        headers = psra_realm.headers("dave") | {"Content-Type": "application/json"}
        response = api.post("/v1/origin/calculations", content=b'{"not json', headers=headers)
        assert response.status_code == 403 and "psra-user" in response.json()["detail"]

    def test_calculations_are_stored_without_resolving_a_dependency(self, api, psra_realm):
        route = next(route for route in calculations.router.routes if route.name == "create_calculation")
        assert isinstance(route, UserFirstRoute) and route.dependant.dependencies == []
        response = api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice"))
        assert response.status_code == 201 and response.headers["location"] == f"/v1/origin/calculations/{response.json()['id']}"

    def test_audit_logs_are_for_admins_only(self, api, psra_realm):
        api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice"))
        assert api.get("/v1/audit-logs", headers=psra_realm.headers("alice")).status_code == 403
        logs = api.get("/v1/audit-logs", params={"action": "calculation.create", "limit": 5}, headers=psra_realm.headers("carol")).json()
        assert 1 <= len(logs) <= 5 and {entry["action"] for entry in logs} == {"calculation.create"}
        assert logs == sorted(logs, key=lambda entry: entry["timestamp"], reverse=True)


class TestSupplierDeclarations:
    LTSD = {
        "type": "ltsd",
        "supplier_name": "Stahlwerk Nord GmbH",
        "supplier_country": "DE",
        "agreements": ["EU-UK"],
        "products": "heating elements 8516.80",
        "issue_date": "2024-01-01",
        "valid_from": "2024-01-01",
        "valid_until": "2025-12-31",
    }

    def test_crud_and_ownership(self, api, psra_realm):
        alice, bob, carol = (psra_realm.headers(u) for u in ("alice", "bob", "carol"))
        created = api.post("/v1/supplier-declarations", json=self.LTSD, headers=alice)
        assert created.status_code == 201, created.text
        declaration = created.json()
        path = f"/v1/supplier-declarations/{declaration['id']}"
        assert api.get(path, headers=alice).json()["supplier_name"] == "Stahlwerk Nord GmbH"
        assert api.get(path, headers=bob).status_code == 404
        assert api.get(path, headers=carol).status_code == 200
        assert declaration["id"] in {d["id"] for d in api.get("/v1/supplier-declarations", headers=alice).json()}
        assert declaration["id"] not in {d["id"] for d in api.get("/v1/supplier-declarations", headers=bob).json()}
        updated = api.put(path, json={**self.LTSD, "products": "heating elements and thermostats"}, headers=alice)
        assert updated.status_code == 200 and updated.json()["products"] == "heating elements and thermostats"
        assert api.delete(path, headers=alice).status_code == 204
        assert api.get(path, headers=alice).json()["withdrawn_on"] == date.today().isoformat()
        assert api.put(path, json=self.LTSD, headers=alice).status_code == 409

    @pytest.mark.parametrize(
        ("change", "fragment"),
        [
            ({"valid_until": "2026-01-02"}, "exceeds 24 months"),
            ({"valid_from": "2022-12-31", "valid_until": "2023-12-31"}, "more than 12 months before its issue date"),
            ({"valid_from": "2024-07-02", "valid_until": "2025-07-01"}, "more than 6 months after its issue date"),
            ({"supplier_country": "US"}, "EU member state"),
            ({"agreements": []}, "at least 1 item"),
            ({"valid_from": None}, "needs valid_from and valid_until"),
        ],
    )
    def test_unusable_ltsd_is_refused(self, api, psra_realm, change, fragment):
        response = api.post("/v1/supplier-declarations", json={**self.LTSD, **change}, headers=psra_realm.headers("alice"))
        assert response.status_code == 422 and fragment in response.text

    def test_refusal_says_what_is_allowed(self, api, psra_realm):
        response = api.post("/v1/supplier-declarations", json={**self.LTSD, "valid_until": "2026-06-30"}, headers=psra_realm.headers("alice"))
        assert "valid_until between valid_from and 2026-01-01" in response.json()["detail"][0]["msg"]

    def test_calculation_uses_a_stored_declaration_until_it_is_withdrawn(self, api, psra_realm, postgres_server):
        alice = psra_realm.headers("alice")
        declaration = api.post("/v1/supplier-declarations", json={**self.LTSD, "valid_until": date(2025, 12, 31).isoformat()}, headers=alice).json()
        today = date.today().isoformat()
        body = request(
            "EU-UK",
            "851660",
            "100.00",
            [material("851680", "DE", "60.00", dispatch_date="2025-06-01", proof={"declaration_id": declaration["id"]})],
            date=today,
        )
        used = api.post("/v1/origin/calculations", json=body, headers=alice).json()
        assert used["result"]["materials"][0]["originating"] is True and used["result"]["materials"][0]["basis"] == "ltsd"
        (row,) = _rows(postgres_server, "SELECT declaration_id FROM materials WHERE certificate_id = %s", used["id"])
        assert str(row[0]) == declaration["id"]

        api.delete(f"/v1/supplier-declarations/{declaration['id']}", headers=alice)
        after = api.post("/v1/origin/calculations", json=body, headers=alice).json()
        assert after["result"]["materials"][0]["originating"] is False and "withdrew" in after["result"]["materials"][0]["reason"]
        assert after["originating"] is False

    def test_unknown_or_foreign_declaration_is_422(self, api, psra_realm):
        declaration = api.post("/v1/supplier-declarations", json=self.LTSD, headers=psra_realm.headers("alice")).json()
        for declaration_id in (str(uuid.uuid4()), declaration["id"]):
            body = request("EU-UK", "851660", "100.00", [material("851680", "DE", "60.00", proof={"declaration_id": declaration_id})])
            response = api.post("/v1/origin/calculations", json=body, headers=psra_realm.headers("bob"))
            assert response.status_code == 422
            (error,) = response.json()["detail"]
            assert error["loc"] == ["body", "materials", 0, "proof", "declaration_id"] and error["type"] == "declaration_unknown"
            assert error["msg"] == "no supplier declaration with this id is available to you"


class TestRulesAndReference:
    def test_lookup_by_agreement_and_hs_code(self, api, psra_realm):
        rules = api.get("/v1/origin/rules", params={"agreement": "CETA", "hs_code": "850110"}, headers=psra_realm.headers("alice")).json()
        # the rule as CETA Annex 5 prints it; `criteria` is how the engine reads it
        assert [r["rule"][:60] for r in rules] == ["A change from any other heading, except from heading 85.03; "]
        assert rules[0]["criteria"] == [["CTH except from 8503"], ["MaxNOM 50% (EXW) of 8501, 8503"]]
        assert "Annex 5" in rules[0]["legal_source"]

    def test_admin_changes_a_rule_and_calculations_follow(self, api, psra_realm):
        carol, alice = psra_realm.headers("carol"), psra_realm.headers("alice")
        (rule,) = api.get("/v1/origin/rules", params={"agreement": "EU-UK", "hs_code": "730890"}, headers=alice).json()
        body = request("EU-UK", "730890", "100.00", [material("721420", "CN", "60.00")])
        assert api.post("/v1/origin/calculations", json=body, headers=alice).json()["originating"] is True
        stricter = {key: rule[key] for key in ("agreement", "hs", "text", "legal_source", "valid_from")} | {"rule": "MaxNOM 40% (EXW)"}
        assert api.put(f"/v1/origin/rules/{rule['id']}", json=stricter, headers=alice).status_code == 403
        changed = api.put(f"/v1/origin/rules/{rule['id']}", json=stricter, headers=carol)
        assert changed.status_code == 200 and changed.json()["criteria"] == [["MaxNOM 40% (EXW)"]]
        try:
            assert api.post("/v1/origin/calculations", json=body, headers=alice).json()["originating"] is False
        finally:
            original = stricter | {"rule": rule["rule"]}
            assert api.put(f"/v1/origin/rules/{rule['id']}", json=original, headers=carol).status_code == 200
        actions = {entry["action"] for entry in api.get("/v1/audit-logs", params={"action": "rule.update"}, headers=carol).json()}
        assert actions == {"rule.update"}

    def test_admin_creates_and_deletes_a_rule(self, api, psra_realm):
        carol = psra_realm.headers("carol")
        new = {
            "agreement": "EU-UK",
            "hs": "3921",
            "rule": "CTSH or MaxNOM 50% (EXW)",
            "text": "CTSH; or MaxNOM 50 % (EXW).",
            "legal_source": "TCA Annex ORIG-2, heading 39.21",
            "valid_from": "2021-01-01",
        }
        created = api.post("/v1/origin/rules", json=new, headers=carol)
        assert created.status_code == 201, created.text
        assert api.delete(f"/v1/origin/rules/{created.json()['id']}", headers=carol).status_code == 204
        assert api.delete(f"/v1/origin/rules/{created.json()['id']}", headers=carol).status_code == 404

    def test_bad_rules_are_refused(self, api, psra_realm):
        carol = psra_realm.headers("carol")
        base = {"agreement": "EU-UK", "hs": "3921", "text": "x", "legal_source": "y", "valid_from": "2021-01-01"}
        unparsable = api.post("/v1/origin/rules", json={**base, "rule": "CTH except 39"}, headers=carol)
        assert unparsable.status_code == 422 and "column 12" in unparsable.text
        unknown = api.post("/v1/origin/rules", json={**base, "hs": "0101", "rule": "CTH"}, headers=carol)
        assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "hs"]

    def test_hs_code_reference(self, api, psra_realm, redis_server):
        alice = psra_realm.headers("alice")
        assert api.get("/v1/hs-codes/8501", headers=alice).json() == {
            "code": "8501",
            "description": "Electric motors and generators (excluding generating sets)",
            "chapter": "85",
            "taric_data": None,
        }
        assert 86000 < redis_server.client().ttl("hs_code:8501") <= 86400
        assert api.get("/v1/hs-codes/0101", headers=alice).status_code == 404
        dotted = api.get("/v1/hs-codes/85.01", headers=alice)
        assert dotted.status_code == 422
        (error,) = dotted.json()["detail"]
        assert (error["loc"], error["type"]) == (["path", "code"], "string_pattern_mismatch")


class TestOperations:
    def test_health_and_metrics(self, api, psra_realm):
        # counted from the values before: the counters may exist already from earlier tests of the session
        created = {"method": "POST", "route": "/v1/origin/calculations", "status": "201"}
        health = {"method": "GET", "route": "/healthz", "status": "200"}
        before = (
            _sample("psra_http_requests_total", **created),
            _sample("psra_http_requests_total", **health),
            _sample("psra_origin_calculations_total", agreement="EU-JP", originating="false"),
        )
        assert api.get("/healthz").json() == {"status": "ok"}
        created_response = api.post("/v1/origin/calculations", json=MOTOR, headers=psra_realm.headers("alice"))
        assert created_response.status_code == 201 and created_response.json()["result"]["originating"] is False
        after = (
            _sample("psra_http_requests_total", **created),
            _sample("psra_http_requests_total", **health),
            _sample("psra_origin_calculations_total", agreement="EU-JP", originating="false"),
        )
        assert after == tuple(value + 1 for value in before)
        exposed = generate_latest(metrics_registry()).decode()
        assert f'psra_origin_calculations_total{{agreement="EU-JP",originating="false"}} {after[2]}' in exposed
