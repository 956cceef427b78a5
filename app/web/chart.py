"""The result page's chart, drawn on the server as SVG (no script): each non-originating material's value
as a share of the ex-works price, their total, and the threshold it is held against (the rule's MaxNOM
limit, or else the agreement's tolerance). Presentation attributes only, so the strict CSP holds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from html import escape

from app.engine.money import percent_of
from app.engine.report import AssessmentReport, MaxNomResult
from app.web.presentation import material_name

WIDTH = 640
LABEL_WIDTH = 200
BAR_WIDTH = 340
ROW_HEIGHT = 30
TOP = 40


@dataclass(frozen=True)
class Threshold:
    percent: Decimal
    label: str


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    percent: Decimal
    total: bool = False


def threshold_of(report: AssessmentReport) -> Threshold | None:
    for alternative in report.alternatives:
        for criterion in alternative.criteria:
            if isinstance(criterion, MaxNomResult):
                return Threshold(criterion.threshold_percent, f"MaxNOM limit {criterion.threshold_percent:.0f} %")
    if report.tolerance.available:
        return Threshold(report.tolerance.percent, f"tolerance {report.tolerance.percent:.0f} %")
    return None


def bars_of(report: AssessmentReport) -> list[Bar]:
    price = report.product.ex_works_price
    bars = [Bar(f"{material_name(m.path)} · {m.hs_code} · {m.origin}", m.value, percent_of(m.value, price)) for m in report.materials if not m.originating]
    if bars:
        bars.append(Bar("All non-originating", report.non_originating_value, percent_of(report.non_originating_value, price), total=True))
    return bars


def non_originating_chart(report: AssessmentReport) -> str:
    """The chart as an SVG document."""
    bars, threshold = bars_of(report), threshold_of(report)
    height = TOP + max(len(bars), 1) * ROW_HEIGHT + 30
    limit = threshold.percent if threshold else Decimal(0)
    scale_max = max([limit, Decimal(10), *(bar.percent for bar in bars)]) * Decimal("1.1")

    def x(percent: Decimal) -> float:
        return LABEL_WIDTH + float(percent / scale_max) * BAR_WIDTH

    title = f"Non-originating value by material, % of the ex-works price {report.product.ex_works_price:,.2f}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" aria-labelledby="chart-title">',
        f'<title id="chart-title">{escape(title)}</title>',
        f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="8" y="20" font-family="sans-serif" font-size="13" font-weight="bold" fill="#1f2933">{escape(title)}</text>',
    ]
    if not bars:
        parts.append(f'<text x="8" y="{TOP + 18}" font-family="sans-serif" font-size="13" fill="#1f2933">No non-originating materials.</text>')
    if threshold is not None:
        line_x = x(threshold.percent)
        bottom = TOP + max(len(bars), 1) * ROW_HEIGHT
        parts += [
            f'<line x1="{line_x:.1f}" y1="{TOP - 4}" x2="{line_x:.1f}" y2="{bottom}" stroke="#b45309" stroke-width="2" stroke-dasharray="6 4"/>',
            f'<text x="{line_x:.1f}" y="{bottom + 18}" text-anchor="middle" font-family="sans-serif" font-size="12" fill="#b45309">{escape(threshold.label)}</text>',
        ]
    for index, bar in enumerate(bars):
        y = TOP + index * ROW_HEIGHT
        over = threshold is not None and bar.percent > threshold.percent
        colour = ("#b91c1c" if over else "#15803d") if bar.total else "#52606d"
        weight = ' font-weight="bold"' if bar.total else ""
        figure = f"{bar.percent:.2f} % ({bar.value:,.2f})"
        parts += [
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 18}" text-anchor="end" font-family="sans-serif" font-size="12"{weight} fill="#1f2933">{escape(_short(bar.label))}</text>',
            f'<rect x="{LABEL_WIDTH}" y="{y + 5}" width="{max(x(bar.percent) - LABEL_WIDTH, 1):.1f}" height="{ROW_HEIGHT - 10}" fill="{colour}"/>',
            f'<rect x="{x(bar.percent) + 3:.1f}" y="{y + 6}" width="{len(figure) * 7 + 6}" height="{ROW_HEIGHT - 12}" fill="#ffffff"/>',
            f'<text x="{x(bar.percent) + 6:.1f}" y="{y + 18}" font-family="sans-serif" font-size="12"{weight} fill="#1f2933">{figure}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def _short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
