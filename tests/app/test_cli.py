"""`cli.py origin check`: the engine's JSON on stdout, exit 2 with a clear message on invalid input."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from app.cli import origin_app
from tests.app.cases import material, request

ROOT = typer.Typer()
ROOT.add_typer(origin_app, name="origin")
RUNNER = CliRunner()


def _check(tmp_path: Path, text: str):
    path = tmp_path / "request.json"
    path.write_text(text, encoding="utf-8")
    return RUNNER.invoke(ROOT, ["origin", "check", str(path)])


def test_prints_the_report_and_exits_zero(tmp_path):
    body = request("EU-JP", "850110", "100.00", [material("850300", "CN", "50.00")])
    result = _check(tmp_path, json.dumps(body))
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["originating"] is True
    assert report["alternatives"][1]["criteria"][0]["nom_percent"] == "50.00"


def test_json_numbers_are_read_as_exact_decimals(tmp_path):
    text = '{"agreement": "EU-JP", "assessment_date": "2025-03-01", "rule": "MaxNOM 30% (EXW)",' \
        ' "product": {"hs_code": "850110", "ex_works_price": 1.00},' \
        ' "materials": [{"hs_code": "850300", "origin": "CN", "value": 0.10}, {"hs_code": "850300", "origin": "CN", "value": 0.20}]}'
    result = _check(tmp_path, text)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["originating"] is True and report["non_originating_value"] == "0.30"


def test_invalid_fields_exit_two_with_paths(tmp_path):
    body = request("EU-XX", "8501", "-1", [material("850300", "CN", "-5")], rule="CTH except 8503")
    result = _check(tmp_path, json.dumps(body))
    assert result.exit_code == 2
    assert "agreement: Input should be 'EU-JP', 'EU-UK', 'CETA', 'EU-KR' or 'PEM'" in result.stderr
    assert "product.hs_code: HS code must be 6, 8 or 10 digits" in result.stderr
    assert "materials[0].value: Input should be greater than or equal to 0" in result.stderr
    assert "rule: unexpected '8503' at column 12; expected 'from'" in result.stderr
    assert result.stdout == ""


def test_unreadable_and_malformed_files_exit_two(tmp_path):
    missing = RUNNER.invoke(ROOT, ["origin", "check", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    broken = _check(tmp_path, '{"agreement": ')
    assert broken.exit_code == 2 and "is not valid JSON" in broken.stderr


def test_engine_input_error_exits_two(tmp_path):
    result = _check(tmp_path, json.dumps(request("EU-JP", "010121", "10.00")))
    assert result.exit_code == 2 and "rule: no product-specific rule for 010121" in result.stderr
