"""The bundled rules data: coverage of the required headings, legal sources, provenance, validation of bad
files, and the exact rule texts that were verified against public transcriptions (so that an edit which
changes a verified rule fails here and has to be re-verified)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from app.engine.parser import parse_rule
from app.engine.rulebook import DATA_DIR, RuleBook

REQUIRED_HEADINGS = [f"{h}" for h in range(3901, 3916)] + [
    "3926", "6109", "6203", "6403", "7308", "8418", "8471", "8501", "8502", "8503", "8504",
    "8516", "8544", "8703", "9401", "9403",
]  # fmt: skip
# A real subheading of each required heading to look the rule up with ("<heading>90" unless that
# subheading does not exist in the HS).
PROBE = {heading: f"{heading}90" for heading in REQUIRED_HEADINGS} | {"8544": "854449"}
AGREEMENTS = ["EU-JP", "EU-UK", "CETA", "EU-KR", "PEM"]
VERIFIED_AGREEMENTS = ["EU-JP", "EU-UK", "CETA", "EU-KR"]
PUBLIC_SOURCES = ("trade-tariff/ott-prototype", "trade-tariff/rules-of-origin-builder-uk", "trade-tariff/trade-tariff-backend")


@pytest.mark.parametrize("agreement", AGREEMENTS)
def test_every_required_heading_has_a_rule_with_a_legal_source(rulebook, agreement):
    on = rulebook.agreement(agreement).in_force_from
    missing = [h for h in REQUIRED_HEADINGS if rulebook.find_rule(agreement, PROBE[h], on) is None]
    assert missing == []
    for heading in REQUIRED_HEADINGS:
        rule = rulebook.find_rule(agreement, PROBE[heading], on)
        assert rule.legal_source and rule.rule and rule.valid_from <= on
        parse_rule(rule.rule)


@pytest.mark.parametrize("agreement", VERIFIED_AGREEMENTS)
def test_every_rule_names_the_public_transcription_it_was_compared_with(rulebook, agreement):
    for rule in rulebook.rules(agreement):
        assert rule.checked_against, f"{agreement} {rule.hs} has no checked_against"
        assert rule.checked_against.startswith(PUBLIC_SOURCES), rule.checked_against
        assert "@" in rule.checked_against, "name the commit of the transcription"


def test_pem_rules_are_marked_unverified(rulebook):
    # No public text of the revised PEM list was found: nothing may claim a comparison, and every
    # rule says so in its note.
    for rule in rulebook.rules("PEM"):
        assert rule.checked_against is None
        assert rule.note and rule.note.startswith("UNVERIFIED")


def test_every_rule_starts_at_a_known_hs_reference_code(rulebook):
    # origin_rules.hs_code is a foreign key to hs_codes: the database seed needs each range start.
    with (DATA_DIR / "hs_codes.yaml").open(encoding="utf-8") as handle:
        codes = {str(code) for code in yaml.safe_load(handle)["codes"]}
    starts = {rule.hs_from for agreement in AGREEMENTS for rule in rulebook.rules(agreement)}
    assert starts - codes == set()


# Verified rule texts, one or more per heading and agreement, as compared with the transcriptions named in
# each entry's checked_against (see the data files). (agreement, HS code, assessment date) -> rule.
VERIFIED = {
    # EU-Japan EPA Annex 3-B (ott-prototype japan_roo.json; 94.01.90 and 94.02-94.06: UK-Japan CEPA)
    ("EU-JP", "390110", "2025-03-01"): "CTSH or OP(chemical_reaction) or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "390410", "2025-03-01"): "CTSH or OP(chemical_reaction) or OP(biotechnological_processing) or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "390720", "2025-03-01"): "CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "391110", "2025-03-01"): "CTSH or OP(chemical_reaction) or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "391400", "2025-03-01"): "CTSH or OP(chemical_reaction) or OP(biotechnological_processing) or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "392690", "2025-03-01"): "CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "610910", "2025-03-01"): "OP(knitting_and_making_up) or OP(spinning_and_knitting) or OP(extrusion_and_knitting) or OP(knitting_and_making_up_in_one_operation)",
    ("EU-JP", "620342", "2025-03-01"): "OP(weaving_and_making_up) or OP(printing_and_making_up)",
    ("EU-JP", "640399", "2025-03-01"): "CC or (CTH except from 6401-6405, 640690 and MaxNOM 50% (EXW)) or (CTH except from 6401-6405, 640690 and RVC 55% (FOB))",
    ("EU-JP", "730890", "2025-03-01"): "CTH except from 730120 or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "841821", "2025-03-01"): "CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "847130", "2025-03-01"): "CTH except from 8473 or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "850110", "2025-03-01"): "CTH except from 8503 or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "850440", "2025-03-01"): "CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "854449", "2025-03-01"): "CTH except from 7408, 7413, 7605, 7614 or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "854470", "2025-03-01"): "CTH except from 7002, 9001 or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "870380", "2025-03-01"): "MaxNOM 45% (EXW) or RVC 60% (FOB)",
    ("EU-JP", "940161", "2025-03-01"): "CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    ("EU-JP", "940190", "2025-03-01"): "CC",
    ("EU-JP", "940199", "2025-03-01"): "CC",
    ("EU-JP", "940360", "2025-03-01"): "CTH or MaxNOM 50% (EXW) or RVC 55% (FOB)",
    # EU-UK TCA Annex ORIG-2 (rules-of-origin-builder-uk resources/export/eu.json)
    ("EU-UK", "390110", "2025-03-01"): "CTSH or OP(chemical_reaction) or OP(purification) or OP(mixing_and_blending) or OP(production_of_standard_materials) or OP(change_in_particle_size) or OP(isomer_separation) or OP(biotechnological_processing) or MaxNOM 50% (EXW)",
    ("EU-UK", "392690", "2025-03-01"): "CTSH or MaxNOM 50% (EXW)",
    ("EU-UK", "610910", "2025-03-01"): "OP(knitting_and_making_up) or OP(spinning_and_knitting) or OP(extrusion_and_knitting) or OP(knitting_and_making_up_in_one_operation)",
    ("EU-UK", "620342", "2025-03-01"): "OP(weaving_and_making_up) or OP(printing_and_making_up)",
    ("EU-UK", "640399", "2025-03-01"): "manufacture from materials of any heading except from 640690",
    ("EU-UK", "730890", "2025-03-01"): "CTH except from 730120",
    ("EU-UK", "841821", "2025-03-01"): "CTH or MaxNOM 50% (EXW)",
    ("EU-UK", "847130", "2025-03-01"): "CTH except from 8473 or MaxNOM 50% (EXW)",
    ("EU-UK", "850110", "2025-03-01"): "CTH except from 8503 or MaxNOM 50% (EXW)",
    ("EU-UK", "850440", "2025-03-01"): "CTH or MaxNOM 50% (EXW)",
    ("EU-UK", "851660", "2025-03-01"): "CTH or MaxNOM 50% (EXW)",
    ("EU-UK", "854449", "2025-03-01"): "MaxNOM 50% (EXW)",
    ("EU-UK", "870323", "2025-03-01"): "MaxNOM 45% (EXW)",
    ("EU-UK", "870380", "2025-03-01"): "MaxNOM 60% (EXW)",
    ("EU-UK", "870380", "2027-01-01"): "MaxNOM 45% (EXW) and manufacture from materials of any heading except from 850750-850780",
    ("EU-UK", "870340", "2027-01-01"): "MaxNOM 45% (EXW)",
    ("EU-UK", "940360", "2025-03-01"): "CTH or MaxNOM 50% (EXW)",
    # CETA Annex 5 (ott-prototype canada_roo_safe.json)
    ("CETA", "390110", "2025-03-01"): "CTH or MaxNOM 50% (EXW) of 3901 or the net weight of non-originating materials of 3901 does not exceed 50 % of the net weight of the product",
    ("CETA", "391590", "2025-03-01"): "CTH or MaxNOM 50% (EXW) of 3915 or the net weight of non-originating materials of 3915 does not exceed 50 % of the net weight of the product",
    ("CETA", "392690", "2025-03-01"): "CTH",
    ("CETA", "610910", "2025-03-01"): "OP(knitting_and_making_up) or OP(spinning_and_knitting) or OP(extrusion_and_knitting) or OP(yarn_dyeing_and_knitting)",
    ("CETA", "620342", "2025-03-01"): "OP(weaving_and_making_up) or (OP(printing_and_making_up) and MaxNOM 47.5% (EXW) of 50-60)",
    ("CETA", "640399", "2025-03-01"): "CTH except from 640690",
    ("CETA", "730890", "2025-03-01"): "CTH except from 730120 or MaxNOM 50% (EXW) of 730120",
    ("CETA", "841821", "2025-03-01"): "CTH or MaxNOM 50% (EXW) of 8418",
    ("CETA", "847130", "2025-03-01"): "CTSH",
    ("CETA", "850110", "2025-03-01"): "CTH except from 8503 or MaxNOM 50% (EXW) of 8501, 8503",
    ("CETA", "850300", "2025-03-01"): "CTH or MaxNOM 50% (EXW) of 8503",
    ("CETA", "851660", "2025-03-01"): "CTH or MaxNOM 50% (EXW) of 8516",
    ("CETA", "854449", "2025-03-01"): "CTH or MaxNOM 50% (EXW) of 8544",
    ("CETA", "870380", "2025-03-01"): "MaxNOM 50% (EXW)",
    ("CETA", "940161", "2025-03-01"): "CTH or MaxNOM 50% (EXW) of 9401",
    ("CETA", "940360", "2025-03-01"): "CTH or MaxNOM 50% (EXW) of 9403",
    # EU-Korea Protocol Annex II (ott-prototype south-korea_roo.json; some rows: UK-Korea transcription)
    ("EU-KR", "390110", "2024-01-01"): "CTH or MaxNOM 25% (EXW)",
    ("EU-KR", "392690", "2024-01-01"): "MaxNOM 50% (EXW)",
    ("EU-KR", "610910", "2024-01-01"): "OP(spinning_and_knitting) or OP(extrusion_and_knitting) or OP(knitting_and_making_up)",
    ("EU-KR", "620342", "2024-01-01"): "OP(weaving_and_making_up) or (OP(embroidering_and_making_up) and MaxNOM 40% (EXW) of 50-60) or (OP(coating_and_making_up) and MaxNOM 40% (EXW) of 50-60) or (OP(printing_and_making_up) and MaxNOM 47.5% (EXW) of 50-60)",
    ("EU-KR", "640399", "2024-01-01"): "manufacture from materials of any heading except from 640690 or MaxNOM 50% (EXW)",
    ("EU-KR", "730890", "2024-01-01"): "CTH except from 730120",
    ("EU-KR", "841821", "2024-01-01"): "CTH or MaxNOM 50% (EXW)",
    ("EU-KR", "847130", "2024-01-01"): "CTH or MaxNOM 45% (EXW)",
    ("EU-KR", "850110", "2024-01-01"): "CTH or MaxNOM 45% (EXW)",
    ("EU-KR", "850440", "2024-01-01"): "MaxNOM 45% (EXW)",
    ("EU-KR", "851660", "2024-01-01"): "CTH or MaxNOM 50% (EXW)",
    ("EU-KR", "854449", "2024-01-01"): "MaxNOM 50% (EXW)",
    ("EU-KR", "870380", "2024-01-01"): "MaxNOM 45% (EXW)",
    ("EU-KR", "940360", "2024-01-01"): "CTH or MaxNOM 40% (EXW)",
}


@pytest.mark.parametrize(("agreement", "hs_code", "on"), sorted(VERIFIED), ids=lambda v: str(v))
def test_verified_rule_text(rulebook, agreement, hs_code, on):
    rule = rulebook.find_rule(agreement, hs_code, date.fromisoformat(on))
    assert rule is not None
    assert parse_rule(rule.rule).text() == VERIFIED[(agreement, hs_code, on)]
    if agreement != "PEM":
        assert rule.checked_against


def test_agreement_parameters_match_the_reference_table(rulebook):
    table = {a.code: (a.tolerance.percent, a.cumulation.partners[:1], a.partner_country) for a in rulebook.agreements()}
    assert table["EU-JP"][0] == 10 and table["EU-JP"][1] == ("JP",)
    assert table["EU-UK"][1] == ("GB",) and table["CETA"][1] == ("CA",) and table["EU-KR"][1] == ("KR",)
    assert table["EU-UK"][0] == table["CETA"][0] == table["EU-KR"][0] == 10
    assert table["PEM"][0] == 15 and rulebook.agreement("PEM").cumulation.kind == "diagonal"
    assert "NO" in rulebook.agreement("PEM").cumulation.partners  # not YAML's boolean `no`
    for agreement in rulebook.agreements():
        assert agreement.tolerance.excluded("610910") and not agreement.tolerance.excluded("640399")
        assert agreement.tolerance.excluded("500100") and agreement.tolerance.excluded("631090")
        assert {"simple_packaging", "simple_cutting", "simple_mixing", "simple_assembly"} <= set(agreement.insufficient_operations.codes)


def test_insufficient_operations_follow_each_agreement(rulebook):
    # TCA ORIG.7(1)(m) also lists mixing of sugar with any material; EU-JP Art. 3.4(1) does not.
    assert "mixing_sugar" in rulebook.agreement("EU-UK").insufficient_operations.codes
    assert "mixing_sugar" not in rulebook.agreement("EU-JP").insufficient_operations.codes
    # Testing or calibration is listed only for EU-KR (reference sheet).
    assert [a.code for a in rulebook.agreements() if "testing_calibration" in a.insufficient_operations.codes] == ["EU-KR"]
    assert "ORIG.7" in rulebook.agreement("EU-UK").insufficient_operations.legal_source
    assert "Art. 3.4" in rulebook.agreement("EU-JP").insufficient_operations.legal_source


def test_most_specific_rule_wins(rulebook):
    on = date(2024, 1, 1)
    # EU-KR 85.04 and 85.16 have rows of their own next to the ex Chapter 85 rule for 85.01-85.03.
    assert rulebook.find_rule("EU-KR", "850110", on).hs == "8501-8503"
    assert rulebook.find_rule("EU-KR", "850440", on).hs == "8504"
    assert rulebook.find_rule("EU-KR", "851660", on).hs == "8516"
    assert rulebook.find_rule("CETA", "850220", on).hs == "8502"
    # EU-JP: the specific 62.03 entry wins over the Chapter 62 fallback; 8544.70 over nothing broader.
    assert rulebook.find_rule("EU-JP", "620342", on).hs == "6203"
    assert rulebook.find_rule("EU-JP", "620442", on).hs == "6201-6217"
    assert rulebook.find_rule("EU-JP", "854470", on).hs == "854470"
    # EU-UK 87.03: six-digit entries for electrified vehicles, by date; the heading entry otherwise.
    assert rulebook.find_rule("EU-UK", "870380", date(2026, 12, 31)).hs == "870340-870380"
    assert rulebook.find_rule("EU-UK", "870380", date(2027, 1, 1)).hs == "870360-870380"
    assert rulebook.find_rule("EU-UK", "870323", date(2027, 1, 1)).hs == "8703"


def test_rules_are_not_applied_before_they_apply(rulebook):
    assert rulebook.find_rule("EU-JP", "850110", date(2019, 1, 31)) is None
    assert rulebook.find_rule("EU-JP", "850110", date(2019, 2, 1)) is not None


def test_a_rule_that_does_not_parse_is_rejected_with_its_position(tmp_path: Path):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    psr = data / "psr" / "eu-jp.yaml"
    psr.write_text(psr.read_text(encoding="utf-8").replace("CTH, except from heading 85.03;", "CTH, except heading 85.03;", 1), encoding="utf-8")
    with pytest.raises(ValidationError) as raised:
        RuleBook.load(data)
    assert "unexpected 'heading' at column 13; expected 'from'" in str(raised.value)
