"""What the engine remembers between calculations (rule readings, assessed in-house parts) never changes an
answer: a remembered part is reused only for the same part, position, date, setting and rule."""

from __future__ import annotations

from app.engine import assess as assess_module
from tests.app.cases import material, request


def _motor(sub_value: str, position: int = 0) -> dict:
    part = material("850300", "EU", "30.00", in_house=True, sub_materials=[material("850300", "CN", sub_value)])
    others = [material("720917", "CN", "10.00")]
    materials = others[:position] + [part] + others[position:]
    return request("EU-JP", "850110", "100.00", materials)


def test_a_changed_part_is_assessed_again(run):
    # EU-JP 85.03-85.18 "CTH; MaxNOM 50 per cent (EXW); ...": a same-heading sub-material worth 15.00 of 30.00 passes, 15.01 does not
    assert run(_motor("15.00")).materials[0].originating is True
    assert run(_motor("15.01")).materials[0].originating is False
    assert run(_motor("15.00")).materials[0].originating is True


def test_a_remembered_part_gives_the_same_report_as_a_fresh_one(run, monkeypatch):
    remembered = run(_motor("12.00"))
    again = run(_motor("12.00"))
    monkeypatch.setattr(assess_module, "_PARTS", {})
    fresh = run(_motor("12.00"))
    assert remembered.model_dump_json() == again.model_dump_json() == fresh.model_dump_json()


def test_the_part_keeps_its_own_position(run):
    moved = run(_motor("12.00", position=1))
    assert [m.path for m in moved.materials] == ["materials[0]", "materials[1]"]
    assert moved.materials[1].sub_assessment.materials[0].path == "materials[1].sub_materials[0]"
