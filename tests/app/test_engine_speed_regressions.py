"""What the engine remembers across calculations for speed (material statuses, data rules read, in-house parts,
parsed rules) never changes an answer, and a forked child process starts without it."""

from __future__ import annotations

import os

from app.engine import assess as assess_module
from app.engine.parser import parse_rule, rule_alternatives
from app.engine.request import Material
from tests.app.cases import material, request, statement


def _japanese_bearing(agreement: str) -> dict:
    # the same JP material with the same statement on origin: a cumulation partner under EU-JP, a third country under EU-UK
    bought = material("848210", "JP", "60.00", proof=statement("2025-01-15"))
    return request(agreement, "850110", "100.00", [bought], rule="MaxNOM 50 % (EXW)")


def test_a_remembered_status_is_reused_only_under_the_same_agreement(run):
    assert run(_japanese_bearing("EU-JP")).materials[0].originating is True
    assert run(_japanese_bearing("EU-UK")).materials[0].originating is False
    assert run(_japanese_bearing("EU-JP")).materials[0].originating is True


def test_a_remembered_status_gives_the_same_report_as_a_fresh_one(run, monkeypatch):
    remembered = run(_japanese_bearing("EU-JP")).model_dump_json()
    monkeypatch.setattr(assess_module, "_STATUSES", {})
    monkeypatch.setattr(assess_module, "_DATA_RULES", {})
    assert run(_japanese_bearing("EU-JP")).model_dump_json() == remembered


def test_a_forked_child_starts_with_empty_memories(run):
    # mutation testing forks its workers from a process that ran the suite: remembered answers hid mutants
    part = material("850300", "EU", "30.00", in_house=True, sub_materials=[material("850300", "CN", "12.00")])
    run(request("EU-JP", "850110", "100.00", [part, material("720917", "JP", "5.00", proof=statement("2025-01-15"))]))
    memories = (assess_module._PARTS, assess_module._STATUSES, assess_module._DATA_RULES)
    assert all(memories) and parse_rule.cache_info().currsize and rule_alternatives.cache_info().currsize
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status only
        empty = not any(memories) and parse_rule.cache_info().currsize == 0 and rule_alternatives.cache_info().currsize == 0
        os._exit(0 if empty else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def test_a_forked_child_starts_without_the_rule_index_and_report_paths(run, rulebook):
    run(request("EU-JP", "850110", "100.00", [material("720917", "CN", "5.00")]))
    assert rulebook._index and assess_module._paths.cache_info().currsize
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit status only
        os._exit(0 if not rulebook._index and assess_module._paths.cache_info().currsize == 0 else 1)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _part(value: str, sub_value: str, description: str | None = None) -> dict:
    part = material("850300", "EU", value, in_house=True, sub_materials=[material("850300", "CN", sub_value)])
    return part if description is None else part | {"description": description}


def test_a_remembered_part_shows_the_amounts_as_given(run):
    # Decimal("30.0") == Decimal("30.00"): a part remembered by the model's equality was shown with the first request's digits
    run(request("EU-JP", "850110", "100.00", [_part("30.00", "12.00")]))
    again = run(request("EU-JP", "850110", "100.00", [_part("30.0", "12.0")])).materials[0]
    assert (str(again.value), str(again.sub_assessment.materials[0].value)) == ("30.0", "12.0")
    assert again.sub_assessment.reasons[-1] == "1 of 1 materials are non-originating, worth 12.0 (40.00% of the ex-works price)."


def test_a_remembered_part_is_reused_only_for_every_field_alike(run):
    # the part's memory key lists the material's fields one by one: a field added to Material must be added there too
    assert list(Material.model_fields) == ["hs_code", "origin", "value", "proof", "dispatch_date", "in_house", "rule", "sub_materials", "description"]
    run(request("EU-JP", "850110", "100.00", [_part("30.00", "12.00", "stator")]))
    again = run(request("EU-JP", "850110", "100.00", [_part("30.00", "12.00", "rotor")])).materials[0]
    assert again.sub_assessment.product.description == "rotor"
