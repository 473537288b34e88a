"""Every change to a balance goes through these functions.

Each one runs in one transaction, locks the wallet row (``select_for_update``)
before reading it, writes exactly one ledger entry per change, and is
idempotent: called again with the same idempotency key (or on a hold that is
no longer open) it returns what the first call did and changes nothing.

Amounts are whole credits. Errors raised: :class:`InsufficientCredits` when
the available balance does not cover an amount, :class:`CreditsError` for
other refused operations (zero or negative amounts where a positive one is
required). Both carry a translatable message for the user.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Sum, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import CreditLot, EntryKind, Hold, HoldStatus, LedgerEntry, LotSource, LotUse, LotUseKind, Wallet

if TYPE_CHECKING:
    # Only for annotations: credits' models name settings.AUTH_USER_MODEL, and
    # nothing here needs the accounts app at run time.
    from accounts.models import User


class CreditsError(Exception):
    """A refused credits operation; ``message`` is safe to show the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InsufficientCredits(CreditsError):
    def __init__(self, *, needed: int, available: int) -> None:
        super().__init__(
            _("This needs %(needed)d credits but you have %(available)d available.")
            % {"needed": needed, "available": available}
        )
        self.needed = needed
        self.available = available


class CreditsOwed(InsufficientCredits):
    """The wallet owes ``owed`` credits (a refunded or lost-dispute payment
    whose credits were spent): nothing new can be started until new credits
    pay them. An :class:`InsufficientCredits`, so it is offered a way to buy."""

    def __init__(self, *, owed: int) -> None:
        CreditsError.__init__(
            self,
            ngettext(
                "You owe %(owed)d credit from a refunded or disputed payment. Buy credits to go on creating.",
                "You owe %(owed)d credits from a refunded or disputed payment. Buy credits to go on creating.",
                owed,
            )
            % {"owed": owed},
        )
        self.owed = owed
        self.needed, self.available = 0, 0


@dataclass(frozen=True)
class _Change:
    kind: str
    amount: int
    held_delta: int
    owed_delta: int = 0


def wallet_for(user: User) -> Wallet:
    """The user's wallet, created empty on first use (no lock)."""
    wallet, _created = Wallet.objects.get_or_create(user=user)
    return wallet


def wallet_lock(*, user: User) -> Wallet:
    """Lock ``user``'s wallet row until the current transaction ends (call
    inside ``transaction.atomic``), creating it if needed. For a rule that
    must see the user's state without a rival request changing it meanwhile
    (generation's limit on concurrent jobs from free credits); changes no
    balance."""
    return _lock_wallet(user)


def _lock_wallet(user: User) -> Wallet:
    # The wallet usually exists: lock it in one statement. A first use creates
    # it, which may race with itself; the unique user constraint makes the
    # loser (rolled back to its savepoint) lock the winner's row.
    try:
        return Wallet.objects.select_for_update().get(user=user)
    except Wallet.DoesNotExist:
        pass
    try:
        with transaction.atomic():
            Wallet.objects.create(user=user)
    except IntegrityError:
        pass
    return Wallet.objects.select_for_update().get(user=user)


def _apply(
    wallet: Wallet,
    change: _Change,
    *,
    idempotency_key: str,
    reason: str = "",
    reference: str = "",
    actor: User | None = None,
    hold: Hold | None = None,
) -> LedgerEntry:
    """Write one entry and update the locked wallet. Caller holds the lock."""
    wallet.balance += change.amount
    wallet.held += change.held_delta
    wallet.owed += change.owed_delta
    if wallet.balance < 0 or wallet.held < 0 or wallet.held > wallet.balance or wallet.owed < 0:
        raise CreditsError(_("This change would leave the wallet inconsistent."))
    wallet.save(update_fields=["balance", "held", "owed", "updated_at"])
    return LedgerEntry.objects.create(
        wallet=wallet,
        kind=change.kind,
        amount=change.amount,
        held_delta=change.held_delta,
        owed_delta=change.owed_delta,
        balance_after=wallet.balance,
        held_after=wallet.held,
        reason=reason[:255],
        reference=reference[:128],
        actor=actor,
        hold=hold,
        idempotency_key=idempotency_key,
    )


_SOURCE_OF_KIND: dict[str, str] = {
    EntryKind.GRANT: LotSource.GRANT,
    EntryKind.PURCHASE: LotSource.PURCHASE,
    EntryKind.SUBSCRIPTION_GRANT: LotSource.PLAN,
    EntryKind.JOB_REFUND: LotSource.JOB_REFUND,
    EntryKind.ADJUSTMENT: LotSource.ADJUSTMENT,
}


def _lot_add(
    wallet: Wallet,
    entry: LedgerEntry,
    *,
    source: str,
    money_minor: int = 0,
    currency: str = "",
    expires_at: datetime | None = None,
) -> CreditLot:
    """The lot of a grant entry (``entry.amount`` credits). Caller holds the lock."""
    if money_minor < 0:
        raise CreditsError(_("A lot cannot cost less than nothing."))
    return CreditLot.objects.create(
        wallet=wallet,
        entry=entry,
        source=source,
        credits=entry.amount,
        remaining=entry.amount,
        money_minor=money_minor,
        currency=currency if money_minor else "",
        expires_at=expires_at,
    )


def _lot_use(lot: CreditLot, entry: LedgerEntry, credits: int, kind: str) -> LotUse:
    """Take ``credits`` from ``lot`` for ``entry``, with the money they stand for."""
    before = lot.money_used_after(lot.remaining)
    lot.remaining -= credits
    lot.save(update_fields=["remaining"])
    return LotUse.objects.create(
        lot=lot, entry=entry, kind=kind, credits=credits, money_minor=lot.money_used_after(lot.remaining) - before
    )


def _lots_consume(wallet: Wallet, entry: LedgerEntry, credits: int, kind: str, *, first: str = "") -> list[LotUse]:
    """Take ``credits`` from the wallet's lots in the fixed order: the lots
    of the grant referenced ``first`` (a refunded purchase's own), then those
    that expire (soonest first), then free ones, then paid ones; oldest first
    within each. Caller holds the wallet lock; the lots always cover the
    balance (``sum(remaining) == balance``)."""
    lots = list(
        wallet.lots.select_for_update(of=("self",))
        .filter(remaining__gt=0)
        .select_related("entry")
        .annotate(paid=Case(When(money_minor__gt=0, then=Value(1)), default=Value(0)))
        .order_by(F("expires_at").asc(nulls_last=True), "paid", "created_at", "id")
    )
    if first:
        lots.sort(key=lambda lot: lot.entry is None or lot.entry.reference != first)  # stable: order kept otherwise
    uses = []
    for lot in lots:
        if credits <= 0:
            break
        take = min(credits, lot.remaining)
        uses.append(_lot_use(lot, entry, take, kind))
        credits -= take
    if credits > 0:
        raise CreditsError(_("This change would leave the wallet inconsistent."))
    return uses


def _settle_owed(wallet: Wallet, *, idempotency_key: str, reference: str = "") -> None:
    """Credits that just became available pay what the locked wallet owes
    (a settlement entry: ``-n`` balance, ``-n`` owed). Caller holds the lock."""
    settle = min(wallet.owed, wallet.available)
    if settle > 0:
        entry = _apply(
            wallet,
            _Change(EntryKind.SETTLEMENT, -settle, 0, -settle),
            idempotency_key=idempotency_key,
            reason=_("Credits owed from a refunded or disputed payment"),
            reference=reference,
        )
        _lots_consume(wallet, entry, settle, LotUseKind.SETTLEMENT)


def credits_grant(
    *,
    user: User,
    amount: int,
    idempotency_key: str,
    reason: str,
    kind: str = EntryKind.GRANT,
    reference: str = "",
    actor: User | None = None,
    source: str = "",
    money_minor: int = 0,
    currency: str = "",
    expires_at: datetime | None = None,
) -> LedgerEntry:
    """Add ``amount`` (> 0) credits to the user's balance, as one lot.

    ``kind`` is one of grant, purchase, subscription_grant or job_refund. The
    lot records ``source`` (default: from ``kind``), what was paid for the
    credits (``money_minor`` in minor units of ``currency``, from Stripe;
    0 for free credits) and ``expires_at`` (``None``: never). Returns the new
    entry, or the earlier one when ``idempotency_key`` was used before. When
    the wallet owes credits (``Wallet.owed``), the new ones pay that first: a
    second entry, kind settlement, key ``<idempotency_key>:settle``.
    """
    if amount <= 0:
        raise CreditsError(_("A grant must be a positive number of credits."))
    with transaction.atomic():
        wallet = _lock_wallet(user)
        existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
        entry = _apply(
            wallet,
            _Change(kind, amount, 0),
            idempotency_key=idempotency_key,
            reason=reason,
            reference=reference,
            actor=actor,
        )
        _lot_add(
            wallet,
            entry,
            source=source or _SOURCE_OF_KIND.get(kind, LotSource.GRANT),
            money_minor=money_minor,
            currency=currency,
            expires_at=expires_at,
        )
        _settle_owed(wallet, idempotency_key=f"{idempotency_key}:settle", reference=reference)
        return entry


def credits_adjust(
    *,
    user: User,
    amount: int,
    reason: str,
    actor: User | None,
    idempotency_key: str | None = None,
) -> LedgerEntry:
    """A staff adjustment of ``amount`` credits (positive or negative).

    A negative adjustment may take at most the available credits (held ones
    belong to running jobs): raises :class:`InsufficientCredits` otherwise, so
    no wallet goes below zero. ``reason`` is required.
    """
    if amount == 0:
        raise CreditsError(_("An adjustment must change the balance."))
    if not reason.strip():
        raise CreditsError(_("An adjustment needs a reason."))
    with transaction.atomic():
        wallet = _lock_wallet(user)
        key = idempotency_key or f"adjust:{uuid.uuid4()}"
        existing = LedgerEntry.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return existing
        if amount < 0 and -amount > wallet.available:
            raise InsufficientCredits(needed=-amount, available=wallet.available)
        entry = _apply(
            wallet,
            _Change(EntryKind.ADJUSTMENT, amount, 0),
            idempotency_key=key,
            reason=reason,
            reference=f"staff:{actor.pk}" if actor is not None else "",
            actor=actor,
        )
        if amount > 0:
            _lot_add(wallet, entry, source=LotSource.ADJUSTMENT)
        else:
            _lots_consume(wallet, entry, -amount, LotUseKind.ADJUSTMENT)
        _settle_owed(wallet, idempotency_key=f"{key}:settle", reference=entry.reference)
        return entry


def credits_hold(*, user: User, amount: int, reference: str, reason: str = "", while_owing: bool = False) -> Hold:
    """Reserve ``amount`` (> 0) credits for the work named by ``reference``
    (e.g. ``"job:42"``; one hold per reference).

    Raises :class:`InsufficientCredits` when ``balance - held < amount``, and
    :class:`CreditsOwed` while the wallet owes credits (unless
    ``while_owing``: a hold that spends nothing, such as a dispute's freeze).
    Returns the open hold (or the existing one for this reference).
    """
    if amount <= 0:
        raise CreditsError(_("A hold must be a positive number of credits."))
    key = f"hold:{reference}"
    with transaction.atomic():
        wallet = _lock_wallet(user)
        existing = LedgerEntry.objects.filter(idempotency_key=key).select_related("hold").first()
        if existing is not None and existing.hold is not None:
            return existing.hold
        if wallet.owed > 0 and not while_owing:
            raise CreditsOwed(owed=wallet.owed)
        if wallet.available < amount:
            raise InsufficientCredits(needed=amount, available=wallet.available)
        hold = Hold.objects.create(wallet=wallet, amount=amount, reference=reference)
        _apply(
            wallet,
            _Change(EntryKind.HOLD, 0, amount),
            idempotency_key=key,
            reason=reason,
            reference=reference,
            hold=hold,
        )
        return hold


def _lock_open_hold(hold: Hold) -> tuple[Wallet, Hold]:
    # Lock order is always wallet then hold, the same as credits_hold.
    wallet = Wallet.objects.select_for_update().get(pk=hold.wallet_id)
    locked = Hold.objects.select_for_update().get(pk=hold.pk)
    return wallet, locked


def credits_capture(*, hold: Hold, amount: int | None = None, reason: str = "") -> Hold:
    """Charge ``amount`` credits of an open hold (default: all of it) and
    release the rest. A hold that is no longer open is returned unchanged,
    so a repeated capture (a duplicated callback) never charges twice.
    """
    with transaction.atomic():
        wallet, hold = _lock_open_hold(hold)
        if hold.status != HoldStatus.OPEN:
            return hold
        charge = hold.amount if amount is None else amount
        if not 0 <= charge <= hold.amount:
            raise CreditsError(_("A capture cannot exceed its hold."))
        if charge:
            entry = _apply(
                wallet,
                _Change(EntryKind.CAPTURE, -charge, -charge),
                idempotency_key=f"capture:{hold.reference}",
                reason=reason,
                reference=hold.reference,
                hold=hold,
            )
            _lots_consume(wallet, entry, charge, LotUseKind.SPEND)
        rest = hold.amount - charge
        if rest:
            _apply(
                wallet,
                _Change(EntryKind.RELEASE, 0, -rest),
                idempotency_key=f"release:{hold.reference}",
                reason=reason,
                reference=hold.reference,
                hold=hold,
            )
            _settle_owed(wallet, idempotency_key=f"release:{hold.reference}:settle", reference=hold.reference)
        hold.captured_amount = charge
        hold.status = HoldStatus.CAPTURED if charge else HoldStatus.RELEASED
        hold.closed_at = timezone.now()
        hold.save(update_fields=["captured_amount", "status", "closed_at"])
        return hold


def credits_release(*, hold: Hold, reason: str = "") -> Hold:
    """Give back all credits of an open hold; a closed hold is returned unchanged."""
    return credits_capture(hold=hold, amount=0, reason=reason)


def credits_revoke(
    *,
    user: User,
    amount: int,
    idempotency_key: str,
    reason: str,
    reference: str = "",
    refund_minor: int = 0,
) -> tuple[LedgerEntry | None, int]:
    """Take back up to ``amount`` (> 0) credits, e.g. for a refunded payment.

    The credits come from the lot granted with ``reference`` first (the
    refunded purchase's own), then in the usual order. ``refund_minor`` is the
    money Stripe returned for this revocation (minor units of that lot's
    currency): what exceeds the value of the credits taken back from that lot
    had been spent, and is recorded as a reversal of its revenue.

    Only available credits are taken (held ones belong to running jobs), so
    the wallet never goes below zero; the credits that could not be taken are
    owed (``Wallet.owed``): the user can start no job until a grant pays them.
    Returns ``(entry, shortfall)``: the one ledger entry (``-taken`` credits,
    ``+shortfall`` owed; ``None`` only when neither moved) and the credits
    that could not be taken. Repeating the key returns the first outcome.
    """
    if amount <= 0:
        raise CreditsError(_("A revocation must be a positive number of credits."))
    with transaction.atomic():
        wallet = _lock_wallet(user)
        existing = LedgerEntry.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing, amount + existing.amount
        taken = min(amount, wallet.available)
        entry = _apply(
            wallet,
            _Change(EntryKind.REFUND, -taken, 0, amount - taken),
            idempotency_key=idempotency_key,
            reason=reason,
            reference=reference,
        )
        uses = _lots_consume(wallet, entry, taken, LotUseKind.REFUND, first=reference) if taken else []
        if refund_minor > 0 and reference:
            _revenue_reverse(
                wallet,
                entry,
                reference,
                refund_minor - sum(u.money_minor for u in uses if u.lot.entry and u.lot.entry.reference == reference),
            )
        return entry, amount - taken


#: Lot uses that recognise revenue (money earned for credits used up).
REVENUE_USES = (LotUseKind.SPEND, LotUseKind.EXPIRY, LotUseKind.SETTLEMENT, LotUseKind.ADJUSTMENT)


def _revenue_reverse(wallet: Wallet, entry: LedgerEntry, reference: str, money_minor: int) -> None:
    """Money refunded for credits of the lot granted with ``reference`` that
    had already been spent: a reversal use (no credits), at most the revenue
    that lot has recognised and not yet reversed."""
    lot = wallet.lots.filter(entry__reference=reference).first()
    if lot is None or money_minor <= 0:
        return
    sums = {row["kind"]: row["m"] for row in lot.uses.values("kind").annotate(m=Sum("money_minor"))}
    room = sum(sums.get(k, 0) for k in REVENUE_USES) - sums.get(LotUseKind.REVERSAL, 0)
    if room > 0:
        LotUse.objects.create(
            lot=lot, entry=entry, kind=LotUseKind.REVERSAL, credits=0, money_minor=min(money_minor, room)
        )


def lots_notify_expiring(*, now: datetime | None = None) -> int:
    """Mark the lots that expire within ``MIRSAM_CREDIT_EXPIRY_NOTICE_DAYS``
    and still hold credits as told (``expiry_notice_at``), once per lot, and
    touch their wallets so the pages that show the notice render anew.
    Returns how many lots were marked."""
    now = now or timezone.now()
    soon = CreditLot.objects.filter(
        expires_at__gt=now,
        expires_at__lte=now + timedelta(days=settings.MIRSAM_CREDIT_EXPIRY_NOTICE_DAYS),
        remaining__gt=0,
        expiry_notice_at=None,
    )
    wallet_ids = set(soon.values_list("wallet", flat=True))
    marked = soon.update(expiry_notice_at=now)
    if wallet_ids:
        Wallet.objects.filter(pk__in=wallet_ids).update(updated_at=now)
    return marked


def credits_expire(*, now: datetime | None = None) -> int:
    """Expire what is left of every lot whose ``expires_at`` has passed: an
    expiry entry (``-n``) and an expiry use per lot, as far as the credits
    are available (held ones are left to their job, and expire on a later
    run if the job gives them back). Returns the credits expired."""
    now = now or timezone.now()
    expired = 0
    wallets = CreditLot.objects.filter(expires_at__lte=now, remaining__gt=0).values_list("wallet", flat=True)
    for wallet_id in sorted(set(wallets)):
        with transaction.atomic():
            wallet = Wallet.objects.select_for_update().get(pk=wallet_id)
            for lot in wallet.lots.select_for_update().filter(expires_at__lte=now, remaining__gt=0):
                take = min(lot.remaining, wallet.available)
                if take <= 0:
                    continue
                entry = _apply(
                    wallet,
                    _Change(EntryKind.EXPIRY, -take, 0),
                    idempotency_key=f"expiry:{lot.pk}:{lot.remaining}",
                    reason=_("Credits expired"),
                    reference=f"lot:{lot.pk}",
                )
                _lot_use(lot, entry, take, LotUseKind.EXPIRY)
                expired += take
    return expired
