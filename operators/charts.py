"""Tiny server-rendered SVG charts for the dashboard's daily series.

No JavaScript and no chart library: a chart is an inline ``<svg>`` with one
``<rect>`` per day (bars) or a polyline with a shaded area (line). Each day
has a ``<title>`` (the browser's tooltip) with its date and value, and the
chart an ``aria-label`` with the series total.

Direction: in a right-to-left language the x axis is mirrored, so time runs
the way the page reads: the oldest day at the inline start (right in Arabic)
and today at the inline end (left). The date labels under a chart are HTML
in a flex row, which the browser mirrors the same way, so bars and labels
always agree. The mirroring is done here, on the coordinates, rather than
with a CSS ``scaleX(-1)``, which would also flip any text inside the SVG.
"""

from __future__ import annotations

from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from .selectors import Series

WIDTH = 300
HEIGHT = 64
PAD_TOP = 2


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _slots(series: Series, *, rtl: bool) -> list[tuple[float, float]]:
    """(x of the slot's start, slot width) for each day, oldest first."""
    count = max(1, len(series.values))
    slot = WIDTH / count
    return [((WIDTH - (i + 1) * slot) if rtl else i * slot, slot) for i in range(count)]


def _height(value: int, peak: int) -> float:
    if peak <= 0 or value <= 0:
        return 0.0
    return max(1.0, value / peak * (HEIGHT - PAD_TOP))  # a small day stays visible


def _titles(series: Series) -> list[str]:
    return [
        f"{date_format(day, 'SHORT_DATE_FORMAT')}: {series.display(value)}"
        for day, value in zip(series.days, series.values, strict=True)
    ]


def _svg(inner: SafeString, *, label: str, css: str) -> SafeString:
    return format_html(
        '<svg class="ops-chart {}" viewBox="0 0 {} {}" preserveAspectRatio="none" role="img" aria-label="{}">'
        '<line class="ops-chart-base" x1="0" y1="{}" x2="{}" y2="{}"></line>{}</svg>',
        css,
        WIDTH,
        HEIGHT,
        label,
        HEIGHT - 0.5,
        WIDTH,
        HEIGHT - 0.5,
        inner,
    )


def bars_svg(series: Series, *, label: str, rtl: bool = False) -> SafeString:
    """One bar per day, scaled to the series' peak."""
    bars = []
    for (x, slot), value, title in zip(_slots(series, rtl=rtl), series.values, _titles(series), strict=True):
        height = _height(value, series.peak)
        # Each bar sits in its slot with a gap; an invisible full-height hit
        # area carries the tooltip so empty days can be hovered too.
        bars.append(
            (
                _num(x),
                _num(slot),
                title,
                _num(x + slot * 0.15),
                _num(HEIGHT - height),
                _num(slot * 0.7),
                _num(height),
            )
        )
    inner = format_html_join(
        "",
        '<g><title>{2}</title><rect class="ops-hit" x="{0}" y="0" width="{1}" height="' + str(HEIGHT) + '"></rect>'
        '<rect class="ops-bar" x="{3}" y="{4}" width="{5}" height="{6}"></rect></g>',
        bars,
    )
    return _svg(inner, label=label, css="ops-chart-bars")


def line_svg(series: Series, *, label: str, rtl: bool = False) -> SafeString:
    """A line through each day's value with the area under it shaded."""
    points = []
    hits = []
    for (x, slot), value, title in zip(_slots(series, rtl=rtl), series.values, _titles(series), strict=True):
        points.append(f"{_num(x + slot / 2)},{_num(HEIGHT - _height(value, series.peak))}")
        hits.append((_num(x), _num(slot), title))
    line = " ".join(points)
    # Close the shape along the baseline under the first and the last day.
    first_x, last_x = points[0].split(",")[0], points[-1].split(",")[0]
    area = f"{first_x},{HEIGHT} {line} {last_x},{HEIGHT}"
    inner = format_html(
        '<polygon class="ops-area" points="{}"></polygon>'
        '<polyline class="ops-line" points="{}" vector-effect="non-scaling-stroke"></polyline>{}',
        area,
        line,
        format_html_join(
            "",
            '<rect class="ops-hit" x="{}" y="0" width="{}" height="' + str(HEIGHT) + '"><title>{}</title></rect>',
            hits,
        ),
    )
    return _svg(inner, label=label, css="ops-chart-line")
