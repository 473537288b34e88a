"""The operator console: the Django admin index as a dashboard of figures."""

from __future__ import annotations

import functools
from typing import Any

from django.apps import AppConfig
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _


class OperatorsConfig(AppConfig):
    name = "operators"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Operators")

    def ready(self) -> None:
        # Wrapping the site's index keeps the stock AdminSite (and whatever
        # login or MFA a teammate puts in front of it): the figures are only
        # extra context. admin_view() still guards the page, so only active
        # staff ever get here; the URLconf is built after ready(), so it picks
        # up the wrapped method.
        from django.contrib import admin

        from .views import DASHBOARD_PERMISSION, dashboard_context

        original = admin.site.index

        @functools.wraps(original)
        def index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> TemplateResponse:
            # Staff see the admin; the figures (revenue, kie.ai's account) only
            # those given operators.view_dashboard (superusers have it).
            if request.user.has_perm(DASHBOARD_PERMISSION):
                context = dashboard_context(request)
            else:
                context = {"figures_forbidden": request.user.is_staff}
            return original(request, extra_context={**context, **(extra_context or {})})

        # An instance attribute shadowing the method, on purpose (see above).
        admin.site.index = index  # type: ignore[method-assign]
