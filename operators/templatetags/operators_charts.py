"""``{% ops_bars series label %}`` and ``{% ops_line series label %}``: the
dashboard's SVG charts (operators.charts), mirrored in right-to-left languages."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import get_language_bidi

from operators import charts
from operators.selectors import Series

register = template.Library()


@register.simple_tag
def ops_bars(series: Series, label: str) -> SafeString:
    return charts.bars_svg(series, label=label, rtl=get_language_bidi())


@register.simple_tag
def ops_line(series: Series, label: str) -> SafeString:
    return charts.line_svg(series, label=label, rtl=get_language_bidi())
