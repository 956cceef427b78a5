"""Rules as the annexes print them: every rule of the rules data is read from its legal text, the compact
notation (EU-JP Annex 3-B, TCA Annex ORIG-2) and the verbal one (CETA Annex 5, EU-KR Annex II) read alike,
and the same product gets the same answer whichever way its rule is written — on both sides of every
threshold and on the first and last day a rule is in force. Text the grammar cannot read is refused with
its position and the nearest form it does read, never guessed."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
import yaml

from app.engine.assess import EngineInputError, UnverifiedRulesRefused, assess
from app.engine.parser import RuleSyntaxError, parse_rule
from app.engine.request import AssessmentRequest
from app.engine.rulebook import DATA_DIR, AgreementRules, AgreementsFile, RuleBook
from tests.app.cases import ltsd, material, request, statement


def test_every_rule_in_the_data_is_read_from_its_legal_text(rulebook: RuleBook):
    count = 0
    for agreement in rulebook.agreements():
        for rule in rulebook.rules(agreement.code):
            node = parse_rule(rule.rule)
            assert parse_rule(node.text()) == node, f"{agreement.code} {rule.hs}: the engine's reading reads back the same"
            count += 1
    assert count > 90


def test_the_report_shows_the_legal_text_and_how_it_was_read(run, rulebook: RuleBook):
    report = run(request("EU-JP", "850110", "100.00", [material("850300", "CN", "40.00")]))
    # EU-JP Annex 3-B, Chapter 85, headings 85.01-85.02
    assert report.rule.legal_text == "CTH, except from heading 85.03; MaxNOM 50 per cent (EXW); or RVC 55 per cent (FOB)."
    assert report.rule.legal_text == rulebook.find_rule("EU-JP", "850110", date(2025, 3, 1)).rule
    assert report.rule.text == "CTH except from 8503 or MaxNOM 50% (EXW) or RVC 55% (FOB)"
    assert report.rule.legal_source.startswith("EU-JP Annex 3-B, Chapter 85, headings 85.01-85.02")
    given = run(request("EU-JP", "850110", "100.00", rule="CTH; or MaxNOM 50 % (EXW)"))
    assert (given.rule.legal_text, given.rule.text, given.rule.source) == ("CTH; or MaxNOM 50 % (EXW)", "CTH or MaxNOM 50% (EXW)", "request")


SAME_READING = [
    ("CTH", "A change from any other heading", "Manufacture from materials of any heading, except that of the product", "cth"),
    ("CC", "A change from any other chapter", "manufacture from materials of any chapter, except that of the product"),
    ("CTSH", "A change from any other subheading", "Production from non-originating materials of any subheading, except that of the product"),
    (
        "MaxNOM 50% (EXW)",
        "MaxNOM 50 % (EXW)",
        "MaxNOM 50 per cent (EXW)",
        "Manufacture in which the value of all the materials used does not exceed 50 % of the ex-works price of the product",
        "Production in which the value of all non-originating materials used does not exceed 50 per cent of the transaction value or ex-works price of the product",
    ),
    ("RVC 55% (FOB)", "RVC 55 % (FOB)", "RVC 55 per cent (FOB)"),
    (
        "CTH except from 8503",
        "CTH except from heading 85.03",
        "CTH, except from non-originating materials of heading 85.03",
        "A change from any other heading, except from heading 85.03",
        "Manufacture from materials of any heading, except that of the product; however, non-originating materials of heading 85.03 may not be used",
    ),
    ("CTH except from 850300", "CTH except from subheading 8503.00", "CTH except from subheading 850300"),
    ("CTH except from 8501-8504", "CTH except from headings 85.01 through 85.04", "CTH except from headings 85.01 to 85.04", "CTH except from headings 8501-8504"),
    ("CTH except from 7408, 7413, 7605, 7614", "CTH, except from headings 74.08, 74.13, 76.05 and 76.14"),
    ("CTH or MaxNOM 50% (EXW)", "CTH; or MaxNOM 50 % (EXW)", "CTH; MaxNOM 50 per cent (EXW)", "CTH, or MaxNOM 50 % (EXW)."),
    (
        "CTH and MaxNOM 50% (EXW)",
        "A change from any other heading, provided that the value of non-originating materials does not exceed 50 per cent of the transaction value or ex-works price of the product",
    ),
    (
        "MaxNOM 50% (EXW) of 3901",
        "A change from within heading 39.01, whether or not there is also a change from any other heading, provided that the value of "
        "non-originating materials of heading 39.01 does not exceed 50 per cent of the transaction value or ex-works price",
        "No change in tariff classification is required, provided that the value of non-originating materials of heading 39.01 "
        "does not exceed 50 per cent of the ex-works price",
    ),
    ("OP(chemical_reaction) or OP(purification)", "a chemical reaction or purification is undergone", "Chemical reaction, purification"),
]


@pytest.mark.parametrize("forms", SAME_READING, ids=lambda forms: forms[0])
def test_compact_and_verbal_notations_read_alike(forms):
    first = parse_rule(forms[0])
    for form in forms[1:]:
        assert parse_rule(form) == first, form


# One product per agreement under its data rule (cited), assessed with the rule as the annex prints it and
# with the same rule in the other notation, on both sides of its value threshold.
THRESHOLD_CASES = [
    # EU-JP Annex 3-B, Chapter 85, headings 85.01-85.02: "CTH, except from heading 85.03; MaxNOM 50 per cent (EXW); or RVC 55 per cent (FOB)."
    ("EU-JP", "850110", "A change from any other heading, except from heading 85.03; or MaxNOM 50 % (EXW)", "850300", D("50.00")),
    # TCA Annex ORIG-2, Chapter 85, headings 85.01-85.02: "CTH, except from non-originating materials of heading 85.03; or MaxNOM 50 % (EXW)."
    ("EU-UK", "850110", "CTH except from 8503 or MaxNOM 50% (EXW)", "850300", D("50.00")),
    # CETA Annex 5, Chapter 85, heading 85.01: "...; or a change within heading 85.01 or from heading 85.03, whether or not there is also a
    # change from any other heading, provided that non-originating materials of heading 85.01 or 85.03 do not exceed 50 per cent ..."
    ("CETA", "850110", "CTH except from 8503 or MaxNOM 50% (EXW) of 8501, 8503", "850300", D("50.00")),
    # EU-KR Annex II, ex Chapter 85 (85.01-85.03): "Manufacture from materials of any heading, except that of the product; or manufacture in
    # which the value of all the materials used does not exceed 45 % of the ex-works price of the product."
    ("EU-KR", "850110", "CTH; or MaxNOM 45 % (EXW)", "850110", D("45.00")),
    # EU-KR Annex II, heading 85.04: "Manufacture in which the value of all the materials used does not exceed 45 % ..."
    ("EU-KR", "850440", "MaxNOM 45 per cent (EXW)", "850490", D("45.00")),
    # TCA Annex ORIG-2, Chapter 94, headings 94.01-94.06: "CTH; or MaxNOM 50 % (EXW)."
    ("EU-UK", "940360", "A change from any other heading; or manufacture in which the value of all the materials used does not exceed 50 % of the ex-works price of the product", "940390", D("50.00")),
    # EU-JP Annex 3-B, Chapter 87, headings 87.01-87.07: "MaxNOM 45 per cent (EXW); or RVC 60 per cent (FOB)."
    ("EU-JP", "870380", "MaxNOM 45% (EXW) or RVC 60% (FOB)", "840734", D("45.00")),
]


@pytest.mark.parametrize(("agreement", "hs", "other_notation", "failing_code", "limit"), THRESHOLD_CASES, ids=lambda v: str(v)[:30])
def test_value_threshold_from_both_sides_in_both_notations(run, agreement, hs, other_notation, failing_code, limit):
    # The material fails the tariff shift (its code is excepted or of the product's own heading), so only
    # the value limit can confer origin: exactly at the limit passes ("does not exceed"), a cent more fails.
    on = "2024-06-01" if agreement == "EU-KR" else "2025-03-01"
    for value, originating in ((limit, True), (limit + D("0.01"), False)):
        body = request(agreement, hs, "100.00", [material(failing_code, "CN", str(value))], date=on)
        from_data = run(body)
        from_request = run({**body, "rule": other_notation})
        assert from_data.rule.source == "rules_data" and from_request.rule.source == "request"
        assert from_data.originating is originating, (value, from_data.reasons)
        assert from_request.originating is originating, (value, from_request.reasons)


def test_eu_jp_rvc_threshold_from_both_sides(run):
    # EU-JP Annex 3-B, 85.01-85.02: RVC 55 per cent (FOB), build-down: (FOB - VNM) / FOB >= 55 %.
    def motor(vnm: str):
        return request("EU-JP", "850110", "100.00", [material("850300", "CN", vnm)], fob="200.00")

    assert run(motor("90.00")).originating is True  # RVC exactly 55 %
    assert run(motor("90.01")).originating is False


TARIFF_SHIFT_CASES = [
    # EU-JP Annex 3-B, heading 73.08: "CTH, except from subheading 7301.20; ..." — bars of 72.14 change heading, welded sections do not count.
    ("EU-JP", "730890", "721420", "730120", "CTH except from subheading 7301.20"),
    # EU-KR Annex II, heading 73.08: "...; however, welded angles, shapes and sections of heading 73.01 may not be used."
    ("EU-KR", "730890", "721420", "730120", "CTH except from 730120"),
    # TCA Annex ORIG-2, headings 64.01-64.05: "Production from non-originating materials of any heading, except from non-originating
    # assemblies of uppers affixed to inner soles or to other sole components of heading 64.06."
    ("EU-UK", "640399", "640399", "640690", "manufacture from materials of any heading except from 640690"),
    # CETA Annex 5, headings 64.01-64.05: "A change from any other heading, except from assemblies of uppers affixed to inner soles or to
    # other sole components of heading 64.06."
    ("CETA", "640399", "640620", "640690", "CTH except from 6406.90"),
]


@pytest.mark.parametrize(("agreement", "hs", "allowed", "excepted", "other_notation"), TARIFF_SHIFT_CASES, ids=lambda v: str(v)[:20])
def test_exceptions_as_printed_refuse_only_the_excepted_materials(run, agreement, hs, allowed, excepted, other_notation):
    on = "2024-06-01" if agreement == "EU-KR" else "2025-03-01"
    # worth 60 % of the price: no value alternative or tolerance can rescue an excepted material
    for code, originating in ((allowed, True), (excepted, False)):
        body = request(agreement, hs, "100.00", [material(code, "CN", "60.00")], date=on)
        assert run(body).originating is originating, (agreement, code)
        assert run({**body, "rule": other_notation}).originating is originating, (agreement, code)


def test_process_rules_as_printed(run):
    # TCA Annex ORIG-2, headings 39.01-39.15: "CTSH; a chemical reaction, purification, mixing and blending, ... or biotechnological
    # processing is undergone; or MaxNOM 50 % (EXW)." Ethylene polymer from non-originating ethylene of the same subheading.
    materials = [material("390110", "CN", "70.00")]
    assert run(request("EU-UK", "390110", "100.00", materials, operations=["purification"])).originating is True
    assert run(request("EU-UK", "390110", "100.00", materials, operations=["simple_mixing", "drying"])).originating is False
    # EU-JP Annex 3-B, Chapter 61 (subdivided row): knitted-to-shape garment, "Others: ... knitting and making-up in one operation."
    shirt = request("EU-JP", "610910", "20.00", [material("520512", "CN", "15.00")], operations=["knitting_and_making_up_in_one_operation"])
    assert run(shirt).originating is True
    assert run({**shirt, "operations": ["dyeing"]}).originating is False


def test_ceta_weight_alternative_is_read_but_never_assumed(run):
    # CETA Annex 5, Chapter 39 (heading 39.02): the net-weight alternative cannot be assessed from values.
    report = run(request("CETA", "390210", "100.00", [material("390230", "CN", "60.00")]))
    assert report.originating is False
    weight = report.alternatives[-1].criteria[0]
    assert weight.kind == "weight" and weight.met is False and "net weight" in weight.reason


class TestDaysInForce:
    def test_first_day_of_an_agreement(self, run):
        body = request("EU-JP", "850110", "100.00", [material("850300", "CN", "40.00")], date="2019-02-01")
        assert run(body).rule.valid_from == date(2019, 2, 1)
        with pytest.raises(EngineInputError, match="EU-JP applies from 2019-02-01; 2019-01-31 is earlier"):
            run({**body, "assessment_date": "2019-01-31"})

    def test_last_day_of_a_transitional_rule(self, run):
        # TCA Annex ORIG-2B: MaxNOM 60 % (EXW) for electrified vehicles until 31 December 2026; then 45 % and an originating battery.
        car = [material("850760", "EU", "20.00", proof=ltsd("2026-06-01", "2026-06-01", "2027-12-31"), dispatch_date="2026-12-01"), material("870899", "CN", "55.00")]
        last = run(request("EU-UK", "870380", "100.00", car, date="2026-12-31"))
        assert (last.rule.hs_range, last.rule.valid_until, last.originating) == ("870340-870380", date(2026, 12, 31), True)
        after = run(request("EU-UK", "870380", "100.00", car, date="2027-01-01"))
        assert (after.rule.hs_range, after.originating) == ("870360-870380", False)

    def test_ltsd_covers_its_last_day_only(self, run):
        def bought(dispatch: str):
            proof = ltsd("2025-01-01", "2025-01-01", "2025-12-31")
            return request("EU-UK", "850110", "100.00", [material("850300", "DE", "60.00", dispatch_date=dispatch, proof=proof)], date="2026-01-15")

        assert run(bought("2025-12-31")).originating is True
        assert run(bought("2026-01-01")).originating is False
        assert run(bought("2025-01-01")).originating is True
        assert run(bought("2024-12-31")).originating is False

    def test_statement_on_origin_valid_twelve_months(self, run):
        # EU-JP Art. 3.17(5): valid for 12 months from the date it was made out.
        def imported(dispatch: str):
            return request("EU-JP", "850110", "100.00", [material("850300", "JP", "60.00", dispatch_date=dispatch, proof=statement("2024-03-01"))])

        assert run(imported("2025-03-01")).originating is True
        assert run(imported("2025-03-02")).originating is False

    def test_tolerance_from_both_sides(self, run):
        # EU-UK Art. ORIG.6: 10 % of the ex-works price may fail the tariff shift (CTH, no value alternative for 73.08).
        def structure(value: str):
            return request("EU-UK", "730890", "100.00", [material("730890", "CN", value), material("721420", "CN", "50.00")])

        assert run(structure("10.00")).originating is True
        assert run(structure("10.01")).originating is False


UNREADABLE = [
    ("CTH; or MaxNOM 50 pct (EXW)", 19, "MaxNOM 50 % (EXW)"),
    ("CTH except 85.03", 12, "CTH except from heading 85.03"),
    ("A change from any heading", 15, "A change from any other heading"),
    ("Manufacture from materials of any headings", 1, "Manufacture from materials of any heading, except that of the product"),
    ("CTH except from heading 8503.00", 17, None),
    ("RVC 55 % (EXW)", 11, "RVC 55 % (FOB)"),
]


@pytest.mark.parametrize(("rule", "column", "nearest"), UNREADABLE)
def test_unreadable_text_is_refused_with_position_and_nearest_form(rule, column, nearest):
    with pytest.raises(RuleSyntaxError) as raised:
        parse_rule(rule)
    assert raised.value.column == column, raised.value.describe()
    assert raised.value.nearest == nearest
    if nearest:
        assert f"the nearest form it reads is '{nearest}'" in raised.value.describe()


def test_code_kind_and_digits_must_agree():
    with pytest.raises(RuleSyntaxError, match="heading codes have 4 digits: 850300"):
        parse_rule("CTH except from heading 8503.00")
    with pytest.raises(RuleSyntaxError, match="the goods described lie outside 7308"):
        parse_rule("CTH; however, welded angles, shapes and sections of heading 73.08 may not be used")


def test_a_change_within_the_heading_needs_a_condition():
    with pytest.raises(RuleSyntaxError, match="must be combined with a condition"):
        parse_rule("A change from within heading 39.01, whether or not there is also a change from any other heading")


class TestUnverifiedRules:
    PEM_MOTOR = request("PEM", "850110", "100.00", [material("850300", "CN", "40.00")])

    def test_every_pem_result_carries_the_warnings(self, run):
        report = run(self.PEM_MOTOR)
        assert report.rule.unverified is True
        assert [w.split(":")[0] for w in report.warnings] == ["UNVERIFIED", "UNVERIFIED"]
        assert "Pan-Euro-Mediterranean Convention (revised rules) parameters" in report.warnings[0]
        assert "product-specific rule for 8501-8502 under PEM" in report.warnings[1]
        assert '"warnings":["UNVERIFIED' in report.model_dump_json()

    def test_verified_results_carry_none(self, run):
        report = run(request("EU-JP", "850110", "100.00", [material("850300", "CN", "40.00")]))
        assert report.warnings == () and report.rule.unverified is False

    def test_in_house_part_under_an_unverified_rule_warns_the_product(self, rulebook: RuleBook):
        # the EU-JP rule for the part's heading as if added without a comparison (no checked_against)
        agreements = AgreementsFile.model_validate(yaml.safe_load((DATA_DIR / "agreements.yaml").read_text(encoding="utf-8")))
        blocks = [AgreementRules.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))) for path in sorted((DATA_DIR / "psr").glob("*.yaml"))]
        eu_jp = next(block for block in blocks if block.agreement == "EU-JP")
        rules = tuple(rule.model_copy(update={"checked_against": None}) if rule.hs == "8503-8518" else rule for rule in eu_jp.rules)
        book = RuleBook(agreements, [block if block is not eu_jp else block.model_copy(update={"rules": rules}) for block in blocks])
        part = material("850300", "EU", "30.00", in_house=True, sub_materials=[material("720917", "CN", "5.00")])
        body = AssessmentRequest.model_validate(request("EU-JP", "850110", "100.00", [part]))
        report = assess(body, book)
        assert report.rule.unverified is False and book.agreement("EU-JP").unverified is None
        assert report.warnings == (report.materials[0].sub_assessment.warnings[0],)
        assert "product-specific rule for 8503-8518 under EU-JP" in report.warnings[0]
        with pytest.raises(UnverifiedRulesRefused) as refused:
            assess(body, book, allow_unverified=False)
        assert refused.value.loc == ("materials", 0, "rule")

    def test_a_deployment_can_refuse_them(self, rulebook: RuleBook):
        with pytest.raises(UnverifiedRulesRefused) as refused:
            assess(AssessmentRequest.model_validate(self.PEM_MOTOR), rulebook, allow_unverified=False)
        assert refused.value.loc == ("agreement",)
        assert refused.value.message == (
            "the rules data for PEM is UNVERIFIED (not compared with the official text) and this deployment refuses unverified rules "
            "(origin.allowUnverifiedRules is false)"
        )


def test_cli_refuses_unverified_rules_when_the_setting_says_so(tmp_path, monkeypatch):
    import json

    import typer
    from typer.testing import CliRunner

    from app.cli import origin_app

    root = typer.Typer()
    root.add_typer(origin_app, name="origin")
    path = tmp_path / "request.json"
    path.write_text(json.dumps(TestUnverifiedRules.PEM_MOTOR), encoding="utf-8")
    allowed = CliRunner().invoke(root, ["origin", "check", str(path)])
    assert allowed.exit_code == 0 and json.loads(allowed.stdout)["warnings"][0].startswith("UNVERIFIED: ")
    monkeypatch.setenv("PSRA_ORIGIN_ALLOW_UNVERIFIED_RULES", "false")
    refused = CliRunner().invoke(root, ["origin", "check", str(path)])
    assert refused.exit_code == 2
    assert refused.stderr == (
        "invalid request:\n  agreement: the rules data for PEM is UNVERIFIED (not compared with the official text) and this deployment "
        "refuses unverified rules (origin.allowUnverifiedRules is false)\n"
    )
