"""Each criterion of an alternative on its own: the verdict at every threshold from both sides, and the whole
result an auditor reads (numbers, counted materials, reason texts)."""

from __future__ import annotations

from decimal import Decimal as D

from app.engine.criteria import Subject, evaluate_alternative
from app.engine.expression import (
    CodeRange,
    CodeSet,
    Leaf,
    MaxNom,
    Operation,
    Rvc,
    TariffShift,
    WeightLimit,
)
from app.engine.report import (
    FailingMaterial,
    MaterialResult,
    MaxNomResult,
    OperationResult,
    RvcResult,
    TariffShiftResult,
    WeightLimitResult,
)

REFUSAL = "the general tolerance does not apply to products of chapters 50-63"


def _nom(path: str, hs: str, value: str) -> MaterialResult:
    return MaterialResult(
        path=path,
        hs_code=hs,
        origin="CN",
        value=D(value),
        originating=False,
        basis=None,
        cumulation=False,
        reason="x",
    )


def _subject(
    *materials: MaterialResult,
    exw: str = "100.00",
    fob: str | None = None,
    limit: str | None = "10.00",
    operations: tuple[str, ...] = (),
) -> Subject:
    return Subject(
        hs_code="850110",
        ex_works_price=D(exw),
        fob_price=None if fob is None else D(fob),
        operations=frozenset(operations),
        non_originating=materials,
        non_originating_value=sum((m.value for m in materials), D(0)),
        tolerance_percent=D(10),
        tolerance_limit=None if limit is None else D(limit),
        tolerance_refusal=REFUSAL,
    )


def _all(leaves: tuple[Leaf, ...], text: str, subject: Subject):  # type: ignore[no-untyped-def]
    return evaluate_alternative(
        tuple((leaf, leaf.text()) for leaf in leaves), text, subject
    )


def _only(leaf: Leaf, subject: Subject):  # type: ignore[no-untyped-def]
    result = _all((leaf,), leaf.text(), subject)
    assert result.text == leaf.text() and len(result.criteria) == 1
    assert result.met is result.criteria[0].met
    return result.criteria[0]


def _codes(*codes: str) -> CodeSet:
    return CodeSet(
        tuple(
            CodeRange(*code.split("-")) if "-" in code else CodeRange(code, code)
            for code in codes
        )
    )


class TestTariffShift:
    def _result(
        self,
        level: str,
        met: bool,
        reason: str,
        failing: tuple[FailingMaterial, ...] = (),
        *,
        text: str | None = None,
        **extra,
    ) -> TariffShiftResult:  # type: ignore[no-untyped-def]
        fields = {
            "failing_value": sum((f.value for f in failing), D(0)),
            "tolerance_applied": False,
            "tolerance_used": D(0),
            "tolerance_limit": D("10.00"),
        }
        return TariffShiftResult(
            kind=level,
            text=text or level,
            met=met,
            reason=reason,
            failing_materials=failing,
            **{**fields, **extra},
        )

    def test_no_non_originating_material(self):
        assert _only(TariffShift("CTH"), _subject()) == self._result(
            "CTH", True, "no non-originating materials are used"
        )

    def test_every_level_compares_its_own_digits(self):
        materials = [
            _nom("m[0]", "840110", "1.00"),
            _nom("m[1]", "850210", "1.00"),
            _nom("m[2]", "850190", "1.00"),
            _nom("m[3]", "850110", "1.00"),
        ]
        same = {
            "CC": ["m[1]", "m[2]", "m[3]"],
            "CTH": ["m[2]", "m[3]"],
            "CTSH": ["m[3]"],
        }
        for level, paths in same.items():
            result = _only(TariffShift(level), _subject(*materials, limit=None))
            assert [f.path for f in result.failing_materials] == paths
            assert result.failing_value == D(len(paths)) and result.met is False

    def test_classified_outside_the_heading(self):
        subject = _subject(_nom("m[0]", "720917", "30.00"))
        assert _only(TariffShift("CTH"), subject) == self._result(
            "CTH",
            True,
            "every non-originating material is classified outside heading 8501",
        )
        assert (
            _only(TariffShift("CC"), subject).reason
            == "every non-originating material is classified outside chapter 85"
        )
        assert (
            _only(TariffShift("CTSH"), subject).reason
            == "every non-originating material is classified outside subheading 850110"
        )
        assert _only(TariffShift("CTH", _codes("8503")), subject) == self._result(
            "CTH",
            True,
            "every non-originating material is classified outside heading 8501 and none is of 8503",
            text="CTH except from 8503",
        )

    def test_any_heading_counts_only_the_exceptions(self):
        subject = _subject(
            _nom("m[0]", "850110", "30.00")
        )  # the product's own subheading: no change required
        text = "manufacture from materials of any heading"
        assert _only(TariffShift("ANY"), subject) == self._result(
            "ANY",
            True,
            "no change of classification is required and no non-originating material is of an excepted code",
            text=text,
        )
        assert _only(
            TariffShift("ANY", _codes("8503", "640690")), subject
        ) == self._result(
            "ANY",
            True,
            "no change of classification is required and no non-originating material is of 8503, 640690",
            text=f"{text} except from 8503, 640690",
        )

    def test_failing_materials_are_listed_with_why(self):
        subject = _subject(
            _nom("m[0]", "850190", "6.00"),
            _nom("m[1]", "850300", "5.00"),
            _nom("m[2]", "720917", "50.00"),
        )
        expected = (
            FailingMaterial(
                path="m[0]",
                hs_code="850190",
                value=D("6.00"),
                why="same heading 8501 as the product",
            ),
            FailingMaterial(
                path="m[1]",
                hs_code="850300",
                value=D("5.00"),
                why="excepted code (8503)",
            ),
        )
        listed = "m[0] (850190, 6.00): same heading 8501 as the product; m[1] (850300, 5.00): excepted code (8503)"
        assert _only(TariffShift("CTH", _codes("8503")), subject) == self._result(
            "CTH",
            False,
            f"{listed}; the failing materials are worth 11.00, above the general tolerance of 10.00 (10% of the ex-works price)",
            expected,
            text="CTH except from 8503",
        )

    def test_tolerance_limit_is_inclusive(self):
        at_limit = _only(TariffShift("CTH"), _subject(_nom("m[0]", "850190", "10.00")))
        assert at_limit == self._result(
            "CTH",
            True,
            "m[0] (850190, 10.00): same heading 8501 as the product; but the materials failing the tariff-shift criteria of this "
            "alternative are worth 10.00, within the general tolerance of 10.00 (10% of the ex-works price)",
            (
                FailingMaterial(
                    path="m[0]",
                    hs_code="850190",
                    value=D("10.00"),
                    why="same heading 8501 as the product",
                ),
            ),
            tolerance_applied=True,
            tolerance_used=D("10.00"),
        )
        over = _only(TariffShift("CTH"), _subject(_nom("m[0]", "850190", "10.01")))
        assert (over.met, over.tolerance_applied, over.tolerance_used) == (
            False,
            False,
            D(0),
        )
        assert over.reason.endswith(
            "the failing materials are worth 10.01, above the general tolerance of 10.00 (10% of the ex-works price)"
        )

    def test_zero_tolerance_still_forgives_a_part_worth_zero(self):
        # an in-house part worth 0 that fails the shift is within any tolerance, even one of 0.00
        result = _only(
            TariffShift("CTH"), _subject(_nom("m[0]", "850190", "0"), limit="0.00")
        )
        assert (
            result.met,
            result.tolerance_applied,
            result.tolerance_used,
            result.failing_value,
        ) == (True, True, D(0), D(0))

    def test_no_tolerance_gives_the_refusal(self):
        result = _only(
            TariffShift("CTH"), _subject(_nom("m[0]", "850190", "0.01"), limit=None)
        )
        assert result == self._result(
            "CTH",
            False,
            f"m[0] (850190, 0.01): same heading 8501 as the product; {REFUSAL}",
            (
                FailingMaterial(
                    path="m[0]",
                    hs_code="850190",
                    value=D("0.01"),
                    why="same heading 8501 as the product",
                ),
            ),
            tolerance_limit=None,
        )

    def test_tolerance_is_shared_by_the_shifts_of_one_alternative(self):
        # CTH fails on m[0] and m[1], CTSH on m[1] only (5.00, within the limit alone): together 11.00 > 10.00,
        # so neither is forgiven, and both quote the alternative's 11.00.
        subject = _subject(
            _nom("m[0]", "850190", "6.00"), _nom("m[1]", "850110", "5.00")
        )
        result = _all(
            (TariffShift("CTH"), TariffShift("CTSH")), "CTH and CTSH", subject
        )
        assert (result.met, [c.met for c in result.criteria]) == (False, [False, False])
        assert [c.failing_value for c in result.criteria] == [D("11.00"), D("5.00")]
        assert [c.tolerance_used for c in result.criteria] == [D(0), D(0)]
        assert result.criteria[1].reason == (
            "m[1] (850110, 5.00): same subheading 850110 as the product; the failing materials are worth 11.00, "
            "above the general tolerance of 10.00 (10% of the ex-works price)"
        )

    def test_a_shift_that_fails_nothing_uses_no_tolerance(self):
        subject = _subject(
            _nom("m[0]", "850110", "5.00"), _nom("m[1]", "720917", "50.00")
        )
        result = _all(
            (TariffShift("CTSH"), TariffShift("ANY", _codes("9999"))),
            "CTSH and any heading except from 9999",
            subject,
        )
        forgiven, untouched = result.criteria
        assert (
            forgiven.met,
            forgiven.tolerance_applied,
            forgiven.tolerance_used,
            forgiven.failing_value,
        ) == (True, True, D("5.00"), D("5.00"))
        assert untouched == self._result(
            "ANY",
            True,
            "no change of classification is required and no non-originating material is of 9999",
            text="manufacture from materials of any heading except from 9999",
        )
        assert result.met is True


class TestMaxNom:
    def test_threshold_is_inclusive(self):
        subject = _subject(
            _nom("m[0]", "720917", "30.00"), _nom("m[1]", "850300", "20.00")
        )
        assert _only(MaxNom(D(50)), subject) == MaxNomResult(
            text="MaxNOM 50% (EXW)",
            met=True,
            reason="non-originating materials are worth 50.00, 50.00% of the ex-works price 100.00; within the maximum of 50%",
            threshold_percent=D(50),
            restricted_to=None,
            nom_value=D("50.00"),
            nom_percent=D("50.00"),
            ex_works_price=D("100.00"),
            counted_materials=("m[0]", "m[1]"),
        )
        over = _only(MaxNom(D("49.99")), subject)
        assert over.met is False
        assert (
            over.reason
            == "non-originating materials are worth 50.00, 50.00% of the ex-works price 100.00; above the maximum of 49.99%"
        )

    def test_restricted_to_listed_codes(self):
        subject = _subject(
            _nom("m[0]", "720917", "30.00"),
            _nom("m[1]", "850300", "20.00"),
            _nom("m[2]", "850110", "1.00"),
        )
        assert _only(MaxNom(D(20), _codes("8503")), subject) == MaxNomResult(
            text="MaxNOM 20% (EXW) of 8503",
            met=True,
            reason="non-originating materials of 8503 are worth 20.00, 20.00% of the ex-works price 100.00; within the maximum of 20%",
            threshold_percent=D(20),
            restricted_to="8503",
            nom_value=D("20.00"),
            nom_percent=D("20.00"),
            ex_works_price=D("100.00"),
            counted_materials=("m[1]",),
        )
        over = _only(MaxNom(D(20), _codes("8501-8503")), subject)
        assert (over.met, over.nom_value, over.counted_materials) == (
            False,
            D("21.00"),
            ("m[1]", "m[2]"),
        )

    def test_nothing_non_originating(self):
        result = _only(MaxNom(D(0)), _subject())
        assert (
            result.met,
            result.nom_value,
            result.nom_percent,
            result.counted_materials,
        ) == (True, D(0), D("0.00"), ())


class TestRvc:
    def test_threshold_is_inclusive(self):
        subject = _subject(_nom("m[0]", "720917", "50.00"), fob="125.00")
        assert _only(Rvc(D(60)), subject) == RvcResult(
            text="RVC 60% (FOB)",
            met=True,
            reason="RVC = (FOB 125.00 - VNM 50.00) / FOB = 60.00%; at least the required 60%",
            threshold_percent=D(60),
            fob_price=D("125.00"),
            vnm_value=D("50.00"),
            rvc_percent=D("60.00"),
        )
        below = _only(Rvc(D("60.01")), subject)
        assert below.met is False
        assert (
            below.reason
            == "RVC = (FOB 125.00 - VNM 50.00) / FOB = 60.00%; below the required 60.01%"
        )

    def test_without_fob_price(self):
        assert _only(Rvc(D(55)), _subject(_nom("m[0]", "720917", "5.00"))) == RvcResult(
            text="RVC 55% (FOB)",
            met=False,
            reason="RVC is measured on the FOB price and the product has no fob_price, so this criterion is not met",
            threshold_percent=D(55),
            fob_price=None,
            vnm_value=D("5.00"),
            rvc_percent=None,
        )


def test_weight_limit_is_never_met():
    reason = "a limit on net weight cannot be assessed: requests carry values, not net weights, so this criterion is not met"
    assert _only(WeightLimit(D(50)), _subject()) == WeightLimitResult(
        text="the net weight of non-originating materials does not exceed 50 % of the net weight of the product",
        met=False,
        reason=reason,
        threshold_percent=D(50),
        restricted_to=None,
    )
    assert _only(WeightLimit(D(40), _codes("3901")), _subject()).restricted_to == "3901"


def test_operation_performed_or_not():
    op = Operation("chemical_reaction")
    assert _only(
        op, _subject(operations=("mixing", "chemical_reaction"))
    ) == OperationResult(
        text="OP(chemical_reaction)",
        met=True,
        reason="operation chemical_reaction was performed",
        operation="chemical_reaction",
    )
    assert _only(
        op, _subject(operations=("simple_packaging", "mixing"))
    ) == OperationResult(
        text="OP(chemical_reaction)",
        met=False,
        reason="operation chemical_reaction is not among the operations performed (mixing, simple_packaging)",
        operation="chemical_reaction",
    )
    assert (
        _only(op, _subject()).reason
        == "operation chemical_reaction is not among the operations performed (none)"
    )


def test_an_alternative_is_met_only_when_every_criterion_is():
    subject = _subject(_nom("m[0]", "720917", "40.00"), operations=("mixing",))
    both = _all((MaxNom(D(40)), Operation("mixing")), "both", subject)
    assert (
        both.met,
        [c.met for c in both.criteria],
        [c.kind for c in both.criteria],
    ) == (True, [True, True], ["MaxNOM", "OP"])
    one = _all(
        (MaxNom(D("39.99")), Operation("mixing"), Rvc(D(1)), WeightLimit(D(1))),
        "all",
        subject,
    )
    assert (one.met, [c.met for c in one.criteria], [c.kind for c in one.criteria]) == (
        False,
        [False, True, False, False],
        ["MaxNOM", "OP", "RVC", "weight"],
    )


def test_each_criterion_of_an_alternative_keeps_its_own_text():
    subject = _subject(_nom("m[0]", "720917", "40.00"), operations=("mixing",))
    leaves = (MaxNom(D(40)), Operation("mixing"))
    both = _all(leaves, "both", subject)
    assert [c.text for c in both.criteria] == [leaf.text() for leaf in leaves]
