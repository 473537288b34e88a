"""Buying credits through Stripe, and the credits that payments move.

Only verified webhook events (received by dj-stripe, handled in
``billing.handlers``) and the reconciliation below grant paid credits; the
success page only reads. Every grant and revocation is keyed on the Stripe
object id, both in :class:`~billing.models.Purchase` / ``Revocation`` (unique)
and in the credits ledger (idempotency key), so a replayed event or two events
about one payment count once.

Stripe facts used here (Stripe API reference, version 2026-08-26.dahlia):
Checkout Session ``mode``, ``payment_status`` ("paid" | "unpaid" |
"no_payment_required"), ``metadata``, ``payment_intent``; Invoice
``amount_paid``, ``parent.subscription_details.{subscription,metadata}``,
``lines.data[].pricing.price_details.price``; Charge ``amount``,
``amount_refunded``, ``payment_intent``; Dispute ``status`` ("lost").
Money is in minor units of the currency.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict

import stripe
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from credits.models import EntryKind, Hold, HoldStatus
from credits.services import credits_grant, credits_hold, credits_release, credits_revoke, wallet_lock

from .models import (
    CreditPack,
    PaymentIssue,
    Plan,
    Purchase,
    PurchaseKind,
    Revocation,
    RevocationKind,
    StripePrice,
)
from .money import format_money

if TYPE_CHECKING:
    from accounts.models import User

log = logging.getLogger(__name__)

METADATA_USER = "mirsam_user_id"
METADATA_PACK = "mirsam_pack"
METADATA_PLAN = "mirsam_plan"
#: ``credits.Hold.reference`` of a dispute's freeze: ``"dispute:<dispute id>"``.
DISPUTE_HOLD_PREFIX = "dispute:"
#: The Stripe Price sold and the credits it sells, as they were when Checkout opened.
METADATA_PRICE = "mirsam_price"
METADATA_CREDITS = "mirsam_credits"


class BillingError(Exception):
    """A refused billing action; ``message`` is safe to show the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def payments_configured() -> bool:
    """Whether a Stripe secret key is set for the current mode."""
    from djstripe.settings import djstripe_settings

    return bool(djstripe_settings.get_default_api_key(livemode=settings.STRIPE_LIVE_MODE))


def _api_key() -> str:
    from djstripe.settings import djstripe_settings

    key: str = djstripe_settings.get_default_api_key(livemode=settings.STRIPE_LIVE_MODE)
    if not key:
        raise BillingError(_("Payments are not configured yet. Please try again later."))
    return key


def _get(obj: Any, *path: str) -> Any:
    """``obj[p0][p1]…`` for dicts and StripeObjects, ``None`` when missing."""
    for key in path:
        if obj is None:
            return None
        obj = obj.get(key) if hasattr(obj, "get") else getattr(obj, key, None)
    return obj


def _user(user_id: Any) -> User | None:
    try:
        return get_user_model().objects.get(pk=int(user_id))
    except (TypeError, ValueError, get_user_model().DoesNotExist):
        return None


# --- checkout -------------------------------------------------------------------


def _customer_id(user: User) -> str:
    from djstripe.models import Customer

    customer, _created = Customer.get_or_create(subscriber=user, livemode=settings.STRIPE_LIVE_MODE, api_key=_api_key())
    customer_id: str = customer.id
    return customer_id


def checkout_start(*, user: User, offering: CreditPack | Plan, success_url: str, cancel_url: str) -> str:
    """Open a Stripe Checkout Session for ``offering`` and return its URL.

    A pack opens ``mode=payment``, a plan ``mode=subscription``; the session is
    for the user's dj-stripe Customer and carries our user id in metadata (on
    the session, and on the payment intent or subscription it creates).
    ``success_url`` gets ``?session_id={CHECKOUT_SESSION_ID}`` appended.
    Raises :class:`BillingError` when payments are off, the offering is not
    for sale (inactive, or edited and not yet in step with Stripe:
    :meth:`Offering.stripe_price`), or Stripe refuses. The metadata also
    names the Price sold and its credits, which the grant reads back.
    """
    api_key = _api_key()
    price = offering.stripe_price()
    if not offering.is_active or price is None:
        raise BillingError(_("This is not for sale right now."))
    is_plan = isinstance(offering, Plan)
    metadata = {
        METADATA_USER: str(user.pk),
        (METADATA_PLAN if is_plan else METADATA_PACK): offering.slug,
        METADATA_PRICE: price.stripe_id,
        METADATA_CREDITS: str(price.credits),
    }
    params: dict[str, Any] = {
        "mode": "subscription" if is_plan else "payment",
        "customer": _customer_id(user),
        "client_reference_id": str(user.pk),
        "line_items": [{"price": price.stripe_id, "quantity": 1}],
        "metadata": metadata,
        "success_url": success_url + ("&" if "?" in success_url else "?") + "session_id={CHECKOUT_SESSION_ID}",
        "cancel_url": cancel_url,
    }
    if is_plan:
        params["subscription_data"] = {"metadata": metadata}
    else:
        params["payment_intent_data"] = {"metadata": metadata}
    try:
        session = stripe.checkout.Session.create(api_key=api_key, **params)
    except stripe.StripeError as exc:
        log.warning("checkout session for user %s failed: %s", user.pk, exc)
        raise BillingError(_("We could not open the payment page. Please try again.")) from exc
    if session.url is None:
        # Stripe sets the URL of every open hosted-page session; without one there is nowhere to send the browser.
        log.warning("checkout session %s for user %s came back without a URL", session.id, user.pk)
        raise BillingError(_("We could not open the payment page. Please try again."))
    return session.url


def portal_start(*, user: User, return_url: str) -> str:
    """A Stripe customer portal URL where the user changes or cancels a plan."""
    api_key = _api_key()
    try:
        portal = stripe.billing_portal.Session.create(
            api_key=api_key, customer=_customer_id(user), return_url=return_url
        )
    except stripe.StripeError as exc:
        raise BillingError(_("We could not open the billing portal. Please try again.")) from exc
    return portal.url


# --- grants ---------------------------------------------------------------------


def _grant(
    *,
    user: User,
    kind: str,
    stripe_id: str,
    credits: int,
    amount: int,
    currency: str,
    pack: CreditPack | None = None,
    plan: Plan | None = None,
    payment_intent_id: str = "",
    subscription_id: str = "",
    billing_reason: str = "",
    expires_at: datetime | None = None,
    invoice_url: str = "",
) -> Purchase:
    offering = pack or plan
    with transaction.atomic():
        # The ledger key serialises on the wallet lock, so of two concurrent
        # deliveries the second finds both the entry and the purchase.
        credits_grant(
            user=user,
            amount=credits,
            idempotency_key=f"stripe:{stripe_id}",
            kind=EntryKind.PURCHASE if kind == PurchaseKind.PACK else EntryKind.SUBSCRIPTION_GRANT,
            reason=offering.name if offering else "",
            reference=f"stripe:{stripe_id}",
            money_minor=amount,  # what Stripe says was paid
            currency=currency,
            expires_at=expires_at,
        )
        purchase, created = Purchase.objects.get_or_create(
            stripe_id=stripe_id,
            defaults={
                "user": user,
                "kind": kind,
                "pack": pack,
                "plan": plan,
                "credits": credits,
                "amount": amount,
                "currency": currency,
                "payment_intent_id": payment_intent_id or "",
                "subscription_id": subscription_id,
                "billing_reason": billing_reason,
            },
        )
        if created:
            _reversals_apply(purchase)
            pk = purchase.pk
            transaction.on_commit(lambda: _fee_task().delay(pk))
            from accounts.notifications import purchase_made

            purchase_made(purchase=purchase, invoice_url=invoice_url)  # the receipt, after commit
        return purchase


def _fee_task() -> Any:
    from .tasks import purchase_fee_task

    return purchase_fee_task


def purchase_fee_fetch(*, purchase: Purchase) -> int | None:
    """Read Stripe's fee for ``purchase``'s payment (PaymentIntent
    ``latest_charge.balance_transaction.fee``, minor units) and store it.
    Returns the fee, or ``None`` when Stripe has no balance transaction yet.
    Raises ``stripe.StripeError`` and :class:`BillingError`."""
    api_key = _api_key()
    intent = stripe.PaymentIntent.retrieve(
        _payment_intent_of(purchase, api_key), api_key=api_key, expand=["latest_charge.balance_transaction"]
    )
    fee = _get(intent, "latest_charge", "balance_transaction", "fee")
    if not isinstance(fee, int):
        return None
    Purchase.objects.filter(pk=purchase.pk).update(fee=fee)
    return fee


def purchase_from_session(*, session: Any) -> Purchase | None:
    """Grant a pack for a Checkout Session whose ``payment_status`` is
    "paid" (``mode=payment`` only; plans are granted per invoice): the credits
    the session's Price sold (``metadata.mirsam_price``, a :class:`StripePrice`)
    for the ``amount_total`` Stripe charged, whatever the pack row says now.
    Returns the purchase, or ``None`` when the session is unpaid; a paid
    session that names no user or nothing we sold becomes a
    :class:`PaymentIssue` for staff (and ``None``)."""
    if _get(session, "mode") != "payment" or _get(session, "payment_status") != "paid":
        return None
    metadata = _get(session, "metadata") or {}
    user = _user(_get(metadata, METADATA_USER) or _get(session, "client_reference_id"))
    price = StripePrice.objects.filter(stripe_id=_get(metadata, METADATA_PRICE) or "", kind="pack").first()
    pack = price.pack if price is not None else None
    credits = price.credits if price is not None else 0
    if price is None:
        # Sessions opened before Checkout named its Price: the pack by slug, as then.
        pack = CreditPack.objects.filter(slug=_get(metadata, METADATA_PACK) or "").first()
        credits = pack.credits if pack is not None else 0
    amount, currency = int(_get(session, "amount_total") or 0), _get(session, "currency") or ""
    if user is None or not credits:
        payment_issue_record(
            kind=PaymentIssue.Kind.UNMATCHED_CHECKOUT,
            stripe_id=_get(session, "id"),
            user=user,
            amount=amount,
            currency=currency,
            detail="no Mirsam user" if user is None else "no pack or Price we sold",
        )
        return None
    payment_intent = _get(session, "payment_intent")
    days = pack.credit_validity_days if pack is not None else None
    return _grant(
        user=user,
        kind=PurchaseKind.PACK,
        expires_at=timezone.now() + timedelta(days=days) if days else None,
        stripe_id=_get(session, "id"),
        credits=credits,
        amount=amount,
        currency=currency or (pack.currency if pack else ""),
        pack=pack,
        payment_intent_id=payment_intent if isinstance(payment_intent, str) else (_get(payment_intent, "id") or ""),
    )


def payment_issue_record(
    *,
    kind: str,
    stripe_id: str,
    user: User | None,
    amount: int,
    currency: str,
    detail: str,
    **reversal: Any,
) -> PaymentIssue:
    """Put money Stripe reports and we could not match on staff's "needs
    attention" list, once per Stripe object; ``amount`` in minor units of
    ``currency``, ``detail`` in English for staff (it names Stripe facts).
    ``reversal``: a waiting refund or dispute's ``payment_intent_id``,
    ``payment_stripe_id`` and ``stripe_object`` (see :class:`PaymentIssue`)."""
    log.warning("payment needs attention: %s %s (%s)", kind, stripe_id, detail)
    issue, _created = PaymentIssue.objects.get_or_create(
        stripe_id=stripe_id,
        defaults={
            "kind": kind,
            "user": user,
            "amount": amount,
            "currency": currency,
            "detail": detail[:255],
            **reversal,
        },
    )
    return issue


def _reversals_apply(purchase: Purchase) -> None:
    """Refunds and disputes of ``purchase``'s payment that arrived before it
    was granted (waiting as :class:`PaymentIssue` rows): apply them now, in
    the order they came, and mark them resolved. Call in the grant's transaction."""
    waiting = PaymentIssue.objects.filter(kind=PaymentIssue.Kind.UNMATCHED_REVERSAL, resolved_at=None)
    match = Q(payment_stripe_id=purchase.stripe_id)
    if purchase.payment_intent_id:
        match |= Q(payment_intent_id=purchase.payment_intent_id)
    for issue in waiting.filter(match).order_by("created_at", "id"):
        obj = issue.stripe_object
        if _get(obj, "object") == "dispute":
            _revoke_dispute(purchase=purchase, dispute=obj)
        else:
            _revoke_refund(purchase=purchase, charge=obj)
        issue.resolved_at = timezone.now()
        issue.resolution = _("Applied when the payment was granted.")
        issue.save(update_fields=["resolved_at", "resolution"])


def _invoice_price_ids(invoice: Any) -> list[str]:
    """The Price ids of the invoice's lines that charge (amount > 0); a
    proration's credit line for the unused old plan is negative."""
    ids = []
    for line in _get(invoice, "lines", "data") or []:
        price = _get(line, "pricing", "price_details", "price") or _get(line, "price")
        price = price if isinstance(price, str) else _get(price, "id")
        if price and int(_get(line, "amount") or 0) > 0:
            ids.append(price)
    return ids


#: Invoice ``billing_reason`` of a plan change mid-period (Stripe API: Invoice).
PRORATION = "subscription_update"


def _proration_credits(*, subscription_id: str, credits: int) -> int:
    """A proration invoice (``billing_reason`` "subscription_update": a plan
    changed mid-period) grants the new plan's ``credits`` less what this
    period already granted (its period invoice and any earlier proration),
    never below zero: an upgrade tops the period up to the new plan, a
    downgrade grants nothing and takes nothing back. Without a subscription
    id nothing is known about the period: nothing is granted."""
    if not subscription_id:
        return 0
    granted = 0
    for purchase in Purchase.objects.filter(kind=PurchaseKind.PLAN, subscription_id=subscription_id).order_by(
        "-created_at", "-id"
    ):
        granted += purchase.credits
        if purchase.billing_reason != PRORATION:
            break  # the period's own grant: earlier ones are other periods
    return max(0, credits - granted)


def purchase_from_invoice(*, invoice: Any) -> Purchase | None:
    """Grant a plan's credits for one paid subscription invoice
    (``amount_paid`` > 0), once per invoice id: the credits of the Price the
    invoice's lines name (a :class:`StripePrice`); a proration only its
    difference (:func:`_proration_credits`). A paid invoice that names no
    user or nothing we sold becomes a :class:`PaymentIssue`."""
    if _get(invoice, "status") != "paid" or not _get(invoice, "amount_paid"):
        return None
    sub_metadata = _get(invoice, "parent", "subscription_details", "metadata") or {}
    # The Price actually paid decides the credits (a portal change keeps the
    # subscription's metadata); the metadata's plan only for Prices from before
    # Stripe prices were recorded.
    price = StripePrice.objects.filter(stripe_id__in=_invoice_price_ids(invoice), kind="plan").first()
    plan = price.plan if price is not None else Plan.objects.filter(slug=_get(sub_metadata, METADATA_PLAN)).first()
    credits = price.credits if price is not None else (plan.credits_per_period if plan is not None else 0)
    user = _user(_get(sub_metadata, METADATA_USER))
    if user is None:
        from djstripe.models import Customer

        customer = Customer.objects.filter(id=_get(invoice, "customer")).select_related("subscriber").first()
        user = customer.subscriber if customer else None
    subscription_id = _get(invoice, "parent", "subscription_details", "subscription") or ""
    subscription_id = subscription_id if isinstance(subscription_id, str) else _get(subscription_id, "id") or ""
    reason = _get(invoice, "billing_reason") or ""
    if user is not None and credits and reason == PRORATION:
        credits = _proration_credits(subscription_id=subscription_id, credits=credits)
        if not credits:
            log.info("proration invoice %s grants nothing (a downgrade, or the period has it)", _get(invoice, "id"))
            return None
    if user is None or not credits:
        payment_issue_record(
            kind=PaymentIssue.Kind.UNMATCHED_INVOICE,
            stripe_id=_get(invoice, "id"),
            user=user,
            amount=int(_get(invoice, "amount_paid") or 0),
            currency=_get(invoice, "currency") or "",
            detail="no Mirsam user" if user is None else "no plan or Price we sold",
        )
        return None
    return _grant(
        user=user,
        kind=PurchaseKind.PLAN,
        stripe_id=_get(invoice, "id"),
        credits=credits,
        amount=_get(invoice, "amount_paid"),
        currency=_get(invoice, "currency") or (plan.currency if plan else ""),
        plan=plan,
        subscription_id=subscription_id,
        billing_reason=reason,
        expires_at=_plan_credits_expire(invoice, plan),
        invoice_url=_get(invoice, "hosted_invoice_url") or "",
    )


def _plan_credits_expire(invoice: Any, plan: Plan | None) -> datetime | None:
    """When a plan invoice's credits expire: ``plan.credit_periods`` periods
    after the end of the period it pays (Invoice ``lines.data[].period``;
    default 2: the end of the period after next); ``None`` when the plan's
    credits never expire or the invoice names no period."""
    periods = plan.credit_periods if plan is not None else None
    ends = [
        (int(_get(line, "period", "start") or 0), int(_get(line, "period", "end") or 0))
        for line in _get(invoice, "lines", "data") or []
        if int(_get(line, "amount") or 0) > 0
    ]
    if periods is None or not ends:
        return None
    start, end = max(ends, key=lambda pair: pair[1])
    if end <= start:
        return None
    return datetime.fromtimestamp(end + periods * (end - start), tz=UTC)


# --- revocations ----------------------------------------------------------------


def _purchase_for_payment_intent(payment_intent_id: str) -> tuple[Purchase | None, str]:
    """The purchase a payment intent paid for, and the invoice it paid when
    Stripe says (so a reversal that comes first can wait for that invoice)."""
    purchase = Purchase.objects.filter(payment_intent_id=payment_intent_id).first()
    if purchase is not None or not payment_intent_id:
        return purchase, ""
    # Invoices no longer name their payment intent (dahlia): ask Stripe which
    # invoice this payment paid.
    try:
        payments = stripe.InvoicePayment.list(
            api_key=_api_key(), payment={"type": "payment_intent", "payment_intent": payment_intent_id}, limit=1
        )
    except (stripe.StripeError, BillingError) as exc:
        log.warning("invoice lookup for %s failed: %s", payment_intent_id, exc)
        raise
    invoice_id = ""
    for payment in payments.data:
        invoice_id = _get(payment, "invoice") or ""
        purchase = Purchase.objects.filter(stripe_id=invoice_id).first()
        if purchase is not None:
            Purchase.objects.filter(pk=purchase.pk, payment_intent_id="").update(payment_intent_id=payment_intent_id)
            return purchase, invoice_id
    return None, invoice_id


def _reversal_waits(*, key: str, obj: Any, amount: int, what: str, invoice_id: str) -> None:
    """A refund or dispute of a payment not granted yet: keep it (with the
    Stripe object) to apply when the grant comes (:func:`_reversals_apply`)."""
    payment_issue_record(
        kind=PaymentIssue.Kind.UNMATCHED_REVERSAL,
        stripe_id=key,
        user=None,
        amount=amount,
        currency=_get(obj, "currency") or "",
        detail=f"{what} of a payment not granted (yet): applied if its grant comes",
        payment_intent_id=_get(obj, "payment_intent") or "",
        payment_stripe_id=invoice_id,
        stripe_object=dict(obj) if not isinstance(obj, dict) else obj,
    )


def _revoke(*, purchase: Purchase, kind: str, stripe_key: str, credits_due: int, amount: int) -> Revocation:
    with transaction.atomic():
        Purchase.objects.select_for_update().get(pk=purchase.pk)
        existing = Revocation.objects.filter(stripe_key=stripe_key).first()
        if existing is not None:
            return existing
        taken, shortfall = 0, credits_due
        if kind == RevocationKind.REFUND:  # ``amount`` is the charge's refunded total: this one's money is the rise
            earlier = purchase.revocations.filter(kind=RevocationKind.REFUND).values_list("amount", flat=True)
            money = max(0, amount - max(earlier, default=0))
        else:
            money = amount
        if credits_due > 0:
            entry, shortfall = credits_revoke(
                user=purchase.user,
                amount=credits_due,
                idempotency_key=f"stripe-revoke:{stripe_key}",
                reason=_("Refund") if kind == RevocationKind.REFUND else _("Lost dispute"),
                reference=f"stripe:{purchase.stripe_id}",
                refund_minor=money,
            )
            taken = credits_due - shortfall
        if shortfall:
            log.warning("revocation %s: user %s had spent %d credit(s)", stripe_key, purchase.user_id, shortfall)
        return Revocation.objects.create(
            purchase=purchase,
            kind=kind,
            stripe_key=stripe_key,
            amount=amount,
            credits_due=credits_due,
            credits_taken=taken,
            shortfall=shortfall,
        )


def _already_due(purchase: Purchase) -> int:
    return sum(r.credits_due for r in purchase.revocations.all())


def refund_credits_due(*, purchase: Purchase, charge_amount: int, refunded: int) -> int:
    """Credits a refund takes back once Stripe reports ``refunded`` (minor
    units, cumulative) of a charge of ``charge_amount``: the purchase's share
    ``credits × refunded / charge_amount`` (all of them once refunded in full)
    less what earlier revocations already took."""
    if refunded >= charge_amount:
        target = purchase.credits
    else:
        target = purchase.credits * refunded // charge_amount
    return max(0, target - _already_due(purchase))


def revoke_for_refund(*, charge: Any) -> Revocation | None:
    """Take back the credits a refunded charge paid for, in proportion to
    ``amount_refunded / amount`` (cumulative, so each partial refund takes
    only its share). Keyed on the charge id and the refunded total. A refund
    of a payment not granted yet waits and is applied when the grant comes."""
    amount, refunded = int(_get(charge, "amount") or 0), int(_get(charge, "amount_refunded") or 0)
    if not amount or not refunded:
        return None
    purchase, invoice_id = _purchase_for_payment_intent(_get(charge, "payment_intent") or "")
    if purchase is None:
        key = f"{_get(charge, 'id')}:refunded:{refunded}"
        _reversal_waits(key=key, obj=charge, amount=refunded, what="refund", invoice_id=invoice_id)
        return None
    return _revoke_refund(purchase=purchase, charge=charge)


def _revoke_refund(*, purchase: Purchase, charge: Any) -> Revocation:
    amount, refunded = int(_get(charge, "amount") or 0), int(_get(charge, "amount_refunded") or 0)
    with transaction.atomic():
        Purchase.objects.select_for_update().get(pk=purchase.pk)
        due = refund_credits_due(purchase=purchase, charge_amount=amount, refunded=refunded)
        return _revoke(
            purchase=purchase,
            kind=RevocationKind.REFUND,
            stripe_key=f"{_get(charge, 'id')}:refunded:{refunded}",
            credits_due=due,
            amount=refunded,
        )


def _dispute_hold_reference(dispute: Any) -> str:
    return f"{DISPUTE_HOLD_PREFIX}{_get(dispute, 'id')}"


def dispute_freeze(*, dispute: Any) -> Hold | None:
    """A dispute opened (``charge.dispute.created``): hold the disputed
    purchase's credits not yet taken back, as far as they are available, so
    they cannot be spent while it is open. Returns the hold (``None`` when
    nothing is available or the payment was never granted). Once per dispute."""
    purchase, _invoice = _purchase_for_payment_intent(_get(dispute, "payment_intent") or "")
    if purchase is None:
        return None
    with transaction.atomic():
        Purchase.objects.select_for_update().get(pk=purchase.pk)
        wallet = wallet_lock(user=purchase.user)
        amount = min(max(0, purchase.credits - _already_due(purchase)), wallet.available)
        if amount <= 0:
            return None
        return credits_hold(
            user=purchase.user,
            amount=amount,
            reference=_dispute_hold_reference(dispute),
            reason=_("Disputed payment: credits frozen until the dispute closes"),
            while_owing=True,
        )


def _dispute_unfreeze(dispute: Any) -> None:
    """Release the dispute's hold, if any (call in the closing transaction)."""
    hold = Hold.objects.filter(reference=_dispute_hold_reference(dispute), status=HoldStatus.OPEN).first()
    if hold is not None:
        credits_release(hold=hold, reason=_("Dispute closed"))


def revoke_for_dispute(*, dispute: Any) -> Revocation | None:
    """A dispute closed: its frozen credits are released, and a lost one takes
    back every credit of its purchase not already taken back (waiting for the
    grant, as a refund does, when it comes first). Other outcomes take nothing."""
    if _get(dispute, "status") != "lost":
        with transaction.atomic():
            _dispute_unfreeze(dispute)
        return None
    purchase, invoice_id = _purchase_for_payment_intent(_get(dispute, "payment_intent") or "")
    if purchase is None:
        amount = int(_get(dispute, "amount") or 0)
        key = f"{_get(dispute, 'id')}:lost"
        _reversal_waits(key=key, obj=dispute, amount=amount, what="lost dispute", invoice_id=invoice_id)
        return None
    return _revoke_dispute(purchase=purchase, dispute=dispute)


def _revoke_dispute(*, purchase: Purchase, dispute: Any) -> Revocation:
    with transaction.atomic():
        Purchase.objects.select_for_update().get(pk=purchase.pk)
        _dispute_unfreeze(dispute)  # the frozen credits are among those taken now
        due = max(0, purchase.credits - _already_due(purchase))
        return _revoke(
            purchase=purchase,
            kind=RevocationKind.DISPUTE,
            stripe_key=f"{_get(dispute, 'id')}:lost",
            credits_due=due,
            amount=int(_get(dispute, "amount") or 0),
        )


# --- staff refunds (the admin's "Refund via Stripe") ---------------------------


@dataclass(frozen=True)
class RefundableCharge:
    """What Stripe says about a purchase's payment: ``amount`` charged and
    ``refunded`` so far, in minor units of ``currency`` (Charge ``amount``,
    ``amount_refunded``; the charge is the payment intent's ``latest_charge``)."""

    payment_intent_id: str
    charge_id: str
    amount: int
    refunded: int
    currency: str

    @property
    def remaining(self) -> int:
        """Minor units still refundable (never below 0)."""
        return max(0, self.amount - self.refunded)


@dataclass(frozen=True)
class StaffRefund:
    """A refund Stripe made for :func:`purchase_refund`: its Stripe id and
    ``amount`` in minor units of ``currency``. ``created`` is False when this
    form token's refund had been recorded already (a double submit)."""

    refund_id: str
    amount: int
    currency: str
    created: bool


def _refund_error(exc: stripe.StripeError) -> BillingError:
    """A Stripe error as a message for staff: nothing was refunded, or (no
    answer) nobody knows yet, and submitting the same form again is safe."""
    if isinstance(exc, stripe.APIConnectionError):
        return BillingError(
            _(
                "Stripe did not answer, so we cannot tell whether the refund was made. Submit the same form "
                "again: it sends the same request, which Stripe never carries out twice."
            )
        )
    return BillingError(
        _("Stripe refused the refund; nothing was refunded. Stripe said: %(message)s")
        % {"message": exc.user_message or str(exc)}
    )


def _payment_intent_of(purchase: Purchase, api_key: str) -> str:
    """The payment intent that paid ``purchase``: stored for packs; a plan's
    invoice no longer names it (dahlia), so Stripe's invoice payments do,
    and it is stored then."""
    if purchase.payment_intent_id:
        return purchase.payment_intent_id
    if purchase.kind == PurchaseKind.PLAN:
        payments = stripe.InvoicePayment.list(api_key=api_key, invoice=purchase.stripe_id, limit=10)
        for payment in payments.data:
            intent = _get(payment, "payment", "payment_intent")
            intent = intent if isinstance(intent, str) else _get(intent, "id")
            if _get(payment, "status") == "paid" and intent:
                Purchase.objects.filter(pk=purchase.pk, payment_intent_id="").update(payment_intent_id=intent)
                purchase.payment_intent_id = intent
                return str(intent)
    raise BillingError(_("Stripe names no payment for this purchase, so it cannot be refunded from here."))


def purchase_refundable(*, purchase: Purchase) -> RefundableCharge:
    """Ask Stripe what is left to refund of ``purchase`` (its payment
    intent's latest charge). Raises :class:`BillingError` when payments are
    off, Stripe cannot be reached or names no successful charge."""
    api_key = _api_key()
    try:
        intent_id = _payment_intent_of(purchase, api_key)
        intent = stripe.PaymentIntent.retrieve(intent_id, api_key=api_key, expand=["latest_charge"])
    except stripe.StripeError as exc:
        log.warning("refundable amount of purchase %s: %s", purchase.pk, exc)
        raise _refund_error(exc) from exc
    charge = intent.latest_charge
    if charge is None or isinstance(charge, str) or charge.status != "succeeded":
        raise BillingError(_("This payment has no successful charge to refund."))
    return RefundableCharge(
        payment_intent_id=intent_id,
        charge_id=charge.id,
        amount=int(charge.amount),
        refunded=int(charge.amount_refunded or 0),
        currency=str(charge.currency),
    )


def purchase_refund(*, actor: User, purchase: Purchase, amount: int, reason: str, token: str) -> StaffRefund:
    """A staff member refunds ``amount`` (minor units of the purchase's
    currency, at most what Stripe says is left) of ``purchase`` through
    Stripe's Refund API (POST /v1/refunds with ``payment_intent`` and
    ``amount``), then records one ``StaffAction`` (kind ``purchase_refund``,
    reference ``stripe:<refund id>``).

    ``token`` is the refund form's one-time token: the request's
    Idempotency-Key is derived from it, so the same form posted twice (or
    again after a timeout) is one refund at Stripe and one audit row. The
    credits are not taken here: Stripe's ``charge.refunded`` webhook takes
    them back (:func:`revoke_for_refund`, docs/architecture.md, Flow (b) 8).

    Raises :class:`BillingError` (nothing refunded, nothing recorded) for an
    amount ≤ 0 or above what is left, when Stripe refuses, or when Stripe
    does not answer (the message says to submit again).
    """
    from accounts.models import StaffAction
    from accounts.services import staff_action_record

    if amount <= 0:
        raise BillingError(_("Enter an amount above zero."))
    refundable = purchase_refundable(purchase=purchase)
    if refundable.remaining <= 0:
        raise BillingError(_("This payment has been refunded in full already."))
    if amount > refundable.remaining:
        raise BillingError(
            _("At most %(remaining)s is left to refund.")
            % {"remaining": format_money(refundable.remaining, refundable.currency)}
        )
    try:
        refund = stripe.Refund.create(
            api_key=_api_key(),
            payment_intent=refundable.payment_intent_id,
            amount=amount,
            metadata={"mirsam_purchase": str(purchase.pk), "mirsam_staff": str(actor.pk)},
            idempotency_key=f"mirsam-purchase-refund:{purchase.pk}:{token}",
        )
    except stripe.StripeError as exc:
        log.warning("refund of purchase %s (%d) failed: %s", purchase.pk, amount, exc)
        raise _refund_error(exc) from exc
    reference = f"stripe:{refund.id}"
    with transaction.atomic():
        # Two posts of one form get the same refund back from Stripe: one audit row.
        Purchase.objects.select_for_update().get(pk=purchase.pk)
        if StaffAction.objects.filter(kind=StaffAction.Kind.PURCHASE_REFUND, reference=reference).exists():
            return StaffRefund(refund_id=refund.id, amount=int(refund.amount), currency=refund.currency, created=False)
        staff_action_record(
            actor=actor,
            kind=StaffAction.Kind.PURCHASE_REFUND,
            user=purchase.user,
            reason=f"{format_money(int(refund.amount), refund.currency)} · {reason}",
            reference=reference,
        )
    log.info("staff %s refunded %s of purchase %s (%s)", actor.pk, refund.amount, purchase.pk, refund.id)
    return StaffRefund(refund_id=refund.id, amount=int(refund.amount), currency=refund.currency, created=True)


# --- reconciliation -------------------------------------------------------------


def checkouts_reconcile(*, since: datetime | None = None) -> int:
    """List Checkout Sessions completed since ``since`` (default: the last
    ``MIRSAM_STRIPE_RECONCILE_HOURS``) from Stripe and grant any paid pack, or
    plan's first invoice, that no webhook granted (less what its charge has
    had refunded since). Returns how many purchases it added."""
    since = since or timezone.now() - timedelta(hours=settings.MIRSAM_STRIPE_RECONCILE_HOURS)
    added = 0
    sessions = stripe.checkout.Session.list(
        api_key=_api_key(), created={"gte": int(since.timestamp())}, status="complete", limit=100
    )
    for session in sessions.auto_paging_iter():
        stripe_id = session.id
        if session.mode == "subscription":
            # A plan's first period is paid by the session's invoice.
            stripe_id = _get(session, "invoice")
            stripe_id = stripe_id if isinstance(stripe_id, str) else _get(stripe_id, "id")
        if (
            not stripe_id
            or Purchase.objects.filter(stripe_id=stripe_id).exists()
            or PaymentIssue.objects.filter(stripe_id=stripe_id).exists()  # staff have it already
        ):
            continue
        if session.mode == "subscription":
            purchase = purchase_from_invoice(invoice=stripe.Invoice.retrieve(stripe_id, api_key=_api_key()))
        else:
            purchase = purchase_from_session(session=session)
        if purchase is not None:
            log.warning("reconciliation granted %s (its webhook never came)", stripe_id)
            added += 1
            if purchase.payment_intent_id:
                _refunds_reconcile(purchase)
    return added


def _refunds_reconcile(purchase: Purchase) -> None:
    """A payment granted late by reconciliation may have been refunded
    meanwhile, and that event lost too: read the payment's charge from Stripe
    (PaymentIntent ``latest_charge``) and take back what was refunded."""
    intent = stripe.PaymentIntent.retrieve(purchase.payment_intent_id, api_key=_api_key(), expand=["latest_charge"])
    charge = _get(intent, "latest_charge")
    if charge is not None and not isinstance(charge, str) and int(_get(charge, "amount_refunded") or 0) > 0:
        _revoke_refund(purchase=purchase, charge=charge)


# --- catalogue ------------------------------------------------------------------


class _ProductFields(TypedDict):
    """What we keep in sync on a Stripe Product: parameters that Product
    create and update (``stripe.Product.create`` / ``modify``) both take."""

    name: str
    active: bool
    metadata: dict[str, str]
    description: NotRequired[str]


def offering_sync_to_stripe(*, offering: CreditPack | Plan) -> str:
    """Make Stripe's Product and Price match ``offering`` and store their ids.

    Stripe Prices are immutable in amount (Stripe API: Prices), so when the
    amount, currency or credits changed a new Price is created, recorded as a
    :class:`StripePrice` with what it sells, and the old one archived
    (``active=false``; subscriptions on it go on, and their invoices still
    grant what it sold). Runs under the offering's row lock, with the row as
    it is now (``offering`` gets the ids too). Returns what was done:
    "created", "updated" or "new price".
    Raises :class:`BillingError` (no key) and ``stripe.StripeError``.
    """
    api_key = _api_key()
    given = offering
    with transaction.atomic():
        offering = type(given).objects.select_for_update().get(pk=given.pk)
        is_plan = isinstance(offering, Plan)
        kind = "plan" if is_plan else "pack"
        metadata = {"mirsam_kind": kind, "mirsam_slug": offering.slug}
        product_fields: _ProductFields = {
            "name": offering.name_en or offering.name,
            "active": offering.is_active,
            "metadata": metadata,
        }
        if offering.description_en:
            product_fields["description"] = offering.description_en
        action = "updated"
        if offering.stripe_product_id:
            stripe.Product.modify(offering.stripe_product_id, api_key=api_key, **product_fields)
        else:
            offering.stripe_product_id = stripe.Product.create(
                api_key=api_key, idempotency_key=f"mirsam-product:{kind}:{offering.pk}", **product_fields
            ).id
            action = "created"
        if offering.stripe_price() is None:
            old = offering.stripe_price_id
            if old:
                stripe.Price.modify(old, api_key=api_key, active=False)
                StripePrice.objects.filter(stripe_id=old, archived_at=None).update(archived_at=timezone.now())
                action = "new price"
            fields: dict[str, Any] = {
                "product": offering.stripe_product_id,
                "unit_amount": offering.price_amount,
                "currency": offering.currency,
                "metadata": {**metadata, METADATA_CREDITS: str(offering.credits_sold)},
            }
            if isinstance(offering, Plan):
                fields["recurring"] = {"interval": offering.interval}
            # A retry after a lost answer gets the same Price back (Stripe: idempotent requests).
            sold = f"{offering.price_amount}:{offering.currency}:{offering.credits_sold}"
            key = f"mirsam-price:{kind}:{offering.pk}:{old}:{sold}"
            price_id: str = stripe.Price.create(api_key=api_key, idempotency_key=key, **fields).id
            StripePrice.objects.create(
                stripe_id=price_id,
                kind=kind,
                pack=offering if isinstance(offering, CreditPack) else None,
                plan=offering if isinstance(offering, Plan) else None,
                credits=offering.credits_sold,
                amount=offering.price_amount,
                currency=offering.currency,
            )
            offering.stripe_price_id = price_id
        offering.stripe_synced_at = timezone.now()
        offering.stripe_sync_error = ""
        synced = ["stripe_product_id", "stripe_price_id", "stripe_synced_at", "stripe_sync_error"]
        offering.save(update_fields=synced)
    for name in synced:  # the caller's instance shows the result too
        setattr(given, name, getattr(offering, name))
    return action


def offering_sync_failed(*, offering: CreditPack | Plan, error: str) -> None:
    """Note on the row why the last push to Stripe failed (staff see it)."""
    type(offering).objects.filter(pk=offering.pk).update(stripe_sync_error=error[:255])


def renewal_payment_failed(*, invoice: Any) -> None:
    """A subscription's invoice could not be paid (Stripe's
    ``invoice.payment_failed``): tell its owner, once per invoice, with
    Stripe's hosted page to pay it. Nothing is granted or taken."""
    from djstripe.models import Customer

    from accounts.notifications import notify_renewal_failed

    metadata = _get(invoice, "parent", "subscription_details", "metadata") or {}
    user = _user(_get(metadata, METADATA_USER))
    if user is None:
        customer = Customer.objects.filter(id=_get(invoice, "customer")).select_related("subscriber").first()
        user = customer.subscriber if customer else None
    if user is None:
        log.warning("failed invoice %s names no Mirsam user", _get(invoice, "id"))
        return
    notify_renewal_failed(
        user=user,
        invoice_id=str(_get(invoice, "id")),
        amount=int(_get(invoice, "amount_due") or 0),
        currency=str(_get(invoice, "currency") or ""),
        invoice_url=str(_get(invoice, "hosted_invoice_url") or ""),
    )
