"""The certificate as PDF (fpdf2, pure Python): the same content as the result page, chart included.

The PDF's built-in Helvetica covers Latin-1 only; other characters are replaced by close equivalents."""

from __future__ import annotations

import io

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from app.api.schemas import CalculationOut
from app.web.chart import non_originating_chart
from app.web.presentation import criterion_figures, material_lines, money, verdict

_REPLACEMENTS = str.maketrans({"—": "-", "–": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "≤": "<=", "≥": ">=", "·": "-", "€": "EUR", "→": "->"})
NEXT = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}


def _latin1(text: str) -> str:
    return text.translate(_REPLACEMENTS).encode("latin-1", "replace").decode("latin-1")


class _Certificate(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.cell(0, 6, f"PSRA origin calculation - page {self.page_no()}", align="C")


def certificate_pdf(calculation: CalculationOut) -> bytes:
    report = calculation.result
    pdf = _Certificate(format="A4")
    pdf.set_auto_page_break(auto=True, margin=16)
    pdf.add_page()
    width = pdf.epw

    def heading(text: str) -> None:
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 12)
        pdf.multi_cell(width, 7, _latin1(text), **NEXT)

    def line(text: str, style: str = "", size: int = 10) -> None:
        pdf.set_font("Helvetica", style, size)
        pdf.multi_cell(width, 5.5, _latin1(text), **NEXT)

    pdf.set_font("Helvetica", "B", 16)
    pdf.multi_cell(width, 9, "Origin calculation certificate", **NEXT)
    line(f"Certificate {calculation.id}, calculated {calculation.created_at:%Y-%m-%d %H:%M} UTC", size=9)
    pdf.ln(2)
    line("ORIGINATING" if report.originating else "NOT ORIGINATING", "B", 14)
    line(verdict(report), "B", 11)
    for reason in report.reasons:
        line(f"- {reason}")

    heading("Product")
    line(f"HS code {report.product.hs_code}" + (f" - {report.product.description}" if report.product.description else ""))
    line(f"Ex-works price {money(report.product.ex_works_price)}; FOB price {money(report.product.fob_price)}")
    line(f"Agreement: {report.agreement_name} ({report.agreement}); assessment date {report.assessment_date}")

    heading("Rule applied")
    line(report.rule.text, "B")
    line(f"Legal source: {report.rule.legal_source}")
    if report.rule.hs_range:
        line(f"Covers HS {report.rule.hs_range}, in force from {report.rule.valid_from}" + (f" to {report.rule.valid_until}" if report.rule.valid_until else ""))

    heading("Alternatives and criteria")
    for number, alternative in enumerate(report.alternatives, start=1):
        line(f"Alternative {number}: {alternative.text} - {'met' if alternative.met else 'not met'}", "B")
        for criterion in alternative.criteria:
            line(f"  {criterion.text}: {'met' if criterion.met else 'not met'} - {criterion.reason}")
            line("    " + "; ".join(f"{label} {value}" for label, value in criterion_figures(criterion)), size=9)
    line(f"Tolerance: {report.tolerance.percent} % (limit {money(report.tolerance.limit)}) - {report.tolerance.reason}", size=9)

    heading("Materials")
    for entry in material_lines(report):
        material = entry.material
        indent = "    " * entry.depth
        line(f"{indent}{entry.name}  HS {material.hs_code}  origin {material.origin}  value {money(material.value)}  {entry.status} ({entry.basis})", "B", 9)
        line(f"{indent}{material.reason}", size=9)

    heading("Non-originating value by material")
    pdf.image(io.BytesIO(non_originating_chart(report).encode()), w=min(width, 170))
    return bytes(pdf.output())
