"""The credits ledger: one wallet per user and an append-only list of entries.

Invariants (docs/architecture.md, "The credits ledger"):

* credits are whole numbers;
* ``wallet.balance == sum(entry.amount)``, ``wallet.held == sum(entry.held_delta)``
  and ``wallet.owed == sum(entry.owed_delta)`` over the wallet's entries,
  always (``check_ledger`` verifies it);
* ``0 <= held <= balance`` (database check constraints);
* entries are never updated or deleted; ``idempotency_key`` is unique, so a
  repeated operation finds its earlier entry instead of counting twice.

Only ``credits.services`` writes these tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Wallet(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet", verbose_name=_("user")
    )
    balance = models.BigIntegerField(_("balance"), default=0, help_text=_("Credits owned, including held ones."))
    held = models.BigIntegerField(_("held"), default=0, help_text=_("Credits reserved by running jobs."))
    owed = models.BigIntegerField(
        _("owed"),
        default=0,
        help_text=_("Credits a refund or lost dispute took back that had been spent; new credits pay them first."),
    )
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        verbose_name = _("wallet")
        verbose_name_plural = _("wallets")
        constraints = [
            models.CheckConstraint(condition=Q(balance__gte=0), name="wallet_balance_not_negative"),
            models.CheckConstraint(condition=Q(held__gte=0), name="wallet_held_not_negative"),
            models.CheckConstraint(condition=Q(held__lte=F("balance")), name="wallet_held_within_balance"),
            models.CheckConstraint(condition=Q(owed__gte=0), name="wallet_owed_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.user} · {self.balance}"

    @property
    def available(self) -> int:
        """Credits that can be spent or held now: ``balance - held``."""
        return self.balance - self.held


class EntryKind(models.TextChoices):
    GRANT = "grant", _("Grant")
    PURCHASE = "purchase", _("Purchase")
    SUBSCRIPTION_GRANT = "subscription_grant", _("Plan credits")
    HOLD = "hold", _("Hold")
    CAPTURE = "capture", _("Charge")
    RELEASE = "release", _("Release")
    REFUND = "refund", _("Refund")
    ADJUSTMENT = "adjustment", _("Adjustment")
    JOB_REFUND = "job_refund", _("Job refund")
    EXPIRY = "expiry", _("Expiry")
    SETTLEMENT = "settlement", _("Owed credits paid")


class LedgerEntry(models.Model):
    """One change to a wallet.

    ``amount`` is the signed change to ``balance`` and ``held_delta`` the signed
    change to ``held``: a hold is ``(0, +n)``, a capture ``(-n, -n)``, a release
    ``(0, -n)``, a grant ``(+n, 0)``. ``owed_delta`` changes ``wallet.owed``: a
    revocation that found too few credits owes the rest (``+n``), a later
    grant pays it (a settlement, ``-n`` with the amount). ``balance_after`` and
    ``held_after`` are the wallet right after this entry.
    """

    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="entries", verbose_name=_("wallet"))
    kind = models.CharField(_("kind"), max_length=32, choices=EntryKind.choices)
    amount = models.BigIntegerField(_("amount"))
    held_delta = models.BigIntegerField(_("held change"), default=0)
    owed_delta = models.BigIntegerField(_("owed change"), default=0)
    balance_after = models.BigIntegerField(_("balance after"))
    held_after = models.BigIntegerField(_("held after"))
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    # What the entry is about: "job:42", "stripe:cs_123", "signup", …
    reference = models.CharField(_("reference"), max_length=128, blank=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("actor"),
        help_text=_("The staff member who made this change, if any."),
    )
    hold = models.ForeignKey(
        "Hold", on_delete=models.PROTECT, null=True, blank=True, related_name="entries", verbose_name=_("hold")
    )
    idempotency_key = models.CharField(_("idempotency key"), max_length=200, unique=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    #: How the entry reads on its owner's history, set by ``credits.describe`` (not stored).
    description: str

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="entry_balance_after_not_negative"),
            models.CheckConstraint(condition=Q(held_after__gte=0), name="entry_held_after_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount:+d} ({self.reference})"

    @property
    def available_delta(self) -> int:
        """The change to what the user could spend: a hold shows as ``-n``."""
        return self.amount - self.held_delta

    @property
    def available_after(self) -> int:
        return self.balance_after - self.held_after


class HoldStatus(models.TextChoices):
    OPEN = "open", _("Open")
    CAPTURED = "captured", _("Captured")
    RELEASED = "released", _("Released")


class Hold(models.Model):
    """Credits reserved for one piece of work until it is captured or released."""

    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="holds", verbose_name=_("wallet"))
    amount = models.BigIntegerField(_("amount"))
    captured_amount = models.BigIntegerField(_("captured"), default=0)
    status = models.CharField(_("status"), max_length=16, choices=HoldStatus.choices, default=HoldStatus.OPEN)
    reference = models.CharField(_("reference"), max_length=128, db_index=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(captured_amount__gte=0) & Q(captured_amount__lte=F("amount")),
                name="hold_captured_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.reference} · {self.amount} · {self.status}"


class LotSource(models.TextChoices):
    SIGNUP = "signup", _("Sign-up bonus")
    PURCHASE = "purchase", _("Credit pack")
    PLAN = "plan", _("Plan credits")
    ADJUSTMENT = "adjustment", _("Adjustment")
    JOB_REFUND = "job_refund", _("Job refund")
    GRANT = "grant", _("Grant")
    LEGACY = "legacy", _("Balance before lots")


class CreditLot(models.Model):
    """Credits that came in together (one grant): where from, what was paid
    for them (``money_minor`` in minor units of ``currency`` for all
    ``credits``; 0 for free credits) and when they expire (``None``: never).

    ``remaining`` is what is left unspent; over a wallet's lots it sums to the
    wallet's balance (``check_ledger``). Spending takes lots in a fixed order
    (``credits.services``: expiring first, then free, then paid; oldest first)
    and writes a :class:`LotUse` per lot, so money is recognised at the price
    actually paid."""

    wallet = models.ForeignKey(Wallet, on_delete=models.CASCADE, related_name="lots", verbose_name=_("wallet"))
    entry = models.OneToOneField(
        LedgerEntry, on_delete=models.PROTECT, null=True, blank=True, related_name="lot", verbose_name=_("grant")
    )
    source = models.CharField(_("source"), max_length=16, choices=LotSource.choices)
    credits = models.BigIntegerField(_("credits"))
    remaining = models.BigIntegerField(_("remaining"))
    money_minor = models.BigIntegerField(_("paid (minor units)"), default=0)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True, db_index=True)
    expiry_notice_at = models.DateTimeField(_("expiry notice shown"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("credit lot")
        verbose_name_plural = _("credit lots")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(credits__gt=0), name="lot_credits_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("credits")), name="lot_remaining_within_credits"
            ),
            models.CheckConstraint(condition=Q(money_minor__gte=0), name="lot_money_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_source_display()} · {self.remaining}/{self.credits}"

    def money_used_after(self, remaining: int) -> int:
        """Money (minor units) that ``credits - remaining`` used credits stand
        for: ``money_minor × used / credits`` rounded down, so the uses of a
        lot add up to exactly ``money_minor`` once it is used up."""
        return self.money_minor * (self.credits - remaining) // self.credits


class LotUseKind(models.TextChoices):
    SPEND = "spend", _("Spent on a job")
    EXPIRY = "expiry", _("Expired")
    REFUND = "refund", _("Taken back for a refund or dispute")
    REVERSAL = "reversal", _("Refunded after being spent")
    SETTLEMENT = "settlement", _("Paid owed credits")
    ADJUSTMENT = "adjustment", _("Taken away by staff")


class LotUse(models.Model):
    """``credits`` of one lot used by one ledger entry, and the money
    (``money_minor``, the lot's currency) they stand for. Spend, expiry,
    settlement and adjustment uses are recognised revenue; refund uses are
    money returned for credits taken back. A reversal (``credits`` 0) is
    money refunded for credits already spent: it is returned money and
    negative revenue."""

    lot = models.ForeignKey(CreditLot, on_delete=models.PROTECT, related_name="uses", verbose_name=_("lot"))
    entry = models.ForeignKey(LedgerEntry, on_delete=models.PROTECT, related_name="lot_uses", verbose_name=_("entry"))
    kind = models.CharField(_("kind"), max_length=16, choices=LotUseKind.choices)
    credits = models.BigIntegerField(_("credits"))
    money_minor = models.BigIntegerField(_("money (minor units)"))
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("lot use")
        verbose_name_plural = _("lot uses")
        constraints = [
            models.CheckConstraint(condition=Q(credits__gte=0), name="lot_use_credits_not_negative"),
            models.CheckConstraint(condition=Q(money_minor__gte=0), name="lot_use_money_not_negative"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.credits}"
