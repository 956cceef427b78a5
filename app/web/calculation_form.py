"""The new-calculation form: what the user typed (kept as typed, so nothing is lost on an error), turned
into an AssessmentRequest, and every refusal mapped back to the field that caused it.

Materials are rows (empty rows are ignored); a row whose "part of" names an in-house row is one of that
part's sub-materials.
A row's proof is either nothing, a stored supplier declaration (`declaration:<id>`) or a proof typed in
(type and dates).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from pydantic import ValidationError

from app.engine.request import MAX_DEPTH, MAX_MATERIALS, AssessmentRequest

Loc = tuple[str | int, ...]

TOP_FIELDS = ("agreement", "assessment_date", "product_hs_code", "product_ex_works_price", "product_fob_price", "product_description", "operations", "rule")
ROW_FIELDS = ("hs_code", "origin", "value", "description", "proof", "proof_issue_date", "proof_valid_from", "proof_valid_until", "dispatch_date", "in_house", "part_of")
TYPED_PROOFS = {"ltsd": "LTSD (long-term supplier's declaration)", "supplier_declaration": "supplier's declaration", "statement_on_origin": "statement on origin"}
DECLARATION_PREFIX = "declaration:"
LABELS = {
    "agreement": "Trade agreement",
    "assessment_date": "Assessment date",
    "product_hs_code": "Product HS code",
    "product_ex_works_price": "Ex-works price",
    "product_fob_price": "FOB price",
    "product_description": "Product description",
    "operations": "Operations",
    "rule": "Rule override",
    "materials": "Materials",
    "form": "Calculation",
    "hs_code": "HS code",
    "origin": "Origin",
    "value": "Value",
    "description": "Description",
    "proof": "Proof of origin",
    "proof_issue_date": "Proof issued on",
    "proof_valid_from": "Proof valid from",
    "proof_valid_until": "Proof valid until",
    "dispatch_date": "Dispatch date",
    "in_house": "In-house part",
    "part_of": "Part of",
}
MAX_FIELD_CHARS = 2000
NEW_ROWS = 3


@dataclass
class CalculationForm:
    """The form's values as text, exactly as typed (bounded in length)."""

    values: dict[str, str]
    rows: list[dict[str, str]]
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def blank(cls, today: date) -> CalculationForm:
        values = dict.fromkeys(TOP_FIELDS, "")
        values.update(agreement="EU-JP", assessment_date=today.isoformat())
        return cls(values, [_blank_row() for _ in range(NEW_ROWS)])

    @classmethod
    def from_post(cls, form: Mapping[str, Any]) -> CalculationForm:
        values = {name: _text(form.get(name)) for name in TOP_FIELDS}
        numbers = sorted({int(key[1:].split("_", 1)[0]) for key in form if _is_row_key(key)})[:MAX_MATERIALS]
        rows = [{name: _text(form.get(f"m{number}_{name}")) for name in ROW_FIELDS} for number in numbers]
        return cls(values, rows)

    def add_row(self) -> None:
        if len(self.rows) < MAX_MATERIALS:
            self.rows.append(_blank_row())
        else:
            self.errors["materials"] = f"at most {MAX_MATERIALS} materials"

    def remove_row(self, index: int) -> None:
        """Drop row `index` (0-based); "part of" numbers of later rows follow, references to it are cleared."""
        if not 0 <= index < len(self.rows):
            return
        del self.rows[index]
        removed = index + 1
        for row in self.rows:
            if row["part_of"].isdigit():
                number = int(row["part_of"])
                row["part_of"] = "" if number == removed else str(number - 1) if number > removed else row["part_of"]

    def request_body(self) -> tuple[dict[str, Any], dict[Loc, int]]:
        """The JSON body of the request, and which form row each material's location came from. Errors in
        "part of" are recorded in `errors`."""
        values = self.values
        product = {"hs_code": values["product_hs_code"].strip(), "ex_works_price": values["product_ex_works_price"].strip()}
        _put(product, "fob_price", values["product_fob_price"].strip())
        _put(product, "description", values["product_description"].strip())
        body: dict[str, Any] = {"agreement": values["agreement"], "assessment_date": values["assessment_date"].strip() or None, "product": product}
        operations = values["operations"].replace(",", " ").split()
        if operations:
            body["operations"] = operations
        _put(body, "rule", values["rule"].strip())
        parents = self._parents()
        rows_at: dict[Loc, int] = {}

        def materials(parent: int | None, loc: Loc) -> list[dict[str, Any]]:
            out = []
            for index in (i for i, p in enumerate(parents) if p == parent and not _is_blank(self.rows[i])):
                here = (*loc, len(out))
                rows_at[here] = index
                material = _material(self.rows[index])
                children = materials(index, (*here, "sub_materials"))
                if children:
                    material["sub_materials"] = children
                out.append(material)
            return out

        body["materials"] = materials(None, ("materials",))
        return body, rows_at

    def _parents(self) -> list[int | None]:
        """Each row's parent row (0-based), None at the top; a "part of" that cannot hold is an error and the row stays at the top."""
        count = len(self.rows)
        parents: list[int | None] = []
        for index, row in enumerate(self.rows):
            text = row["part_of"].strip()
            parent = None
            if text:
                number = int(text) if text.isdigit() and len(text) <= 3 else 0
                if not 1 <= number <= count or number == index + 1:
                    self.errors[f"m{index}_part_of"] = f"give the number of another row (1 to {count}) that is an in-house part, or leave empty"
                elif self.rows[number - 1]["in_house"] != "on":
                    self.errors[f"m{index}_part_of"] = f"row {number} is not marked as an in-house part; only in-house parts have sub-materials"
                else:
                    parent = number - 1
            parents.append(parent)
        for index in range(count):  # a cycle (1 part of 2, 2 part of 1) would leave rows nowhere
            seen, current = set(), parents[index]
            while current is not None and current not in seen and len(seen) <= MAX_DEPTH:
                seen.add(current)
                current = parents[current]
            if current is not None:
                self.errors[f"m{index}_part_of"] = f"rows cannot be parts of each other, and parts nest at most {MAX_DEPTH} levels deep"
                parents[index] = None
        return parents

    def validated(self) -> tuple[AssessmentRequest | None, dict[Loc, int]]:
        """The request when the form is valid; otherwise None with `errors` filled in."""
        body, rows_at = self.request_body()
        try:
            request = AssessmentRequest.model_validate(body)
        except ValidationError as error:
            self.add_errors(((tuple(item["loc"]), item["msg"]) for item in error.errors(include_url=False, include_input=False)), rows_at)
            return None, rows_at
        return (None if self.errors else request), rows_at

    def add_errors(self, errors: Iterable[tuple[Loc, str]], rows_at: Mapping[Loc, int]) -> None:
        for loc, message in errors:
            self.errors.setdefault(field_name(loc, rows_at), message.removeprefix("Value error, "))

    def row_error(self, index: int) -> str | None:
        return self.errors.get(f"m{index}")

    def error_labels(self) -> dict[str, str]:
        """A readable name for each field with an error (the error summary links to them)."""
        labels = {}
        for name in self.errors:
            if name in LABELS:
                labels[name] = LABELS[name]
            elif _is_row_key(name) or name[1:].isdigit():
                number, _, row_field = name[1:].partition("_")
                labels[name] = f"Material {int(number) + 1}" + (f": {LABELS[row_field]}" if row_field else "")
        return labels


def field_name(loc: Loc, rows_at: Mapping[Loc, int]) -> str:
    """The form field that a request location (as pydantic, the engine and the API report it) came from."""
    if loc[:1] == ("body",):
        loc = loc[1:]
    for length in range(len(loc), 0, -1):
        row = rows_at.get(loc[:length])
        if row is not None:
            rest = [str(part) for part in loc[length:]]
            if not rest:
                return f"m{row}"
            if rest[0] == "proof":
                name = "proof_" + rest[1] if len(rest) > 1 and f"proof_{rest[1]}" in ROW_FIELDS else "proof"
                return f"m{row}_{name}"
            if rest[0] == "sub_materials":
                return f"m{row}"
            return f"m{row}_{rest[0]}" if rest[0] in ROW_FIELDS else f"m{row}"
    head = [str(part) for part in loc[:2]]
    if head[:1] == ["product"] and len(head) > 1 and f"product_{head[1]}" in TOP_FIELDS:
        return f"product_{head[1]}"
    if head and head[0] in TOP_FIELDS:
        return head[0]
    if head[:1] == ["materials"]:
        return "materials"
    return "form"


def _material(row: dict[str, str]) -> dict[str, Any]:
    material: dict[str, Any] = {"hs_code": row["hs_code"].strip(), "origin": row["origin"].strip().upper(), "value": row["value"].strip()}
    _put(material, "description", row["description"].strip())
    _put(material, "dispatch_date", row["dispatch_date"].strip())
    if row["in_house"] == "on":
        material["in_house"] = True
    proof = row["proof"]
    if proof.startswith(DECLARATION_PREFIX):
        material["proof"] = {"declaration_id": _uuid_text(proof.removeprefix(DECLARATION_PREFIX))}
    elif proof in TYPED_PROOFS:
        typed = {"type": proof}
        for name in ("issue_date", "valid_from", "valid_until"):
            _put(typed, name, row[f"proof_{name}"].strip())
        material["proof"] = typed
    return material


def _uuid_text(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return "not-an-id"  # refused by the model with its own message


def _put(target: dict[str, Any], key: str, value: str) -> None:
    if value:
        target[key] = value


def _text(value: object) -> str:
    return value[:MAX_FIELD_CHARS] if isinstance(value, str) else ""


def _is_row_key(key: str) -> bool:
    number, _, name = key[1:].partition("_")
    return key.startswith("m") and number.isdigit() and len(number) <= 3 and name in ROW_FIELDS


def _is_blank(row: dict[str, str]) -> bool:
    """A row left empty (the form offers a few): not a material."""
    return not any(value.strip() for value in row.values())


def _blank_row() -> dict[str, str]:
    return dict.fromkeys(ROW_FIELDS, "")
