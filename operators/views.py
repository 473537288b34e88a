"""The admin index's extra context (wired in ``OperatorsConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from .selectors import PERIODS, dashboard_figures, kie_credits, period_from

#: Who may see the figures (operators.models.Dashboard's permission).
DASHBOARD_PERMISSION = "operators.view_dashboard"


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """The figures for ``?period=`` (7, 30 or 90 days; default 30) and
    kie.ai's account credits. Called only for staff with :data:`DASHBOARD_PERMISSION`."""
    period = period_from(request.GET.get("period"))
    return {
        "figures": dashboard_figures(period_days=period),
        "kie": kie_credits(),
        "periods": PERIODS,
        "period": period,
    }
