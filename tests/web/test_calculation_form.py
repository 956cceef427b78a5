"""The calculation form's rows as a request (in-house parts with their sub-materials, stored declarations,
typed proofs) and refusals mapped back to the field a person must change."""

from __future__ import annotations

from app.web.calculation_form import CalculationForm, field_name

DECLARATION = "0b9a3c52-51a8-4c57-bd3b-5c8a1fd0a0e1"


def form(*rows: dict[str, str], **top: str) -> CalculationForm:
    posted = {"agreement": "EU-JP", "assessment_date": "2026-03-01", "product_hs_code": "850110", "product_ex_works_price": "100", **top}
    for index, row in enumerate(rows):
        posted.update({f"m{index}_{name}": value for name, value in row.items()})
    return CalculationForm.from_post(posted)


def test_rows_become_materials_with_sub_materials_and_proofs() -> None:
    filled = form(
        {"hs_code": "850300", "origin": "cn", "value": "30"},
        {"hs_code": "850300", "origin": "EU", "value": "20", "in_house": "on"},
        {"hs_code": "720917", "origin": "DE", "value": "5", "part_of": "2", "proof": f"declaration:{DECLARATION}"},
        {"hs_code": "", "origin": "", "value": ""},  # an empty row is no material
        {"hs_code": "720917", "origin": "DE", "value": "1", "proof": "ltsd", "proof_issue_date": "2026-01-01", "proof_valid_from": "2026-01-01", "proof_valid_until": "2026-12-31"},
    )
    request, rows_at = filled.validated()
    assert filled.errors == {} and request is not None
    body = request.model_dump(mode="json", exclude_none=True, exclude_defaults=True)
    assert body["materials"] == [
        {"hs_code": "850300", "origin": "CN", "value": "30"},
        {"hs_code": "850300", "origin": "EU", "value": "20", "in_house": True, "sub_materials": [{"hs_code": "720917", "origin": "DE", "value": "5", "proof": {"declaration_id": DECLARATION}}]},
        {"hs_code": "720917", "origin": "DE", "value": "1", "proof": {"type": "ltsd", "issue_date": "2026-01-01", "valid_from": "2026-01-01", "valid_until": "2026-12-31"}},
    ]
    assert rows_at[("materials", 1, "sub_materials", 0)] == 2 and rows_at[("materials", 2)] == 4


def test_part_of_must_name_another_in_house_row() -> None:
    refused = form({"hs_code": "850300", "origin": "CN", "value": "3", "part_of": "2"}, {"hs_code": "850300", "origin": "CN", "value": "3", "part_of": "9"})
    assert refused.validated()[0] is None
    assert refused.errors == {
        "m0_part_of": "row 2 is not marked as an in-house part; only in-house parts have sub-materials",
        "m1_part_of": "give the number of another row (1 to 2) that is an in-house part, or leave empty",
    }
    cycle = form(
        {"hs_code": "850300", "origin": "EU", "value": "3", "in_house": "on", "part_of": "2"},
        {"hs_code": "850300", "origin": "EU", "value": "3", "in_house": "on", "part_of": "1"},
    )
    assert cycle.validated()[0] is None
    assert cycle.errors["m0_part_of"] == "rows cannot be parts of each other, and parts nest at most 4 levels deep"


def test_every_refusal_lands_on_its_field_and_keeps_the_input() -> None:
    refused = form({"hs_code": "85030", "origin": "China", "value": "-1"}, product_hs_code="8501.10", product_ex_works_price="0")
    assert refused.validated()[0] is None
    assert set(refused.errors) == {"product_hs_code", "product_ex_works_price", "m0_hs_code", "m0_origin", "m0_value"}
    assert refused.errors["m0_value"] == "Input should be greater than or equal to 0"
    assert refused.values["product_hs_code"] == "8501.10" and refused.rows[0]["origin"] == "China"
    assert refused.error_labels()["m0_origin"] == "Material 1: Origin"


def test_locations_from_the_api_and_engine_map_to_fields() -> None:
    rows_at = {("materials", 0): 0, ("materials", 0, "sub_materials", 0): 3}
    assert field_name(("body", "materials", 0, "sub_materials", 0, "proof", "declaration_id"), rows_at) == "m3_proof"
    assert field_name(("materials", 0, "sub_materials", 0, "proof", "valid_until"), rows_at) == "m3_proof_valid_until"
    assert field_name(("materials", 0, "value"), rows_at) == "m0_value"
    assert field_name(("product", "fob_price"), rows_at) == "product_fob_price"
    assert field_name(("rule",), rows_at) == "rule"
    assert field_name((), rows_at) == "form"


def test_removing_a_row_renumbers_the_parts_that_follow() -> None:
    filled = form(
        {"hs_code": "850300", "origin": "CN", "value": "1"},
        {"hs_code": "850300", "origin": "EU", "value": "2", "in_house": "on"},
        {"hs_code": "720917", "origin": "CN", "value": "1", "part_of": "2"},
        {"hs_code": "720917", "origin": "CN", "value": "1", "part_of": "1"},
    )
    filled.remove_row(0)
    assert [row["part_of"] for row in filled.rows] == ["", "1", ""]
