"""The bundled rules data: coverage of the required headings, legal sources, validation of bad files."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.engine.parser import parse_rule
from app.engine.rulebook import DATA_DIR, RuleBook

REQUIRED_HEADINGS = [f"{h}" for h in range(3901, 3916)] + [
    "3926", "6109", "6203", "6403", "7308", "8418", "8471", "8501", "8502", "8503", "8504",
    "8516", "8544", "8703", "9401", "9403",
]  # fmt: skip
AGREEMENTS = ["EU-JP", "EU-UK", "CETA", "EU-KR", "PEM"]


@pytest.mark.parametrize("agreement", AGREEMENTS)
def test_every_required_heading_has_a_rule_with_a_legal_source(rulebook, agreement):
    on = rulebook.agreement(agreement).in_force_from
    missing = [h for h in REQUIRED_HEADINGS if rulebook.find_rule(agreement, f"{h}90", on) is None]
    assert missing == []
    for heading in REQUIRED_HEADINGS:
        rule = rulebook.find_rule(agreement, f"{heading}90", on)
        assert rule.legal_source and rule.text and rule.valid_from <= on
        parse_rule(rule.rule)


def test_agreement_parameters_match_the_reference_table(rulebook):
    table = {a.code: (a.tolerance.percent, a.cumulation.partners[:1], a.partner_country) for a in rulebook.agreements()}
    assert table["EU-JP"][0] == 10 and table["EU-JP"][1] == ("JP",)
    assert table["EU-UK"][1] == ("GB",) and table["CETA"][1] == ("CA",) and table["EU-KR"][1] == ("KR",)
    assert table["PEM"][0] == 15 and rulebook.agreement("PEM").cumulation.kind == "diagonal"
    assert "NO" in rulebook.agreement("PEM").cumulation.partners  # not YAML's boolean `no`
    for agreement in rulebook.agreements():
        assert agreement.tolerance.excluded("610910") and not agreement.tolerance.excluded("640399")
        assert {"simple_packaging", "simple_cutting", "simple_mixing", "simple_assembly"} <= set(agreement.insufficient_operations.codes)


def test_most_specific_rule_wins(rulebook):
    # EU-KR: 85.01-85.02 has its own rule inside the ex-Chapter-85 default range 8503-8599 / chapter.
    assert rulebook.find_rule("EU-KR", "850110", date(2024, 1, 1)).hs == "8501-8502"
    assert rulebook.find_rule("EU-KR", "851660", date(2024, 1, 1)).hs == "8503-8599"
    assert rulebook.find_rule("CETA", "850220", date(2024, 1, 1)).hs == "8502"


def test_rules_are_not_applied_before_they_apply(rulebook):
    assert rulebook.find_rule("EU-JP", "850110", date(2019, 1, 31)) is None
    assert rulebook.find_rule("EU-JP", "850110", date(2019, 2, 1)) is not None


def test_a_rule_that_does_not_parse_is_rejected_with_its_position(tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    psr = data / "psr" / "eu-jp.yaml"
    psr.write_text(psr.read_text(encoding="utf-8").replace("CTH except from 8503 or", "CTH except 8503 or", 1), encoding="utf-8")
    with pytest.raises(ValidationError) as raised:
        RuleBook.load(data)
    assert "unexpected '8503' at column 12; expected 'from'" in str(raised.value)
