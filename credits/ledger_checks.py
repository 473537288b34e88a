"""What ``check_ledger`` verifies about credit lots (credits.selectors.ledger_problems
reads this module's ``problems``): every wallet's lots hold exactly its
balance, every lot's uses account for exactly the credits it lost, and no lot
has recognised or returned more money than was paid for it (nor reversed
more revenue than it recognised)."""

from __future__ import annotations

from django.db.models import Q, Sum

from .models import CreditLot, LotUseKind, Wallet
from .services import REVENUE_USES


def problems() -> list[str]:
    """One line per wallet or lot that breaks a lot invariant."""
    lines = []
    remaining = {row["wallet"]: row["r"] for row in CreditLot.objects.values("wallet").annotate(r=Sum("remaining"))}
    for wallet_id, balance in Wallet.objects.values_list("pk", "balance"):
        if remaining.get(wallet_id, 0) != balance:
            lines.append(f"LOTS wallet={wallet_id}: lots hold {remaining.get(wallet_id, 0)}, balance is {balance}")
    lots = CreditLot.objects.annotate(
        used=Sum("uses__credits", filter=~Q(uses__kind=LotUseKind.REVERSAL), default=0),
        money_used=Sum("uses__money_minor", filter=~Q(uses__kind=LotUseKind.REVERSAL), default=0),
        revenue=Sum("uses__money_minor", filter=Q(uses__kind__in=REVENUE_USES), default=0),
        reversed=Sum("uses__money_minor", filter=Q(uses__kind=LotUseKind.REVERSAL), default=0),
    )
    for lot in lots:
        if lot.used != lot.credits - lot.remaining:
            lines.append(f"LOT lot={lot.pk}: uses take {lot.used} credits, the lot lost {lot.credits - lot.remaining}")
        if lot.money_used > lot.money_minor:
            lines.append(f"LOT lot={lot.pk}: uses account for {lot.money_used} of {lot.money_minor} paid")
        if lot.reversed > lot.revenue:
            lines.append(f"LOT lot={lot.pk}: {lot.reversed} reversed of {lot.revenue} recognised")
    return lines
