"""The dashboard's charts: pygal draws them on the server as SVG that is inlined in the page.

Server-side SVG means the page needs no JavaScript and fetches nothing: pygal's tooltip script
normally comes from a CDN, so we render with `js=[]` and drop the inline config script that only
that tooltip script reads. Each point instead gets an SVG `<title>`, which browsers show as a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pygal
from markupsafe import Markup
from pygal.style import Style

ORIGIN_COLORS = {"customer": "#2563eb", "admin": "#f59e0b", "seller": "#7c3aed"}
RATE_COLOR = "#dc2626"
MONTHS_WITH_VALUES = 12
MIN_RATE_AXIS = 10.0  # percent: a quiet period still gets a readable axis, not 0.0% to 0.1%
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"


def _style(colors: Sequence[str]) -> Style:
    return Style(
        background="transparent",
        plot_background="#ffffff",
        foreground="#334155",
        foreground_strong="#0f172a",
        foreground_subtle="#cbd5e1",
        opacity=".9",
        stroke_width="3",
        opacity_hover="1",
        colors=tuple(colors),
        font_family=FONT,
        label_font_size=14,
        major_label_font_size=14,
        value_font_size=15,
        legend_font_size=15,
        tooltip_font_size=14,
    )


def _static_svg(label: str, titles: list[str]) -> Callable[[Any], Any]:
    """An xml filter (pygal's hook on the tree before serialisation) that makes the SVG static and
    accessible: no <script> left (nothing for a Content-Security-Policy to block), a role and label
    for screen readers, and a <title> per data point in drawing order as a native tooltip."""

    def apply(root: Any) -> Any:
        for parent in root.iter():
            for child in list(parent):
                if child.tag == "script":
                    parent.remove(child)
        root.set("role", "img")
        root.set("aria-label", label)
        for title in root.findall("title"):
            title.text = label
        points = [g for g in root.iter("g") if (g.get("class") or "").split()[:1] in (["dots"], ["bar"])]
        for point, title in zip(points, titles, strict=False):
            element = point.makeelement("title", {})
            element.text = title
            point.insert(0, element)
        return root

    return apply


def _render(chart: Any, label: str, titles: list[str]) -> Markup:
    chart.add_xml_filter(_static_svg(label, titles))
    # Markup is safe here: the SVG is pygal's own, and its XML serialiser escapes every label and title.
    return Markup(chart.render(is_unicode=True))


def _options(months: list[str]) -> dict[str, Any]:
    """Values are printed on the chart while they fit (a year); longer periods label every few months."""
    crowded = len(months) > MONTHS_WITH_VALUES
    return {
        "js": [],
        "disable_xml_declaration": True,
        "width": 600,
        "height": 330,
        "margin": 12,
        "legend_at_bottom": True,
        "legend_at_bottom_columns": 3,
        "print_values": not crowded,
        "print_zeroes": False,
        "show_y_guides": True,
        "x_labels": months,
        "x_label_rotation": -35 if len(months) > 6 else 0,
        "truncate_label": -1,
        "x_labels_major_every": -(-len(months) // MONTHS_WITH_VALUES) if crowded else None,
        "show_minor_x_labels": not crowded,
        "truncate_legend": -1,
    }


def _ticks(top: float) -> list[int]:
    """Round guides (1, 2 or 5 times a power of ten; whole numbers, as half a cancellation means nothing) with
    headroom above the highest value for its printed label. pygal's own guides land on values like 0.35."""
    raw = max(top, 1) / 5
    magnitude = 10 ** math.floor(math.log10(raw))
    step = max(1, round(next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)))
    return [i * step for i in range(max(1, math.ceil(top * 1.1 / step)) + 1)]


def monthly_rate_chart(monthly: list[dict[str, Any]]) -> Markup:
    """One point per month: the month's cancellations over the subscriptions active at its start."""
    months = [m["month"] for m in monthly]
    percents = [round(m["rate"] * 100, 2) for m in monthly]
    ticks = _ticks(max([*percents, MIN_RATE_AXIS]))
    chart = pygal.Line(style=_style([RATE_COLOR]), show_legend=False, range=(0, ticks[-1]), y_labels=ticks,
                       value_formatter=lambda v: f"{v:.1f}%", dots_size=5 if len(months) <= MONTHS_WITH_VALUES else 3,
                       margin_right=60,  # the last month's value label sits right of its point: keep it inside the SVG
                       **_options(months))
    chart.add("Cancellation rate", percents)
    titles = [f"{m['month']}: {p:.1f}% ({m['cancellations']} of {m['active_at_start']} active)"
              for m, p in zip(monthly, percents, strict=True)]
    return _render(chart, "Monthly cancellation rate", titles)


def monthly_origins_chart(monthly: list[dict[str, Any]]) -> Markup:
    """Three stacked series (customer, admin, seller) with one bar per month each."""
    months = [m["month"] for m in monthly]
    ticks = _ticks(max([m["cancellations"] for m in monthly] + [1]))
    chart = pygal.StackedBar(style=_style(list(ORIGIN_COLORS.values())), range=(0, ticks[-1]), y_labels=ticks,
                             value_formatter=lambda v: f"{v:.0f}", **_options(months))
    titles = []
    for origin in ORIGIN_COLORS:
        chart.add(origin.capitalize(), [m["by_origin"][origin] for m in monthly])
        titles += [f"{m['month']}: {m['by_origin'][origin]} by {origin}" for m in monthly]
    return _render(chart, "Monthly cancellations by origin", titles)
