"""CSV exports for finance: purchases, revocations and the ledger, streamed
(one row at a time from a server-side cursor, so an export of millions of
entries does not sit in memory). Staff only, each with the view permission of
what it exports; ``?since=`` / ``?until=`` (YYYY-MM-DD, UTC) bound the rows.
Money is in minor units with its currency; credits are whole numbers."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, StreamingHttpResponse

from billing.models import Purchase, Revocation
from credits.models import LedgerEntry


@dataclass(frozen=True)
class Export:
    permission: str
    header: tuple[str, ...]
    rows: Callable[[], QuerySet[Any]]
    row: Callable[[Any], Iterable[object]]
    stamp: str = "created_at"


EXPORTS: dict[str, Export] = {
    "purchases": Export(
        "billing.view_purchase",
        ("time", "user", "kind", "stripe_id", "payment_intent", "credits", "amount_minor", "currency"),
        lambda: Purchase.objects.select_related("user").order_by("created_at", "id"),
        lambda p: (
            p.created_at.isoformat(),
            p.user.email,
            p.kind,
            p.stripe_id,
            p.payment_intent_id,
            p.credits,
            p.amount,
            p.currency,
        ),
    ),
    "revocations": Export(
        "billing.view_revocation",
        (
            "time",
            "user",
            "kind",
            "stripe_key",
            "purchase",
            "refunded_minor",
            "currency",
            "credits_due",
            "credits_taken",
            "shortfall",
        ),
        lambda: Revocation.objects.select_related("purchase__user").order_by("created_at", "id"),
        lambda r: (
            r.created_at.isoformat(),
            r.purchase.user.email,
            r.kind,
            r.stripe_key,
            r.purchase.stripe_id,
            r.amount,
            r.purchase.currency,
            r.credits_due,
            r.credits_taken,
            r.shortfall,
        ),
    ),
    "ledger": Export(
        "credits.view_ledgerentry",
        (
            "time",
            "user",
            "kind",
            "amount",
            "held_delta",
            "owed_delta",
            "balance_after",
            "held_after",
            "reason",
            "reference",
            "actor",
        ),
        lambda: LedgerEntry.objects.select_related("wallet__user", "actor").order_by("created_at", "id"),
        lambda e: (
            e.created_at.isoformat(),
            e.wallet.user.email,
            e.kind,
            e.amount,
            e.held_delta,
            e.owed_delta,
            e.balance_after,
            e.held_after,
            e.reason,
            e.reference,
            e.actor.email if e.actor else "",
        ),
    ),
}


class _Echo:
    """A file-like object whose ``write`` returns what it is given (csv → stream)."""

    def write(self, value: str) -> str:
        return value


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise Http404 from None


def export_csv(request: HttpRequest, what: str) -> StreamingHttpResponse:
    """``GET <admin>/exports/<what>.csv``: one of :data:`EXPORTS`, streamed."""
    export = EXPORTS.get(what)
    if export is None:
        raise Http404
    if not request.user.has_perm(export.permission):
        raise PermissionDenied
    rows = export.rows()
    since, until = _day(request.GET.get("since")), _day(request.GET.get("until"))
    if since:
        rows = rows.filter(**{f"{export.stamp}__gte": since})
    if until:
        rows = rows.filter(**{f"{export.stamp}__lt": until + timedelta(days=1)})
    writer = csv.writer(_Echo())

    def lines() -> Iterator[str]:
        yield writer.writerow(export.header)
        for obj in rows.iterator(chunk_size=2000):
            yield writer.writerow(export.row(obj))

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mirsam-{what}.csv"'
    return response
