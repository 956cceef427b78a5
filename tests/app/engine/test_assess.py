"""The engine's entry point: when an agreement and a rule apply (first day in force, and the day before), the
refusals and their messages, the rule read and reported, in-house parts (worth 0 is refused), the reasons
and warnings, and what is remembered across calculations (never a different answer)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import pytest

from app.engine import assess as assess_module
from app.engine.assess import (
    EngineInputError,
    UnverifiedRulesRefused,
    assess,
    field_path,
)
from app.engine.report import (
    AssessmentReport,
    MaterialResult,
    OperationsCheck,
    RuleUsed,
    ToleranceInfo,
)
from app.engine.request import AssessmentRequest
from app.engine.rulebook import (
    AgreementRules,
    AgreementsFile,
    ProductRule,
    RuleBook,
    RuleSource,
    default_rulebook,
)
from tests.app.cases import material, request, statement

EU_JP = "Agreement between the EU and Japan for an Economic Partnership, Chapter 3 and Annexes 3-A, 3-B (OJ L 330, 27.12.2018; CELEX 22018A1227(01))"
PEM_UNVERIFIED = (
    "the cumulation partners, the list of insufficient operations and the validity of proofs were not compared with the text of "
    "Decision No 1/2023 of the PEM Joint Committee"
)


def _assess(
    body: dict[str, Any], source: RuleSource | None = None, *, allow: bool = True
) -> AssessmentReport:
    return assess(
        AssessmentRequest.model_validate(body),
        source or default_rulebook(),
        allow_unverified=allow,
    )


def _refusal(
    body: dict[str, Any], source: RuleSource | None = None, *, allow: bool = True
) -> EngineInputError:
    with pytest.raises(EngineInputError) as raised:
        _assess(body, source, allow=allow)
    assert str(raised.value) == raised.value.message
    return raised.value


def _book(*rules: ProductRule) -> RuleBook:
    """A rule book with the bundled EU-JP agreement (the same object) and these rules."""
    bundled = default_rulebook()
    agreements = AgreementsFile(
        eu_member_states=bundled.eu_member_states,
        agreements=(bundled.agreement("EU-JP"),),
    )
    return RuleBook(
        agreements, [AgreementRules(agreement="EU-JP", annex="test", rules=rules)]
    )


def _rule(hs: str = "8503", rule: str = "CTH", **extra: Any) -> ProductRule:
    fields = {
        "legal_source": "test annex",
        "valid_from": date(2019, 2, 1),
        "checked_against": "a transcription @1",
        **extra,
    }
    return ProductRule(hs=hs, rule=rule, **fields)


class TestWhenItApplies:
    def test_the_agreement_applies_from_its_first_day(self):
        assert _assess(
            request("PEM", "850110", "100.00", rule="CTH", date="2025-01-01")
        ).assessment_date == date(2025, 1, 1)
        refused = _refusal(
            request("PEM", "850110", "100.00", rule="CTH", date="2024-12-31")
        )
        assert (refused.loc, refused.message) == (
            ("assessment_date",),
            "PEM applies from 2025-01-01; 2024-12-31 is earlier",
        )

    def test_no_rule_in_force_asks_for_one(self):
        refused = _refusal(request("EU-JP", "010121", "100.00"))
        assert refused.loc == ("rule",)
        assert (
            refused.message
            == "no product-specific rule for 010121 under EU-JP in force on 2025-03-01 in the rules data; give the rule in 'rule'"
        )

    def test_a_rule_is_used_from_its_first_day_not_the_day_before(self):
        book = _book(_rule("8501", valid_from=date(2025, 3, 1)))
        assert (
            _assess(
                request("EU-JP", "850110", "100.00", date="2025-03-01"), book
            ).rule.hs_range
            == "8501"
        )
        assert _refusal(
            request("EU-JP", "850110", "100.00", date="2025-02-28"), book
        ).loc == ("rule",)

    def test_a_rule_is_used_until_its_last_day(self):
        book = _book(_rule("8501", valid_until=date(2025, 3, 1)))
        assert _assess(
            request("EU-JP", "850110", "100.00", date="2025-03-01"), book
        ).rule.valid_until == date(2025, 3, 1)
        assert _refusal(
            request("EU-JP", "850110", "100.00", date="2025-03-02"), book
        ).loc == ("rule",)


class TestUnverified:
    def test_unverified_agreement_is_refused_when_the_setting_says_so(self):
        refused = _refusal(request("PEM", "850110", "100.00", rule="CTH"), allow=False)
        assert isinstance(refused, UnverifiedRulesRefused) and refused.loc == (
            "agreement",
        )
        assert refused.message == (
            "the rules data for PEM is UNVERIFIED (not compared with the official text) and this deployment refuses unverified rules "
            "(origin.allowUnverifiedRules is false)"
        )

    def test_unverified_agreement_and_rule_are_warned_about(self):
        report = _assess(request("PEM", "850110", "100.00"))
        assert report.warnings == (
            (
                f"UNVERIFIED: the Pan-Euro-Mediterranean Convention (revised rules) parameters used here were not checked: {PEM_UNVERIFIED}. "
                "Confirm the result against the official text before relying on it."
            ),
            (
                "UNVERIFIED: the product-specific rule for 8501-8502 under PEM (Revised PEM rules, Appendix I Annex II, headings 85.01-85.02) "
                "was not compared with the official text; confirm it before relying on this result."
            ),
        )

    def test_unverified_data_rule_is_refused_when_the_setting_says_so(self):
        book = _book(_rule("8501", checked_against=None))
        refused = _refusal(request("EU-JP", "850110", "100.00"), book, allow=False)
        assert isinstance(refused, UnverifiedRulesRefused) and refused.loc == ("rule",)
        assert refused.message == (
            "the product-specific rule for 8501 under EU-JP in the rules data is UNVERIFIED (not compared with the official text) and this "
            "deployment refuses unverified rules (origin.allowUnverifiedRules is false); give the rule from the official text in 'rule'"
        )
        part = material(
            "850300",
            "EU",
            "30.00",
            in_house=True,
            sub_materials=[material("720917", "CN", "1.00")],
        )
        nested = _refusal(
            request(
                "EU-JP",
                "850110",
                "100.00",
                [material("720917", "CN", "1.00"), part],
                rule="CTH",
            ),
            _book(_rule(checked_against=None)),
            allow=False,
        )
        assert nested.loc == ("materials", 1, "rule")

    def test_verified_data_is_assessed_without_warnings_when_refusing(self):
        report = _assess(
            request("EU-JP", "850110", "100.00"), _book(_rule("8501")), allow=False
        )
        assert report.warnings == () and report.rule.unverified is False

    def test_a_part_s_warning_reaches_the_product_once(self):
        book = _book(_rule("8501"), _rule("8503", checked_against=None))
        part = material(
            "850300",
            "EU",
            "30.00",
            in_house=True,
            sub_materials=[material("720917", "CN", "1.00")],
        )
        report = _assess(request("EU-JP", "850110", "100.00", [part, part]), book)
        warning = "UNVERIFIED: the product-specific rule for 8503 under EU-JP (test annex) was not compared with the official text; confirm it before relying on this result."
        assert report.warnings == (warning,)
        assert report.materials[0].sub_assessment.warnings == (warning,)


class TestRuleUsed:
    def test_a_given_rule(self):
        report = _assess(
            request("EU-JP", "850110", "100.00", rule="CTH, except from heading 85.03")
        )
        assert report.rule == RuleUsed(
            legal_text="CTH, except from heading 85.03",
            text="CTH except from 8503",
            source="request",
            legal_source=f"given in the request; general provisions: {EU_JP}",
        )

    def test_a_data_rule(self):
        report = _assess(request("EU-JP", "850300", "100.00"))
        assert report.rule == RuleUsed(
            legal_text="CTH; MaxNOM 50 per cent (EXW); or RVC 55 per cent (FOB).",
            text="CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)",
            source="rules_data",
            legal_source="EU-JP Annex 3-B, Chapter 85, headings 85.03-85.18",
            unverified=False,
            hs_range="8503-8518",
            valid_from=date(2019, 2, 1),
            valid_until=None,
            checked_against="trade-tariff/ott-prototype app/data/roo/xi/product_specific/japan_roo.json @8155e781 (rows 8503-8518)",
        )
        assert [a.text for a in report.alternatives] == [
            "CTH",
            "MaxNOM 50% (EXW)",
            "RVC 55% (FOB)",
        ]


class TestReport:
    def test_the_whole_report_of_a_simple_case(self):
        report = _assess(
            request(
                "EU-JP",
                "850110",
                "80.00",
                [material("720917", "CN", "30.00"), material("850300", "CN", "0")],
                fob="90.00",
                rule="CTH",
            )
        )
        assert (report.originating, report.agreement, report.agreement_name) == (
            True,
            "EU-JP",
            "EU-Japan Economic Partnership Agreement",
        )
        assert (
            report.product.hs_code,
            report.product.ex_works_price,
            report.product.fob_price,
            report.product.description,
        ) == ("850110", D("80.00"), D("90.00"), None)
        assert report.non_originating_value == D("30.00")
        assert [m.path for m in report.materials] == ["materials[0]", "materials[1]"]
        assert report.tolerance == ToleranceInfo(
            D(10),
            D("8.00"),
            True,
            report.tolerance.legal_source,
            "non-originating materials worth up to 10% of the ex-works price (8.00) may fail a tariff-shift requirement",
        )
        assert report.tolerance.legal_source.startswith("EU-JP Art. 3.6")
        assert report.operations == OperationsCheck(
            (), (), False, report.operations.legal_source
        )
        assert report.reasons == (
            "The product 850110 is originating under the EU-Japan Economic Partnership Agreement (rule: CTH).",
            "Met: CTH.",
            "2 of 2 materials are non-originating, worth 30.00 (37.50% of the ex-works price).",
        )
        # the 85.03 material worth 0 is of another heading than the product's: counted, worth nothing, failing nothing
        assert report.alternatives[0].criteria[0].failing_materials == ()

    def test_a_material_worth_zero_that_fails_the_shift_is_forgiven_except_for_textiles(
        self,
    ):
        # chapters 50-63 have no general tolerance: there a failing material worth 0 still fails the shift
        textile = _assess(
            request(
                "EU-JP", "620342", "100.00", [material("620349", "CN", "0")], rule="CTH"
            )
        )
        assert textile.originating is False and textile.tolerance.available is False
        assert (
            textile.tolerance.reason
            == "the general tolerance does not apply to products of chapters 50-63 (textile products follow their own notes)"
        )
        assert textile.tolerance.limit == D("10.00")
        other = _assess(
            request(
                "EU-JP", "850110", "100.00", [material("850190", "CN", "0")], rule="CTH"
            )
        )
        assert other.originating is True and other.alternatives[0].criteria[
            0
        ].tolerance_used == D(0)

    def test_reasons_when_no_alternative_is_met_name_the_first_criterion_not_met(self):
        rule = "CTH or OP(mixing) and MaxNOM 50% (EXW)"
        report = _assess(
            request(
                "EU-JP",
                "850110",
                "100.00",
                [material("850190", "CN", "60.00")],
                rule=rule,
                operations=["mixing"],
            )
        )
        assert report.reasons == (
            "The product 850110 is not originating under the EU-Japan Economic Partnership Agreement (rule: CTH or (OP(mixing) and MaxNOM 50% (EXW))).",
            (
                "Not met: CTH, because materials[0] (850190, 60.00): same heading 8501 as the product; the failing materials are worth 60.00, "
                "above the general tolerance of 10.00 (10% of the ex-works price)."
            ),
            (
                "Not met: OP(mixing) and MaxNOM 50% (EXW), because non-originating materials are worth 60.00, 60.00% of the ex-works price 100.00; "
                "above the maximum of 50%."
            ),
            "1 of 1 materials are non-originating, worth 60.00 (60.00% of the ex-works price).",
        )

    def test_no_materials_no_materials_reason(self):
        report = _assess(request("EU-JP", "850110", "100.00", rule="CTH or CTSH"))
        assert report.reasons == (
            "The product 850110 is originating under the EU-Japan Economic Partnership Agreement (rule: CTH or CTSH).",
            "Met: CTH; CTSH.",
        )
        assert report.non_originating_value == D(0) and report.materials == ()


class TestOperations:
    def test_only_insufficient_operations_override_the_rule(self):
        report = _assess(
            request(
                "EU-JP",
                "850110",
                "100.00",
                rule="CTH",
                operations=["simple_packaging", "simple_assembly", "simple_packaging"],
            )
        )
        assert report.operations.performed == ("simple_packaging", "simple_assembly")
        assert report.operations.insufficient == ("simple_packaging", "simple_assembly")
        assert (
            report.operations.all_insufficient is True and report.originating is False
        )
        assert report.reasons[:3] == (
            "The product 850110 is not originating under the EU-Japan Economic Partnership Agreement (rule: CTH).",
            (
                "Only insufficient operations were performed (simple_packaging, simple_assembly); they never confer origin "
                f"({report.operations.legal_source}), whatever the product-specific rule says."
            ),
            "Met: CTH.",
        )

    def test_one_sufficient_operation_lifts_the_override(self):
        report = _assess(
            request(
                "EU-JP",
                "850110",
                "100.00",
                rule="CTH",
                operations=["winding", "simple_packaging"],
            )
        )
        assert (
            report.operations.insufficient,
            report.operations.all_insufficient,
            report.originating,
        ) == (("simple_packaging",), False, True)


class TestInHouseParts:
    def _part(self, value: str, *subs: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return material(
            "850300",
            "EU",
            value,
            in_house=True,
            sub_materials=list(subs) or [material("720917", "CN", "1.00")],
            **extra,
        )

    def test_a_part_worth_zero_is_refused_the_smallest_value_is_not(self):
        refused = _refusal(
            request(
                "EU-JP",
                "850110",
                "100.00",
                [
                    material("720917", "CN", "1.00"),
                    self._part("0", material("720917", "CN", "0")),
                ],
            )
        )
        assert refused.loc == ("materials", 1, "value")
        assert (
            refused.message
            == "an in-house part with sub_materials needs a value above 0 (its ex-works cost)"
        )
        smallest = _assess(
            request(
                "EU-JP",
                "850110",
                "100.00",
                [self._part("0.0001", material("720917", "CN", "0"))],
            )
        )
        assert (
            smallest.materials[0].originating is True
            and smallest.materials[0].basis == "absorption"
        )

    def test_an_absorbed_part(self):
        report = _assess(
            request(
                "EU-JP", "850110", "100.00", [self._part("30.00", description="rotor")]
            )
        )
        part = report.materials[0]
        assert (part.path, part.hs_code, part.origin, part.value, part.originating, part.basis, part.cumulation) == (
            "materials[0]", "850300", "EU", D("30.00"), True, "absorption", False,
        )  # fmt: skip
        assert (
            part.reason
            == "in-house part meets its own rule (CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)), so it counts as wholly originating (absorption)"
        )
        sub = part.sub_assessment
        assert (
            sub.product.hs_code,
            sub.product.ex_works_price,
            sub.product.fob_price,
            sub.product.description,
        ) == ("850300", D("30.00"), None, "rotor")
        assert (
            sub.operations.performed == ()
            and sub.materials[0].path == "materials[0].sub_materials[0]"
        )

    def test_a_part_that_fails_its_rule(self):
        part = _assess(
            request(
                "EU-JP",
                "850110",
                "100.00",
                [self._part("30.00", material("850390", "CN", "15.01"))],
            )
        ).materials[0]
        assert (part.originating, part.basis, part.cumulation) == (False, None, False)
        assert (
            part.reason
            == "in-house part does not meet its own rule (CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)); counted at its full value as non-originating"
        )

    def test_a_part_without_a_rule_in_force(self):
        part = material(
            "010121",
            "EU",
            "30.00",
            in_house=True,
            sub_materials=[material("720917", "CN", "1.00")],
        )
        report = _assess(
            request(
                "EU-JP",
                "850110",
                "100.00",
                [material("720917", "CN", "1.00"), part],
                rule="CTH",
            )
        )
        assert report.materials[1] == MaterialResult(
            "materials[1]",
            "010121",
            "EU",
            D("30.00"),
            False,
            None,
            False,
            "in-house part: no product-specific rule for 010121 under EU-JP, so it cannot acquire origin; counted at its full value as non-originating",
        )

    def test_an_in_house_part_without_sub_materials_is_judged_like_a_bought_one(self):
        part = material("850300", "EU", "30.00", in_house=True)
        report = _assess(request("EU-JP", "850110", "100.00", [part], rule="CTH"))
        assert report.materials[0].reason == (
            "in-house part without sub_materials, judged by its origin and proof: EU origin without a supplier's declaration or LTSD: treated as non-originating"
        )
        assert report.materials[0].sub_assessment is None

    def test_an_unresolved_declaration_deep_in_a_part_names_its_field(self):
        unresolved = material(
            "720917",
            "DE",
            "1.00",
            proof={"declaration_id": "6f1c3f9e-6f7a-4a53-9a39-d5a6f4f0d0aa"},
        )
        refused = _refusal(
            request(
                "EU-JP",
                "850110",
                "100.00",
                [
                    material("720917", "CN", "1.00"),
                    self._part("30.00", material("720917", "CN", "1.00"), unresolved),
                ],
            )
        )
        assert refused.loc == (
            "materials",
            1,
            "sub_materials",
            1,
            "proof",
            "declaration_id",
        )
        assert refused.message == (
            "declaration 6f1c3f9e-6f7a-4a53-9a39-d5a6f4f0d0aa was not resolved to its type and dates; give the proof type and dates instead"
        )


def test_field_path():
    assert field_path(()) == ""
    assert field_path(("materials",)) == "materials"
    assert field_path(("materials", 0, "proof")) == "materials[0].proof"
    assert (
        field_path(("materials", 2, "sub_materials", 10, "rule"))
        == "materials[2].sub_materials[10].rule"
    )


def _book_with(
    agreement_update: dict[str, Any] | None = None,
    members: frozenset[str] | None = None,
    rules: tuple[ProductRule, ...] = (),
) -> RuleBook:
    bundled = default_rulebook()
    agreement = bundled.agreement("EU-JP")
    if agreement_update:
        agreement = agreement.model_copy(update=agreement_update)
    agreements = AgreementsFile(
        eu_member_states=members or bundled.eu_member_states, agreements=(agreement,)
    )
    return RuleBook(
        agreements,
        [
            AgreementRules(
                agreement="EU-JP", annex="test", rules=rules or bundled.rules("EU-JP")
            )
        ],
    )


class TestRemembered:
    """Statuses, data rules and in-house parts are remembered across calculations: never a different answer."""

    @pytest.fixture(autouse=True)
    def _empty_memories(self, monkeypatch):
        for memory in ("_STATUSES", "_PARTS", "_DATA_RULES"):
            monkeypatch.setattr(assess_module, memory, {})

    def _originating(
        self, body: dict[str, Any], source: RuleSource | None = None, *, index: int = 0
    ) -> bool:
        return _assess(body, source).materials[index].originating

    def test_a_status_depends_on_the_assessment_date(self):
        # a statement on origin of 2025-01-15 is valid 12 months; without a dispatch date the assessment date counts
        bought = [material("850300", "JP", "60.00", proof=statement("2025-01-15"))]
        assert (
            self._originating(
                request(
                    "EU-JP", "850110", "100.00", bought, rule="CTH", date="2026-01-15"
                )
            )
            is True
        )
        assert (
            self._originating(
                request(
                    "EU-JP", "850110", "100.00", bought, rule="CTH", date="2026-01-16"
                )
            )
            is False
        )

    def test_a_status_depends_on_the_dispatch_date_origin_and_proof(self):
        def bought(
            origin: str = "JP", dispatch: str = "2025-06-01", issue: str = "2025-01-15"
        ) -> dict[str, Any]:
            return request(
                "EU-JP",
                "850110",
                "100.00",
                [
                    material(
                        "850300",
                        origin,
                        "60.00",
                        proof=statement(issue),
                        dispatch_date=dispatch,
                    )
                ],
                rule="CTH",
            )

        assert self._originating(bought()) is True
        assert self._originating(bought(dispatch="2026-01-16")) is False
        assert self._originating(bought(origin="KR")) is False
        assert self._originating(bought(issue="2024-01-15")) is False
        assert self._originating(bought()) is True

    def test_a_status_is_reused_only_with_the_same_member_states(self):
        body = request(
            "EU-JP",
            "850110",
            "100.00",
            [
                material(
                    "850300",
                    "DE",
                    "60.00",
                    proof=statement("2025-01-15") | {"type": "supplier_declaration"},
                )
            ],
            rule="CTH",
        )
        assert self._originating(body) is True
        assert (
            _assess(body, _book_with(members=frozenset({"FR"})))
            .materials[0]
            .reason.startswith("DE is neither the EU nor a cumulation partner")
        )

    def test_memories_stay_within_their_bounds(self, monkeypatch):
        monkeypatch.setattr(assess_module, "STATUSES_REMEMBERED", 2)
        monkeypatch.setattr(assess_module, "PARTS_REMEMBERED", 1)
        monkeypatch.setattr(assess_module, "DATA_RULES_REMEMBERED", 1)
        for origin in ("CN", "US", "JP", "KR"):
            part = material(
                "850300",
                "EU",
                "30.00",
                in_house=True,
                sub_materials=[material("720917", origin, "1.00")],
            )
            report = _assess(
                request(
                    "EU-JP",
                    "850110",
                    "100.00",
                    [material("720917", origin, "1.00"), part],
                )
            )
            assert report.materials[0].reason.startswith(origin)
            assert (
                len(assess_module._STATUSES) <= 2
                and len(assess_module._PARTS) <= 1
                and len(assess_module._DATA_RULES) <= 1
            )
        assert (
            len(assess_module._STATUSES),
            len(assess_module._PARTS),
            len(assess_module._DATA_RULES),
        ) == (2, 1, 1)

    @pytest.mark.parametrize(("count", "remembered"), [(20, 1), (21, 0)])
    def test_only_parts_of_at_most_20_materials_are_remembered(self, count, remembered):
        part = material(
            "850300",
            "EU",
            "30.00",
            in_house=True,
            sub_materials=[material("720917", "CN", "1.00")] * count,
        )
        _assess(request("EU-JP", "850110", "100.00", [part]))
        assert len(assess_module._PARTS) == remembered

    def test_a_part_depends_on_the_assessment_date(self):
        part = material(
            "850300",
            "EU",
            "30.00",
            in_house=True,
            rule="CTSH",
            sub_materials=[
                material("850300", "JP", "20.00", proof=statement("2025-01-15"))
            ],
        )
        assert (
            self._originating(
                request(
                    "EU-JP", "850110", "100.00", [part], rule="CTH", date="2026-01-15"
                )
            )
            is True
        )
        assert (
            self._originating(
                request(
                    "EU-JP", "850110", "100.00", [part], rule="CTH", date="2026-01-16"
                )
            )
            is False
        )

    def test_a_part_depends_on_the_refusal_setting(self):
        # the outer part's rule is given; the unverified data rule is that of a part inside it
        inner = material(
            "850300",
            "EU",
            "5.00",
            in_house=True,
            sub_materials=[material("720917", "CN", "1.00")],
        )
        outer = material(
            "850300", "EU", "30.00", in_house=True, rule="CTH", sub_materials=[inner]
        )
        book = _book_with(rules=(_rule("8503", checked_against=None),))
        body = request("EU-JP", "850110", "100.00", [outer], rule="CTH")
        assert _assess(body, book).materials[0].originating is True
        with pytest.raises(UnverifiedRulesRefused) as raised:
            _assess(body, book, allow=False)
        assert raised.value.loc == ("materials", 0, "sub_materials", 0, "rule")

    @pytest.mark.parametrize(
        ("field", "first", "second"),
        [
            ("legal_text", {"rule": "CTH"}, {"rule": "CTSH"}),
            ("legal_source", {}, {"legal_source": "another annex"}),
            ("hs_range", {}, {"hs": "8503-8504"}),
            ("valid_from", {}, {"valid_from": date(2019, 2, 2)}),
            ("valid_until", {}, {"valid_until": date(2030, 1, 1)}),
            ("unverified", {}, {"checked_against": None}),
        ],
    )
    def test_a_part_depends_on_every_field_of_its_data_rule(self, field, first, second):
        part = material(
            "850300",
            "EU",
            "30.00",
            in_house=True,
            sub_materials=[material("850390", "CN", "20.00")],
        )
        body = request("EU-JP", "850110", "100.00", [part], rule="CTH")
        reports = [
            _assess(body, _book_with(rules=(_rule(**fields),)))
            for fields in (first, second)
        ]
        used = [
            getattr(report.materials[0].sub_assessment.rule, field)
            for report in reports
        ]
        assert used[0] != used[1]
        assert used == [getattr(_read(fields), field) for fields in (first, second)]

    def test_a_part_is_reused_only_under_the_same_agreement_object(self):
        part = material(
            "850300",
            "EU",
            "30.00",
            in_house=True,
            rule="CTH",
            sub_materials=[material("850390", "CN", "2.00")],
        )
        body = request("EU-JP", "850110", "100.00", [part], rule="CTH")
        assert (
            _assess(body).materials[0].originating is True
        )  # 2.00 within the tolerance of 10 % of 30.00
        narrow = _book_with(
            {
                "tolerance": default_rulebook()
                .agreement("EU-JP")
                .tolerance.model_copy(update={"percent": D(1)})
            }
        )
        assert _assess(body, narrow).materials[0].originating is False
        assert _assess(body).materials[0].originating is True


def _read(fields: dict[str, Any]) -> RuleUsed:
    return assess_module._read_data_rule(_rule(**fields))[1]


class TestReportedFacts:
    def test_product_material_and_operations_facts(self):
        body = request(
            "EU-JP",
            "850110",
            "100.00",
            [material("720917", "CN", "10.00")],
            rule="CTH",
            operations=["winding"],
        )
        body["product"]["description"] = "electric motor"
        report = _assess(body)
        assert report.product.description == "electric motor"
        assert (
            report.materials[0].origin,
            report.materials[0].hs_code,
            report.materials[0].value,
        ) == ("CN", "720917", D("10.00"))
        assert (
            report.operations.legal_source
            == default_rulebook()
            .agreement("EU-JP")
            .insufficient_operations.legal_source
        )
        assert report.operations.legal_source.startswith("EU-JP Art. 3.4(1)")

    def test_tolerance_refused_names_every_excluded_span(self):
        tolerance = (
            default_rulebook()
            .agreement("EU-JP")
            .tolerance.model_copy(update={"excluded_chapters": ("50-63", "6406")})
        )
        report = _assess(
            request("EU-JP", "640610", "80.00", rule="CTH"),
            _book_with({"tolerance": tolerance}),
        )
        assert report.tolerance == ToleranceInfo(
            D(10),
            D("8.00"),
            False,
            tolerance.legal_source,
            "the general tolerance does not apply to products of chapters 50-63, 6406 (textile products follow their own notes)",
        )


class TestSharedResults:
    """What is remembered is handed out again, not recomputed: the same data rule gives the same RuleUsed object,
    the same in-house part the same result object (nothing changes a report once built)."""

    def test_a_data_rule_is_read_once(self, monkeypatch):
        monkeypatch.setattr(assess_module, "_DATA_RULES", {})
        body = request("EU-JP", "850110", "100.00")
        first, second = _assess(body), _assess(body)
        assert first.rule is second.rule and first.alternatives == second.alternatives
        assert list(assess_module._DATA_RULES) == [
            id(default_rulebook().find_rule("EU-JP", "850110", date(2025, 3, 1)))
        ]

    def test_an_in_house_part_is_assessed_once(self, monkeypatch):
        monkeypatch.setattr(assess_module, "_PARTS", {})
        part = material(
            "850300",
            "EU",
            "30.00",
            in_house=True,
            sub_materials=[material("720917", "CN", "1.00")],
        )
        body = request("EU-JP", "850110", "100.00", [part], rule="CTH")
        first, second = _assess(body), _assess(body)
        assert (
            first.materials[0] is second.materials[0]
            and first.materials[0].originating is True
        )


def test_a_part_too_large_to_remember_still_shows_its_path():
    subs = [material("720917", "CN", "0.10") for _ in range(assess_module.PART_SIZE_REMEMBERED + 1)]
    part = material("850300", "EU", "30.00", in_house=True, sub_materials=subs)
    report = _assess(request("EU-JP", "850110", "100.00", [material("720917", "CN", "1.00"), part]))
    assert report.materials[1].path == "materials[1]"
    assert report.materials[1].sub_assessment is not None
