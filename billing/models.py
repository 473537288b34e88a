"""What people buy (credit packs, monthly plans) and what they bought.

Money is in minor units of ``currency`` (cents for "usd"); credits are whole
numbers. ``Purchase`` and ``Revocation`` map Stripe object ids to the credits
they moved, each id unique, so the same payment is never counted twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from modeltranslation.manager import MultilingualManager


class Offering(models.Model):
    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    description = models.TextField(_("description"), blank=True)
    price_amount = models.PositiveIntegerField(
        _("price (minor units)"), validators=[MinValueValidator(1)], help_text=_("In cents for USD: 999 = 9.99.")
    )
    currency = models.CharField(_("currency"), max_length=3, default="usd")
    stripe_product_id = models.CharField(_("Stripe product"), max_length=64, blank=True)
    stripe_price_id = models.CharField(_("Stripe price"), max_length=64, blank=True, db_index=True)
    # The last push to Stripe (billing.services.offering_sync_to_stripe, run
    # after every save in the admin): when it last succeeded, and why it failed.
    stripe_synced_at = models.DateTimeField(_("synced with Stripe"), null=True, blank=True, editable=False)
    stripe_sync_error = models.CharField(_("Stripe sync error"), max_length=255, blank=True, editable=False)
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)

    # Added by modeltranslation (billing/translation.py), nullable like every
    # translation field; the Arabic ones are not read in code.
    name_en: str | None
    description_en: str | None

    class Meta:
        abstract = True
        ordering = ["sort_order", "price_amount"]

    def __str__(self) -> str:
        return self.name

    @property
    def price_major(self) -> str:
        """The price as text in major units, e.g. "9.99" (two-decimal currencies)."""
        return f"{self.price_amount / 100:.2f}"

    @property
    def credits_sold(self) -> int:
        """Credits one purchase of this offering gives (a pack's, or a plan's per period)."""
        raise NotImplementedError

    def stripe_price(self) -> StripePrice | None:
        """The Stripe Price this offering sells at, when it matches the row as
        it is now (amount, currency, credits); ``None`` while the row was
        edited and not yet pushed to Stripe, so it is not for sale."""
        if not self.stripe_price_id:
            return None
        price = StripePrice.objects.filter(stripe_id=self.stripe_price_id).first()
        if price is None or (price.amount, price.currency, price.credits) != (
            self.price_amount,
            self.currency,
            self.credits_sold,
        ):
            return None
        return price


class CreditPack(Offering):
    """A one-time purchase of ``credits`` credits (Checkout ``mode=payment``)."""

    credits = models.PositiveIntegerField(_("credits"), validators=[MinValueValidator(1)])
    credit_validity_days = models.PositiveIntegerField(
        _("credits last (days)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Empty: bought credits never expire."),
    )

    # modeltranslation swaps the manager's class at run time (see providers.models.Offer).
    objects: ClassVar[MultilingualManager[CreditPack]]

    class Meta(Offering.Meta):
        verbose_name = _("credit pack")
        verbose_name_plural = _("credit packs")

    @property
    def credits_sold(self) -> int:
        return self.credits


class Plan(Offering):
    """A monthly subscription granting ``credits_per_period`` on each paid
    invoice (Checkout ``mode=subscription``)."""

    credits_per_period = models.PositiveIntegerField(_("credits per month"), validators=[MinValueValidator(1)])
    credit_periods = models.PositiveSmallIntegerField(
        _("credits last (extra periods)"),
        null=True,
        blank=True,
        default=2,
        help_text=_(
            "A period's credits expire this many periods after it ends (2: at the end of the period after next);"
            " empty: never."
        ),
    )
    interval = models.CharField(_("interval"), max_length=8, default="month", editable=False)

    # modeltranslation swaps the manager's class at run time (see providers.models.Offer).
    objects: ClassVar[MultilingualManager[Plan]]

    class Meta(Offering.Meta):
        verbose_name = _("plan")
        verbose_name_plural = _("plans")

    @property
    def credits_sold(self) -> int:
        return self.credits_per_period


class StripePrice(models.Model):
    """One Stripe Price we created, with what it sells: ``credits`` (a pack's,
    or a plan's per period) for ``amount`` minor units of ``currency``. Stripe
    Prices cannot change amount, so a price or credits edit makes a new one;
    the old rows stay, so a payment at an old Price still grants what that
    Price sold (billing.services)."""

    stripe_id = models.CharField(_("Stripe price"), max_length=64, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=[("pack", _("Credit pack")), ("plan", _("Plan period"))])
    pack = models.ForeignKey(
        CreditPack, on_delete=models.PROTECT, null=True, blank=True, related_name="prices", verbose_name=_("pack")
    )
    plan = models.ForeignKey(
        Plan, on_delete=models.PROTECT, null=True, blank=True, related_name="prices", verbose_name=_("plan")
    )
    credits = models.PositiveIntegerField(_("credits"))
    amount = models.PositiveIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)

    class Meta:
        verbose_name = _("Stripe price")
        verbose_name_plural = _("Stripe prices (what each sold)")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.credits} for {self.amount} {self.currency}"

    @property
    def offering(self) -> CreditPack | Plan | None:
        return self.pack or self.plan


class PurchaseKind(models.TextChoices):
    PACK = "pack", _("Credit pack")
    PLAN = "plan", _("Plan period")


class Purchase(models.Model):
    """Credits granted for one paid Stripe object: a Checkout Session (pack)
    or an invoice (plan period)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="purchases", verbose_name=_("user")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=PurchaseKind.choices)
    pack = models.ForeignKey(CreditPack, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("pack"))
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, null=True, blank=True, verbose_name=_("plan"))
    stripe_id = models.CharField(_("Stripe object"), max_length=255, unique=True)
    payment_intent_id = models.CharField(_("payment intent"), max_length=255, blank=True, db_index=True)
    # A plan invoice's subscription: a proration grants only the difference to its period's grant.
    subscription_id = models.CharField(_("subscription"), max_length=255, blank=True, db_index=True)
    billing_reason = models.CharField(_("billing reason"), max_length=32, blank=True)
    credits = models.PositiveIntegerField(_("credits"))
    amount = models.PositiveIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    # Stripe's fee for the payment (its charge's BalanceTransaction ``fee``, in
    # minor units of ``currency``), read after the grant; None until Stripe said.
    fee = models.PositiveIntegerField(_("Stripe fee (minor units)"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("purchase")
        verbose_name_plural = _("purchases")
        ordering = ["-created_at", "-id"]
        # Staff with it see "Refund via Stripe" on a purchase (billing.admin.PurchaseAdmin).
        permissions = [("refund_purchase", _("Can refund a purchase through Stripe"))]

    def __str__(self) -> str:
        return f"{self.stripe_id} · {self.credits}"

    @property
    def amount_major(self) -> str:
        return f"{self.amount / 100:.2f}"


class RevocationKind(models.TextChoices):
    REFUND = "refund", _("Refund")
    DISPUTE = "dispute", _("Lost dispute")


class Revocation(models.Model):
    """Credits taken back for a refund or a lost dispute. ``shortfall`` is
    what could not be taken because the user had spent it (staff see it)."""

    purchase = models.ForeignKey(Purchase, on_delete=models.PROTECT, related_name="revocations")
    kind = models.CharField(_("kind"), max_length=8, choices=RevocationKind.choices)
    stripe_key = models.CharField(_("Stripe reference"), max_length=255, unique=True)
    amount = models.PositiveIntegerField(_("amount refunded (minor units)"), default=0)
    credits_due = models.PositiveIntegerField(_("credits due"))
    credits_taken = models.PositiveIntegerField(_("credits taken"))
    shortfall = models.PositiveIntegerField(_("shortfall"), default=0)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("revocation")
        verbose_name_plural = _("revocations")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.stripe_key}: -{self.credits_taken} (short {self.shortfall})"


class PaymentIssue(models.Model):
    """Money Stripe reports that Mirsam could not match (staff's "needs
    attention" list): a paid Checkout Session or invoice that names no user
    or nothing we sell, a refund or dispute of a payment we never granted.
    One row per Stripe object (``stripe_id``), whichever path saw it first
    (webhook or reconciliation); staff resolve it, e.g. with an adjustment."""

    class Kind(models.TextChoices):
        UNMATCHED_CHECKOUT = "checkout", _("Paid checkout that matches nothing")
        UNMATCHED_INVOICE = "invoice", _("Paid invoice that matches nothing")
        UNMATCHED_REVERSAL = "reversal", _("Refund or dispute of a payment never granted")
        UNPROCESSED_EVENT = "event", _("Stripe event that cannot be processed")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    stripe_id = models.CharField(_("Stripe object"), max_length=255, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("user"),
    )
    amount = models.PositiveIntegerField(_("amount (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    detail = models.CharField(_("what is wrong"), max_length=255)
    # A refund or dispute that came before the grant of its payment waits here
    # and is applied when the grant comes (billing.services): the payment it
    # reverses, and the Stripe object (charge or dispute) as it was received.
    payment_intent_id = models.CharField(_("payment intent"), max_length=255, blank=True, db_index=True)
    payment_stripe_id = models.CharField(
        _("paid object"), max_length=255, blank=True, db_index=True, help_text=_("The invoice, when known.")
    )
    stripe_object = models.JSONField(_("Stripe object"), default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("resolved by"),
    )
    resolution = models.CharField(_("resolution"), max_length=255, blank=True)

    class Meta:
        verbose_name = _("payment that needs attention")
        verbose_name_plural = _("payments that need attention")
        ordering = ["resolved_at", "-created_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.stripe_id}"
