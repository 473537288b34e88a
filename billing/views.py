"""Pricing, Checkout, the success page and the billing page."""

from __future__ import annotations

from datetime import UTC, datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from accounts.http import AuthedRequest
from credits.services import wallet_for

from . import selectors, services
from .models import CreditPack, PaymentIssue, Plan, Purchase

CHECKOUT_STARTED = "mirsam_checkout_started"


def pricing(request: HttpRequest) -> HttpResponse:
    """Packs, plans, the price of each model a visitor can use here (kie.ai's
    only with a key) at its default settings; the signed-in user's plan."""
    subscription = None
    if request.user.is_authenticated:
        subscription = selectors.subscription_for_user(user=request.user)
    configured = services.payments_configured()
    return render(
        request,
        "billing/pricing.html",
        {
            # With payments on, only what Checkout can sell now: no Buy that ends in "not for sale".
            "packs": selectors.packs_for_sale(in_step_with_stripe=configured),
            "plans": selectors.plans_for_sale(in_step_with_stripe=configured),
            "models": [{"price": row, "settings": _settings_text(row.settings)} for row in selectors.model_prices()],
            "payments_configured": configured,
            "subscription": subscription,
        },
    )


def _settings_text(settings: dict[str, str]) -> str:
    """Option values as the studio's selects name them: "8 seconds · 720p"."""
    from generation.forms import choice_label

    return " · ".join(str(choice_label(name, value)) for name, value in settings.items())


@login_required
@require_POST
def checkout_start(request: AuthedRequest, kind: str, slug: str) -> HttpResponse:
    """Open Stripe Checkout for a pack or a plan and send the browser there."""
    offering: CreditPack | Plan
    if kind == "pack":
        offering = get_object_or_404(CreditPack, slug=slug, is_active=True)
    elif kind == "plan":
        offering = get_object_or_404(Plan, slug=slug, is_active=True)
    else:
        raise Http404
    if not services.payments_configured():
        messages.info(request, _("Payments are not configured yet, so credits cannot be bought today."))
        return redirect("pricing")
    try:
        url = services.checkout_start(
            user=request.user,
            offering=offering,
            success_url=request.build_absolute_uri(reverse("checkout_success")),
            cancel_url=request.build_absolute_uri(reverse("checkout_cancel")),
        )
    except services.BillingError as exc:
        messages.error(request, exc.message)
        return redirect("pricing")
    request.session[CHECKOUT_STARTED] = timezone.now().timestamp()
    return HttpResponseRedirect(url, status=303)


def _purchase_for_return(request: AuthedRequest) -> Purchase | None:
    # Packs are keyed on the session id; a plan's first period on its invoice,
    # so for plans look for one made since this browser started Checkout.
    session_id = request.GET.get("session_id", "")
    purchase = Purchase.objects.filter(user=request.user, stripe_id=session_id).first() if session_id else None
    started = request.session.get(CHECKOUT_STARTED)
    if purchase is None and started:
        purchase = (
            Purchase.objects.filter(user=request.user, created_at__gte=datetime.fromtimestamp(started, tz=UTC))
            .order_by("-created_at")
            .first()
        )
    return purchase


def _return_context(request: AuthedRequest) -> dict[str, object]:
    """The purchase this return from Checkout made, or the payment issue
    staff were given when the payment matched nothing (then the page stops
    waiting and says so)."""
    session_id = request.GET.get("session_id", "")
    purchase = _purchase_for_return(request)
    issue = None
    if purchase is None and session_id:
        issue = PaymentIssue.objects.filter(stripe_id=session_id, user=request.user).first()
    return {"purchase": purchase, "issue": issue, "session_id": session_id}


@login_required
@require_GET
def checkout_success(request: AuthedRequest) -> HttpResponse:
    """Back from Checkout. Says the payment was received and waits (polling)
    until the webhook has granted the credits; it never grants itself."""
    return render(request, "billing/success.html", _return_context(request))


@login_required
@require_GET
def checkout_status(request: AuthedRequest) -> HttpResponse:
    context = _return_context(request)
    response = render(request, "billing/partials/checkout_status.html", {**context, "wallet": wallet_for(request.user)})
    if context["purchase"] is not None:
        trigger_client_event(response, "balanceChanged")
    return response


@login_required
def checkout_cancel(request: HttpRequest) -> HttpResponse:
    messages.info(request, _("Checkout was canceled; nothing was charged."))
    return redirect("pricing")


@login_required
@require_GET
def billing(request: AuthedRequest) -> HttpResponse:
    """The user's payments, invoices and plan, with a link to Stripe's portal."""
    return render(
        request,
        "billing/billing.html",
        {
            "purchases": selectors.purchases_for_user(user=request.user)[:50],
            "invoices": selectors.invoices_for_user(user=request.user),
            "subscription": selectors.subscription_for_user(user=request.user),
            "payments_configured": services.payments_configured(),
        },
    )


@login_required
@require_POST
def portal(request: AuthedRequest) -> HttpResponse:
    try:
        url = services.portal_start(user=request.user, return_url=request.build_absolute_uri(reverse("billing")))
    except services.BillingError as exc:
        messages.error(request, exc.message)
        return redirect("billing")
    return HttpResponseRedirect(url, status=303)
