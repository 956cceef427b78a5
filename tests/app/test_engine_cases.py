"""Worked cases derived from the official rule texts (rules looked up in app/data unless stated).

Each case states the legal rule it exercises and the numbers an auditor would compute by hand.
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.engine.assess import EngineInputError
from tests.app.cases import criterion, ltsd, material, request, statement

EU_JP_8501 = "CTH except from 8503 or MaxNOM 50% (EXW) or RVC 55% (FOB)"


class TestThresholds:
    def test_maxnom_exactly_met_passes(self, run):
        # EU-JP 85.01: NOM 50.00 / EXW 100.00 = 50 %: "does not exceed 50 %" is met.
        report = run(request("EU-JP", "850110", "100.00", [material("850300", "CN", "50.00")]))
        assert report.rule.text == EU_JP_8501
        assert report.rule.source == "rules_data"
        maxnom = criterion(report, "MaxNOM 50% (EXW)", "MaxNOM")
        assert (maxnom.met, maxnom.nom_value, maxnom.nom_percent) == (True, D("50.00"), D("50.00"))
        assert criterion(report, "CTH except from 8503", "CTH").met is False
        assert report.originating is True

    def test_maxnom_one_cent_over_fails(self, run):
        report = run(request("EU-JP", "850110", "100.00", [material("850300", "CN", "50.01")]))
        assert criterion(report, "MaxNOM 50% (EXW)", "MaxNOM").met is False
        assert report.originating is False
        assert report.non_originating_value == D("50.01")

    def test_rvc_exactly_met_passes(self, run):
        # EU-JP 87.03: MaxNOM 45 % or RVC 60 %. VNM 50, FOB 125: (125 - 50) / 125 = 60 %.
        report = run(request("EU-JP", "870380", "100.00", [material("850760", "CN", "50.00")], fob="125.00"))
        assert criterion(report, "MaxNOM 45% (EXW)", "MaxNOM").met is False
        rvc = criterion(report, "RVC 60% (FOB)", "RVC")
        assert (rvc.met, rvc.rvc_percent, rvc.vnm_value) == (True, D("60.00"), D("50.00"))
        assert report.originating is True

    def test_rvc_without_fob_is_not_met_and_says_why(self, run):
        report = run(request("EU-JP", "870380", "100.00", [material("850760", "CN", "50.00")]))
        rvc = criterion(report, "RVC 60% (FOB)", "RVC")
        assert rvc.met is False and rvc.rvc_percent is None
        assert "no fob_price" in rvc.reason
        assert report.originating is False

    def test_decimal_sums_are_exact(self, run):
        # 0.10 + 0.20 is exactly 0.30 = 30 % of 1.00; binary floats would make it 30.000000000000004 %.
        materials = [material("850300", "CN", "0.10"), material("850300", "CN", "0.20")]
        report = run(request("EU-JP", "850110", "1.00", materials, rule="MaxNOM 30% (EXW)"))
        maxnom = criterion(report, "MaxNOM 30% (EXW)", "MaxNOM")
        assert maxnom.nom_value == D("0.30") and maxnom.met is True


class TestTolerance:
    def test_tolerance_rescues_tariff_shift(self, run):
        # TCA 64.03: materials of any heading except assemblies of uppers affixed to inner soles of 64.06
        # (encoded as CTSH except from 6406.90). A non-originating upper assembly of 6406.90 worth 8.00
        # fails the exception, but 8.00 is within the general tolerance of 10 % of EXW 100.00 (ORIG.6).
        materials = [material("410792", "CN", "40.00"), material("640690", "CN", "8.00")]
        report = run(request("EU-UK", "640399", "100.00", materials))
        shift = criterion(report, "manufacture from materials of any heading except from 640690", "ANY")
        assert shift.met is True and shift.tolerance_applied is True
        assert (shift.tolerance_used, shift.tolerance_limit) == (D("8.00"), D("10.00"))
        assert [f.path for f in shift.failing_materials] == ["materials[1]"]
        assert report.originating is True

    def test_tolerance_exceeded(self, run):
        materials = [material("410792", "CN", "40.00"), material("640690", "CN", "10.01")]
        report = run(request("EU-UK", "640399", "100.00", materials))
        shift = criterion(report, "manufacture from materials of any heading except from 640690", "ANY")
        assert shift.met is False and shift.tolerance_applied is False
        assert "above the general tolerance" in shift.reason
        assert report.originating is False

    def test_tolerance_refused_for_textiles(self, run):
        # Same figures for trousers (62.03) under a plain CTH: Annex 3-A Notes 6-8 exclude chapters 50-63
        # from the general tolerance, so the 5.00 of same-heading material is not forgiven.
        materials = [material("520942", "CN", "30.00"), material("620349", "CN", "5.00")]
        textile = run(request("EU-JP", "620342", "100.00", materials, rule="CTH"))
        assert textile.tolerance.available is False
        shift = criterion(textile, "CTH", "CTH")
        assert shift.met is False and "chapters 50-63" in shift.reason
        assert textile.originating is False
        # Control: the same bill of materials for footwear (chapter 64) is rescued.
        shoes = [material("410792", "CN", "30.00"), material("640399", "CN", "5.00")]
        assert run(request("EU-JP", "640399", "100.00", shoes, rule="CTH")).originating is True

    def test_tolerance_never_raises_a_maxnom_threshold(self, run):
        # CTH rescued by tolerance (8.00 <= 10.00) but the same 8.00 still counts in MaxNOM 5 %.
        report = run(request("EU-JP", "841821", "100.00", [material("841899", "CN", "8.00")], rule="CTH and MaxNOM 5% (EXW)"))
        alternative = report.alternatives[0]
        assert [c.met for c in alternative.criteria] == [True, False]
        assert criterion(report, "CTH and MaxNOM 5% (EXW)", "MaxNOM").nom_value == D("8.00")
        assert report.originating is False

    def test_pem_tolerance_is_fifteen_percent(self, run):
        report = run(request("PEM", "841821", "200.00", [material("841899", "CN", "30.00")], rule="CTH"))
        shift = criterion(report, "CTH", "CTH")
        assert (report.tolerance.percent, shift.tolerance_limit, shift.met) == (D("15"), D("30.00"), True)


class TestSupplierDeclarations:
    LTSD_2024 = ltsd("2024-01-01", "2024-01-01", "2024-12-31")

    def test_valid_ltsd_makes_eu_material_originating(self, run):
        # TCA 85.16: CTH or MaxNOM 50 %. The heater's heating element (8516.80) comes from a German
        # supplier; with an LTSD covering its dispatch it is originating, so no material fails.
        part = material("851680", "DE", "60.00", proof=self.LTSD_2024, dispatch_date="2024-06-15")
        report = run(request("EU-UK", "851660", "100.00", [part], date="2024-07-01"))
        assert report.materials[0].originating is True and report.materials[0].basis == "ltsd"
        assert report.originating is True

    def test_expired_ltsd_does_not_cover_the_dispatch(self, run):
        part = material("851680", "DE", "60.00", proof=self.LTSD_2024, dispatch_date="2025-01-10")
        report = run(request("EU-UK", "851660", "100.00", [part], date="2025-02-01"))
        status = report.materials[0]
        assert status.originating is False
        assert "covers consignments dispatched 2024-01-01 to 2024-12-31, not on 2025-01-10" in status.reason
        assert criterion(report, "MaxNOM 50% (EXW)", "MaxNOM").nom_percent == D("60.00")
        assert report.originating is False

    def test_over_long_ltsd_is_invalid(self, run):
        proof = ltsd("2024-01-01", "2024-01-01", "2026-01-02")
        part = material("851680", "DE", "60.00", proof=proof, dispatch_date="2024-06-15")
        status = run(request("EU-UK", "851660", "100.00", [part], date="2024-07-01")).materials[0]
        assert status.originating is False and "exceeds 24 months" in status.reason

    def test_ltsd_of_exactly_24_months_is_valid(self, run):
        proof = ltsd("2024-01-01", "2024-01-01", "2026-01-01")
        part = material("851680", "DE", "60.00", proof=proof, dispatch_date="2025-12-31")
        assert run(request("EU-UK", "851660", "100.00", [part], date="2026-01-01")).materials[0].originating is True

    @pytest.mark.parametrize(
        ("issue", "start", "end", "fragment"),
        [
            ("2025-06-01", "2024-05-31", "2025-05-31", "more than 12 months before its issue date"),
            ("2024-01-01", "2024-07-02", "2025-06-30", "more than 6 months after its issue date"),
        ],
    )
    def test_ltsd_start_window(self, run, issue, start, end, fragment):
        part = material("851680", "FR", "60.00", proof=ltsd(issue, start, end), dispatch_date="2024-09-01")
        status = run(request("EU-UK", "851660", "100.00", [part], date="2025-07-01")).materials[0]
        assert status.originating is False and fragment in status.reason

    def test_eu_material_without_declaration_is_non_originating(self, run):
        status = run(request("EU-UK", "851660", "100.00", [material("851680", "IT", "60.00")])).materials[0]
        assert status.originating is False and "without a supplier's declaration or LTSD" in status.reason

    def test_unknown_origin_is_non_originating(self, run):
        status = run(request("EU-UK", "851660", "100.00", [material("851680", "UNKNOWN", "1.00")])).materials[0]
        assert status.originating is False and "undetermined" in status.reason

    def test_declaration_naming_another_agreement_is_refused(self, run):
        proof = {**self.LTSD_2024, "agreements": ["CETA"]}
        part = material("851680", "DE", "60.00", proof=proof, dispatch_date="2024-06-15")
        status = run(request("EU-UK", "851660", "100.00", [part], date="2024-07-01")).materials[0]
        assert status.originating is False and "names CETA, not EU-UK" in status.reason

    def test_withdrawn_declaration_is_refused(self, run):
        proof = {**self.LTSD_2024, "withdrawn_on": "2024-05-01"}
        part = material("851680", "DE", "60.00", proof=proof, dispatch_date="2024-06-15")
        status = run(request("EU-UK", "851660", "100.00", [part], date="2024-07-01")).materials[0]
        assert status.originating is False and "withdrew" in status.reason

    def test_unresolved_declaration_reference_is_an_input_error(self, run):
        part = material("851680", "DE", "60.00", proof={"declaration_id": "6f1c3f9e-6f7a-4a53-9a39-d5a6f4f0d0aa"})
        with pytest.raises(EngineInputError) as raised:
            run(request("EU-UK", "851660", "100.00", [part]))
        assert raised.value.loc == ("materials", 0, "proof", "declaration_id")


class TestCumulation:
    MOTOR_PARTS = [material("850300", "JP", "60.00", proof=statement("2025-01-15"))]

    def test_japanese_parts_count_under_eu_jp(self, run):
        # EU-JP Art. 3.5: Japanese-originating rotor/stator parts (85.03) count as originating, so the
        # 85.03 exception of the 85.01 rule is not triggered.
        report = run(request("EU-JP", "850110", "100.00", self.MOTOR_PARTS))
        status = report.materials[0]
        assert (status.originating, status.cumulation, status.basis) == (True, True, "statement_on_origin")
        assert criterion(report, "CTH except from 8503", "CTH").met is True
        assert report.originating is True

    def test_japanese_parts_do_not_count_under_ceta(self, run):
        # CETA cumulates with Canada only: the same parts are non-originating and the 85.01 rule fails.
        report = run(request("CETA", "850110", "100.00", self.MOTOR_PARTS))
        assert report.materials[0].originating is False
        assert report.materials[0].reason == "JP is neither the EU nor a cumulation partner under CETA (CA)"
        restricted = criterion(report, "MaxNOM 50% (EXW) of 8501, 8503", "MaxNOM")
        assert (restricted.nom_value, restricted.met) == (D("60.00"), False)
        assert report.originating is False

    def test_partner_material_without_proof_does_not_count(self, run):
        report = run(request("EU-JP", "850110", "100.00", [material("850300", "JP", "60.00")]))
        assert report.materials[0].originating is False and "without proof of origin" in report.materials[0].reason

    def test_expired_statement_on_origin(self, run):
        part = material("850300", "JP", "60.00", proof=statement("2023-01-15"), dispatch_date="2024-02-01")
        status = run(request("EU-JP", "850110", "100.00", [part])).materials[0]
        assert status.originating is False and "valid for 12 months" in status.reason

    def test_pem_diagonal_cumulation_with_turkey(self, run):
        part = material("850300", "TR", "60.00", proof=statement("2025-01-15"))
        assert run(request("PEM", "850110", "100.00", [part])).materials[0].originating is True
        assert run(request("EU-JP", "850110", "100.00", [part])).materials[0].originating is False


class TestInsufficientOperations:
    def test_simple_operations_override_a_met_rule(self, run):
        # EU-JP Art. 3.4: a fridge made only by simple assembly and packaging of parts is not
        # originating even though CTH is met (all parts are of other headings).
        materials = [material("841590", "CN", "20.00"), material("841430", "CN", "25.00")]
        report = run(request("EU-JP", "841821", "100.00", materials, operations=["simple_assembly", "simple_packaging"]))
        assert criterion(report, "CTH", "CTH").met is True
        assert report.operations.all_insufficient is True
        assert report.originating is False
        assert any("insufficient operations" in r for r in report.reasons)

    def test_one_substantial_operation_lifts_the_override(self, run):
        materials = [material("841590", "CN", "20.00")]
        report = run(request("EU-JP", "841821", "100.00", materials, operations=["simple_packaging", "brazing_of_refrigerant_circuit"]))
        assert report.operations.insufficient == ("simple_packaging",)
        assert report.originating is True

    def test_testing_and_calibration_is_insufficient_only_under_eu_kr(self, run):
        body = request("EU-KR", "841821", "100.00", rule="CTH", operations=["testing_calibration"])
        assert run(body).originating is False
        assert run({**body, "agreement": "EU-JP"}).originating is True


class TestAbsorption:
    def test_in_house_rotor_that_qualifies_is_absorbed(self, run):
        # The rotor (85.03, EXW 60) is made in-house from Chinese steel sheet (72.09): CTH is met, so the
        # rotor is originating and its Chinese steel no longer counts for the motor (EU-JP Art. 3.2(3)).
        rotor = material("850300", "EU", "60.00", in_house=True, sub_materials=[material("720917", "CN", "25.00")])
        report = run(request("EU-JP", "850110", "100.00", [rotor]))
        status = report.materials[0]
        assert (status.originating, status.basis) == (True, "absorption")
        assert status.sub_assessment is not None and status.sub_assessment.rule.hs_range == "8503-8518"
        assert report.non_originating_value == D("0")
        assert report.originating is True

    def test_in_house_rotor_that_fails_counts_at_full_value(self, run):
        # Made from a non-originating rotor blank of the same heading worth 40 of 60: CTH fails (40 > 6
        # tolerance) and MaxNOM is 66.67 % > 50 %; the rotor counts at 60.00 against the motor.
        rotor = material("850300", "EU", "60.00", in_house=True, sub_materials=[material("850300", "CN", "40.00")])
        report = run(request("EU-JP", "850110", "100.00", [rotor]))
        status = report.materials[0]
        assert status.originating is False and status.sub_assessment.originating is False
        assert criterion(status.sub_assessment, "MaxNOM 50% (EXW)", "MaxNOM").nom_percent == D("66.67")
        assert criterion(report, "MaxNOM 50% (EXW)", "MaxNOM").nom_value == D("60.00")
        assert report.originating is False

    def test_in_house_part_uses_its_own_given_rule(self, run):
        rotor = material("850300", "EU", "60.00", in_house=True, rule="CTSH", sub_materials=[material("850300", "CN", "40.00")])
        status = run(request("EU-JP", "850110", "100.00", [rotor])).materials[0]
        assert status.sub_assessment.rule.source == "request" and status.originating is False


class TestRestrictedMaxNom:
    def test_only_listed_codes_count(self, run):
        # CETA 85.01: non-originating materials of 85.01 or 85.03 may not exceed 50 %. The Chinese
        # stator (85.03, 40.00) counts; the Chinese cable (85.44, 30.00) does not, although total NOM is 70 %.
        materials = [material("850300", "CN", "40.00"), material("854449", "CN", "30.00")]
        report = run(request("CETA", "850110", "100.00", materials))
        restricted = criterion(report, "MaxNOM 50% (EXW) of 8501, 8503", "MaxNOM")
        assert (restricted.nom_value, restricted.nom_percent, restricted.met) == (D("40.00"), D("40.00"), True)
        assert restricted.counted_materials == ("materials[0]",)
        assert criterion(report, "CTH except from 8503", "CTH").met is False
        assert report.originating is True

    def test_eu_kr_combined_restricted_rule(self, run):
        # A combined restricted rule given in the request: CTH and 85.03 materials at most 10 %; or MaxNOM
        # 45 %. (The bundled EU-KR rule for 85.01 is the ex Chapter 85 rule, CTH or MaxNOM 45 %.)
        materials = [material("850300", "CN", "12.00"), material("854449", "CN", "40.00")]
        rule = "(CTH and MaxNOM 10% (EXW) of 8503) or MaxNOM 45% (EXW)"
        report = run(request("EU-KR", "850110", "100.00", materials, rule=rule, date="2024-01-01"))
        first = report.alternatives[0]
        assert first.text == "CTH and MaxNOM 10% (EXW) of 8503"
        assert [c.met for c in first.criteria] == [True, False]
        assert report.alternatives[1].met is False
        assert report.originating is False


class TestRuleSelection:
    def test_agreement_not_yet_applicable(self, run):
        with pytest.raises(EngineInputError) as raised:
            run(request("PEM", "850110", "100.00", date="2024-12-31"))
        assert raised.value.loc == ("assessment_date",)

    def test_no_rule_in_data_asks_for_one(self, run):
        with pytest.raises(EngineInputError) as raised:
            run(request("EU-JP", "010121", "100.00"))
        assert raised.value.loc == ("rule",) and "give the rule" in raised.value.message

    def test_given_rule_wins_over_data(self, run):
        report = run(request("EU-JP", "850110", "100.00", rule="CTSH"))
        assert report.rule.source == "request" and report.rule.text == "CTSH"

    def test_reasons_are_plain_language(self, run):
        report = run(request("EU-JP", "850110", "100.00", [material("850300", "CN", "60.00")], fob="120.00"))
        assert report.reasons[0].startswith("The product 850110 is not originating under the EU-Japan Economic Partnership Agreement")
        assert any(r.startswith("Not met: CTH except from 8503, because materials[0] (850300, 60.00): excepted code") for r in report.reasons)
        assert report.reasons[-1] == "1 of 1 materials are non-originating, worth 60.00 (60.00% of the ex-works price)."
