"""Read queries over the ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING

from django.apps import apps
from django.db.models import Min, QuerySet, Sum
from django.utils.module_loading import module_has_submodule

from .models import CreditLot, EntryKind, LedgerEntry, Wallet

if TYPE_CHECKING:
    from accounts.models import User


#: Entries that mean the user paid for credits (a pack, a plan's period).
PAID_KINDS = (EntryKind.PURCHASE, EntryKind.SUBSCRIPTION_GRANT)


def has_paid(*, user: User) -> bool:
    """Whether ``user`` ever bought credits: a ledger entry of a
    :data:`PAID_KINDS` kind (grants, the sign-up bonus and staff adjustments
    do not count)."""
    return LedgerEntry.objects.filter(wallet__user=user, kind__in=PAID_KINDS).exists()


def entries_for_user(*, user: User) -> QuerySet[LedgerEntry]:
    """The user's ledger entries, newest first."""
    return LedgerEntry.objects.filter(wallet__user=user).order_by("-created_at", "-id")


@dataclass(frozen=True)
class Drift:
    """A wallet whose stored totals differ from the sum of its entries."""

    wallet_id: int
    user: str
    balance: int
    held: int
    ledger_balance: int
    ledger_held: int
    owed: int = 0
    ledger_owed: int = 0


def ledger_problems() -> list[str]:
    """What other apps find wrong with the money they keep in the ledger: each
    app may have a ``ledger_checks`` module whose ``problems()`` returns one
    line per problem (generation: open holds of final or deleted jobs). The
    ledger itself knows no jobs; this is how ``check_ledger`` asks."""
    lines: list[str] = []
    for app in apps.get_app_configs():
        if module_has_submodule(app.module, "ledger_checks"):
            lines += import_module(f"{app.name}.ledger_checks").problems()
    return lines


def ledger_drift() -> list[Drift]:
    """Every wallet whose ``balance``/``held`` differ from its entries' sums
    (``sum(amount)``, ``sum(held_delta)``), or whose ``owed`` differs from
    ``sum(owed_delta)``. Empty when the ledger is clean."""
    sums = {
        row["wallet"]: row
        for row in LedgerEntry.objects.values("wallet").annotate(
            b=Sum("amount"), h=Sum("held_delta"), o=Sum("owed_delta")
        )
    }
    drifts = []
    for wallet in Wallet.objects.select_related("user").iterator():
        row = sums.get(wallet.pk, {"b": 0, "h": 0, "o": 0})
        if (row["b"] or 0, row["h"] or 0, row["o"] or 0) != (wallet.balance, wallet.held, wallet.owed):
            drifts.append(
                Drift(
                    wallet.pk,
                    str(wallet.user),
                    wallet.balance,
                    wallet.held,
                    row["b"] or 0,
                    row["h"] or 0,
                    wallet.owed,
                    row["o"] or 0,
                )
            )
    return drifts


@dataclass(frozen=True)
class Expiring:
    """Credits of the user's that expire soon (lots told by
    ``lots_notify_expiring``): ``credits`` in all, the first on ``first``."""

    credits: int
    first: datetime


def credits_expiring_soon(*, user: User) -> Expiring | None:
    """What the user was told will expire (the dashboard's notice), or ``None``."""
    from django.utils import timezone

    lots = CreditLot.objects.filter(
        wallet__user=user, expiry_notice_at__isnull=False, expires_at__gt=timezone.now(), remaining__gt=0
    ).aggregate(credits=Sum("remaining"), first=Min("expires_at"))
    if not lots["credits"]:
        return None
    return Expiring(credits=lots["credits"], first=lots["first"])


@dataclass(frozen=True)
class LotMoney:
    """Money per currency as the lots account for it, in minor units:
    ``received`` (paid for lots), ``revenue`` (recognised for credits spent,
    expired or taken away, less reversals), ``refunded`` (for credits taken
    back, plus reversals) and ``liability`` (paid for credits not used yet).
    ``revenue + liability == received - refunded`` always."""

    currency: str
    received: int
    revenue: int
    refunded: int
    liability: int


def lot_money() -> list[LotMoney]:
    """:class:`LotMoney` for every currency lots were paid in (two queries)."""
    from .models import LotUse, LotUseKind
    from .services import REVENUE_USES

    received = {
        row["currency"]: row["m"]
        for row in CreditLot.objects.filter(money_minor__gt=0).values("currency").annotate(m=Sum("money_minor"))
    }
    uses: dict[str, dict[str, int]] = {}
    for row in LotUse.objects.values("lot__currency", "kind").annotate(m=Sum("money_minor")):
        uses.setdefault(row["lot__currency"], {})[row["kind"]] = row["m"]
    rows = []
    for currency in sorted(received):
        by_kind = uses.get(currency, {})
        recognised = sum(by_kind.get(k, 0) for k in REVENUE_USES)
        reversed_ = by_kind.get(LotUseKind.REVERSAL, 0)
        returned = by_kind.get(LotUseKind.REFUND, 0)
        rows.append(
            LotMoney(
                currency=currency,
                received=received[currency],
                revenue=recognised - reversed_,
                refunded=returned + reversed_,
                liability=received[currency] - recognised - returned,
            )
        )
    return rows
