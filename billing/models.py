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


class CreditPack(Offering):
    """A one-time purchase of ``credits`` credits (Checkout ``mode=payment``)."""

    credits = models.PositiveIntegerField(_("credits"), validators=[MinValueValidator(1)])

    # modeltranslation swaps the manager's class at run time (see providers.models.Offer).
    objects: ClassVar[MultilingualManager[CreditPack]]

    class Meta(Offering.Meta):
        verbose_name = _("credit pack")
        verbose_name_plural = _("credit packs")


class Plan(Offering):
    """A monthly subscription granting ``credits_per_period`` on each paid
    invoice (Checkout ``mode=subscription``)."""

    credits_per_period = models.PositiveIntegerField(_("credits per month"), validators=[MinValueValidator(1)])
    interval = models.CharField(_("interval"), max_length=8, default="month", editable=False)

    # modeltranslation swaps the manager's class at run time (see providers.models.Offer).
    objects: ClassVar[MultilingualManager[Plan]]

    class Meta(Offering.Meta):
        verbose_name = _("plan")
        verbose_name_plural = _("plans")


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
    credits = models.PositiveIntegerField(_("credits"))
    amount = models.PositiveIntegerField(_("amount (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
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
