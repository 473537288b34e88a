"""The operator console keeps no data of its own: figures are read from the
other apps. This model has no table; the permission to see the figures
(revenue, credits bought and spent, kie.ai's account) hangs on it."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class Dashboard(models.Model):
    """The operator dashboard (the admin index's figures)."""

    class Meta:
        managed = False
        default_permissions = ()
        permissions = [("view_dashboard", _("Can see the operator dashboard's figures"))]
        verbose_name = _("operator dashboard")

    def __str__(self) -> str:
        return str(self._meta.verbose_name)
