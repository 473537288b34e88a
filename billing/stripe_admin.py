"""dj-stripe's models in the admin: a read-only mirror of Stripe.

dj-stripe registers about 45 ModelAdmins whose add, change and delete only
touch the local copy: "Add refund" makes a row, not a refund, and a deleted
Event or Price is simply gone from our records. Here every dj-stripe
ModelAdmin (found in ``admin.site._registry``, not listed by hand) becomes
view-only, except the webhook endpoint's, which creates, edits and deletes
the endpoint at Stripe and is how staff set it up (README, "Production").

What stays: the actions that only *read* from Stripe and refresh the mirror
(``_resync_instances``, ``_sync_all_instances``), for anyone who may view
the model. dj-stripe declares them without ``permissions=``, so Django offers
them with view permission alone; its confirmation URL
(``.../action/<action>/<model>/``, ``djstripe.admin.views.ConfirmCustomAction``)
checks nothing at all, so it is guarded here: the action must be one the
model's admin offers this user. That closes ``_cancel`` (it cancels
subscriptions at Stripe), which is dropped: plans are changed in the
customer portal or the Stripe Dashboard.

See docs/stack.md §17. Called from ``billing/admin.py``, which imports
``djstripe.admin`` first so dj-stripe's registrations exist whatever the
order of INSTALLED_APPS.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path

STRIPE_APP = "djstripe"
# Stays fully editable: its admin form creates and updates the endpoint at Stripe.
EDITABLE_MODELS = frozenset({"webhookendpoint"})
# Actions that read from Stripe into the mirror and write nothing at Stripe.
READ_ACTIONS = frozenset({"_resync_instances", "_sync_all_instances"})
CUSTOM_ACTION_URL = "djstripe_custom_action"


def _guard_custom_action(site: admin.AdminSite, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """dj-stripe's confirmation view, run only for an action the named
    model's admin offers this user (and only if the user may view it)."""

    def guarded(request: HttpRequest, action_name: str, model_name: str) -> HttpResponse:
        from django.apps import apps

        try:
            model = apps.get_app_config(STRIPE_APP).get_model(model_name)
        except LookupError:
            raise PermissionDenied from None
        model_admin = site._registry.get(model)
        if (
            model_admin is None
            or not model_admin.has_view_permission(request)
            or action_name not in model_admin.get_actions(request)
        ):
            raise PermissionDenied
        return view(request, action_name=action_name, model_name=model_name)

    return guarded


class _GuardedActions:
    """Mixed in front of every dj-stripe ModelAdmin that has dj-stripe's custom action URL."""

    admin_site: admin.AdminSite

    def get_urls(self) -> list[URLPattern | URLResolver]:
        urls: list[URLPattern | URLResolver] = super().get_urls()  # type: ignore[misc]
        return [
            path(
                "action/<str:action_name>/<str:model_name>/",
                _guard_custom_action(self.admin_site, url.callback),
                name=CUSTOM_ACTION_URL,
            )
            if isinstance(url, URLPattern) and url.name == CUSTOM_ACTION_URL
            else url
            for url in urls
        ]


class _ReadOnly(_GuardedActions):
    """View only: no add, change or delete; only the read-from-Stripe actions."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        actions: dict[str, Any] = super().get_actions(request)  # type: ignore[misc]
        return {name: action for name, action in actions.items() if name in READ_ACTIONS}


def make_stripe_admin_read_only(site: admin.AdminSite = admin.site) -> list[type[Model]]:
    """Re-register every dj-stripe ModelAdmin of ``site`` as a subclass of
    itself: view-only (:class:`_ReadOnly`) except ``EDITABLE_MODELS``, and
    with dj-stripe's action URL guarded in all. Running it again changes
    nothing. Returns the models made read-only."""
    read_only = []
    for model, model_admin in list(site._registry.items()):
        cls = type(model_admin)
        if model._meta.app_label != STRIPE_APP or issubclass(cls, _GuardedActions):
            continue
        editable = model._meta.model_name in EDITABLE_MODELS
        mixin = _GuardedActions if editable else _ReadOnly
        prefix = "Guarded" if editable else "ReadOnly"
        site.unregister(model)
        site.register(model, type(f"{prefix}{cls.__name__}", (mixin, cls), {"__module__": __name__}))
        if not editable:
            read_only.append(model)
    return read_only
