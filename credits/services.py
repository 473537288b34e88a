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
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .models import EntryKind, Hold, HoldStatus, LedgerEntry, Wallet

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


def _settle_owed(wallet: Wallet, *, idempotency_key: str, reference: str = "") -> None:
    """Credits that just became available pay what the locked wallet owes
    (a settlement entry: ``-n`` balance, ``-n`` owed). Caller holds the lock."""
    settle = min(wallet.owed, wallet.available)
    if settle > 0:
        _apply(
            wallet,
            _Change(EntryKind.SETTLEMENT, -settle, 0, -settle),
            idempotency_key=idempotency_key,
            reason=_("Credits owed from a refunded or disputed payment"),
            reference=reference,
        )


def credits_grant(
    *,
    user: User,
    amount: int,
    idempotency_key: str,
    reason: str,
    kind: str = EntryKind.GRANT,
    reference: str = "",
    actor: User | None = None,
) -> LedgerEntry:
    """Add ``amount`` (> 0) credits to the user's balance.

    ``kind`` is one of grant, purchase or subscription_grant. Returns the new
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
            _apply(
                wallet,
                _Change(EntryKind.CAPTURE, -charge, -charge),
                idempotency_key=f"capture:{hold.reference}",
                reason=reason,
                reference=hold.reference,
                hold=hold,
            )
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
) -> tuple[LedgerEntry | None, int]:
    """Take back up to ``amount`` (> 0) credits, e.g. for a refunded payment.

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
        return entry, amount - taken
