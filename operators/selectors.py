"""Reads for the operator dashboard (the admin index).

Every figure comes from a fixed number of aggregate queries (GROUP BY,
filtered ``Count``/``Sum``, window functions): the number of queries does not
depend on how many users, jobs, payments or provider calls there are. Python
only reshapes the grouped rows (a handful per service, status, currency,
adapter or day), never the rows themselves.

Periods are half-open on the left and closed on the right: a row counts in a
period of ``period_days`` when ``now - period_days < created_at <= now``.
"Today" and the daily series use calendar days in the current time zone
(``TIME_ZONE``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Window,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce, RowNumber, Substr, TruncDate
from django.utils import timezone

from billing.models import PaymentIssue, Purchase, Revocation, RevocationKind
from billing.services import DISPUTE_HOLD_PREFIX
from credits.models import EntryKind, Hold, HoldStatus, LedgerEntry, Wallet
from generation.models import FINAL_JOB_STATUSES, Job, JobStatus, ProviderTask, TaskStatus
from providers import pricing
from providers.base import ProviderError
from providers.kie import KieAdapter
from providers.models import Offer, ProviderCall, Service

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

log = logging.getLogger(__name__)

PERIODS = (7, 30, 90)
DEFAULT_PERIOD = 30
DAILY_DAYS = 30
TOP_MODELS = 8

# Stripe's zero-decimal currencies: their minor unit is the major unit.
# https://docs.stripe.com/currencies#zero-decimal
ZERO_DECIMAL_CURRENCIES = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()  # a readable list
)

# kie.ai's account credits (GET /api/v1/chat/credit, docs/kie.md §1).
KIE_CREDITS_CACHE_KEY = "operators:kie-credits"
KIE_CREDITS_CACHE_SECONDS = 300
KIE_CREDITS_ERROR_CACHE_SECONDS = 60  # a down provider must not slow every admin page
KIE_CREDITS_TIMEOUT_SECONDS = 3.0


def minor_to_major(amount: int, currency: str) -> Decimal:
    """``amount`` minor units of ``currency`` as a major-unit Decimal with the
    currency's decimals (2, or 0 for Stripe's zero-decimal currencies)."""
    if currency.lower() in ZERO_DECIMAL_CURRENCIES:
        return Decimal(amount)
    return (Decimal(amount) / 100).quantize(Decimal("0.01"))


def _percent(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"))


# --- the figures ----------------------------------------------------------------


@dataclass(frozen=True)
class RevenueRow:
    """Money in one currency over the period, in minor units.

    ``gross``: what verified Stripe webhooks recorded as paid (``Purchase.amount``);
    ``refunded``: refunds made in the period (each refund's own share, though
    Stripe reports the refunded total of a charge cumulatively);
    ``disputed``: amounts of disputes lost in the period.
    """

    currency: str
    purchases: int
    credits: int
    gross: int
    refunded: int
    disputed: int

    @property
    def net(self) -> int:
        return self.gross - self.refunded - self.disputed

    @property
    def gross_major(self) -> Decimal:
        return minor_to_major(self.gross, self.currency)

    @property
    def refunded_major(self) -> Decimal:
        return minor_to_major(self.refunded, self.currency)

    @property
    def disputed_major(self) -> Decimal:
        return minor_to_major(self.disputed, self.currency)

    @property
    def net_major(self) -> Decimal:
        return minor_to_major(self.net, self.currency)


@dataclass(frozen=True)
class CreditFigures:
    """Credits moved in the period, from the ledger, all as positive numbers
    except ``adjusted`` (the net of staff adjustments, either sign).

    ``bought`` = purchase + subscription_grant entries; ``granted`` = grant
    entries (sign-up bonus, promotions); ``spent`` = captured by jobs;
    ``returned`` = released from holds (failed or partly delivered jobs);
    ``taken_back`` = revoked for refunded or disputed payments;
    ``refunded_by_staff`` = job refunds made by staff.
    """

    bought: int
    granted: int
    adjusted: int
    spent: int
    returned: int
    taken_back: int
    refunded_by_staff: int


@dataclass(frozen=True)
class JobsRow:
    service: str
    label: StrOrPromise  # translated when shown
    counts: tuple[int, ...]  # in the order of DashboardFigures.job_statuses

    @property
    def total(self) -> int:
        return sum(self.counts)


@dataclass(frozen=True)
class ModelRow:
    """One catalogue model over the period (jobs created in the period).

    ``outputs``: outputs delivered (succeeded provider tasks);
    ``cost_usd`` = the credits kie.ai billed for the tasks (``billed_credits``)
    × ``KIE_CREDIT_USD``, plus, for delivered tasks that name no billed cost
    (the demo provider, older records), the catalogue's cost for the job's
    settings (``providers.pricing``; a demo model's cost is nominal);
    ``value_usd`` = what the credits charged had been bought for, in USD
    (their lots' prices: free credits count 0), less the share staff refunded;
    ``margin_usd`` = value − cost; ``margin_percent`` = margin / value.
    """

    offer_id: int
    slug: str
    name: str
    adapter: str
    jobs: int
    succeeded: int
    failed: int
    outputs: int
    charged_credits: int
    cost_usd: Decimal
    value_usd: Decimal

    @property
    def margin_usd(self) -> Decimal:
        return self.value_usd - self.cost_usd

    @property
    def margin_percent(self) -> Decimal | None:
        if not self.value_usd:
            return None
        return (self.margin_usd * 100 / self.value_usd).quantize(Decimal("0.1"))


@dataclass(frozen=True)
class AdapterRow:
    """Provider calls of one adapter in the period. An error is a call with no
    HTTP status, a status >= 400, or an error text. ``p95_ms`` is the
    nearest-rank 95th percentile of ``latency_ms`` over all its calls."""

    adapter: str
    calls: int
    errors: int
    p95_ms: int | None

    @property
    def error_percent(self) -> Decimal | None:
        return _percent(self.errors, self.calls)


@dataclass(frozen=True)
class Series:
    """One value per day for ``days`` (oldest first); ``currency`` is set for
    money series (values in minor units)."""

    days: tuple[date, ...]
    values: tuple[int, ...]
    currency: str = ""

    @property
    def total(self) -> int:
        return sum(self.values)

    @property
    def peak(self) -> int:
        return max(self.values, default=0)

    def display(self, value: int) -> str:
        """A value as shown to staff: money in major units with its currency."""
        if self.currency:
            return f"{minor_to_major(value, self.currency)} {self.currency.upper()}"
        return str(value)


@dataclass(frozen=True)
class Attention:
    """What staff must look at now, whatever the period: payments Stripe
    reported that matched nothing (``billing.PaymentIssue`` not resolved),
    users who owe credits after a refund or lost dispute (and how many
    credits), credit adjustments waiting for a second staff member, open
    disputes (the first ``disputes`` by Stripe's evidence deadline), jobs past
    ``MIRSAM_JOB_TIMEOUT_SECONDS`` that are not final, holds open for over a
    day (a dispute's freeze excepted), webhook deliveries whose processing failed in the last 7 days, and
    when the last verified webhook arrived (``None``: never)."""

    payment_issues: int
    owing_users: int
    owed_credits: int
    pending_adjustments: int
    open_disputes: int
    disputes: tuple[OpenDispute, ...]
    stuck_jobs: int
    old_holds: int
    failed_webhooks: int
    last_webhook_at: datetime | None

    @property
    def any(self) -> bool:
        return bool(
            self.payment_issues
            or self.owing_users
            or self.pending_adjustments
            or self.open_disputes
            or self.stuck_jobs
            or self.old_holds
            or self.failed_webhooks
        )


@dataclass(frozen=True)
class OpenDispute:
    """One open Stripe dispute as dj-stripe stored it: ``amount`` in minor
    units of ``currency``, ``due_by`` Stripe's evidence deadline."""

    stripe_id: str
    amount: int
    currency: str
    due_by: datetime | None


OPEN_DISPUTE_STATUSES = ("warning_needs_response", "needs_response", "warning_under_review", "under_review")


def _attention(now: datetime) -> Attention:
    from djstripe.models import Dispute, WebhookEventTrigger

    from accounts.models import CreditAdjustment

    owing = Wallet.objects.filter(owed__gt=0).aggregate(users=Count("id"), credits=Coalesce(Sum("owed"), 0))
    disputes = Dispute.objects.filter(stripe_data__status__in=OPEN_DISPUTE_STATUSES)
    shown = sorted(
        (
            OpenDispute(
                stripe_id=d.id,
                amount=int((d.stripe_data or {}).get("amount") or 0),
                currency=str((d.stripe_data or {}).get("currency") or ""),
                due_by=_stamp(((d.stripe_data or {}).get("evidence_details") or {}).get("due_by")),
            )
            for d in disputes.order_by("created")[:50]
        ),
        key=lambda d: (d.due_by is None, d.due_by or now),
    )[:5]
    webhooks = WebhookEventTrigger.objects.aggregate(
        failed=Count("id", filter=~Q(exception="") & Q(created__gte=now - timedelta(days=7))),
        last=Max("created", filter=Q(valid=True)),
    )
    return Attention(
        payment_issues=PaymentIssue.objects.filter(resolved_at__isnull=True).count(),
        owing_users=owing["users"],
        owed_credits=owing["credits"],
        pending_adjustments=CreditAdjustment.objects.filter(status=CreditAdjustment.Status.PENDING).count(),
        open_disputes=disputes.count(),
        disputes=tuple(shown),
        stuck_jobs=Job.objects.exclude(status__in=FINAL_JOB_STATUSES)
        .filter(created_at__lt=now - timedelta(seconds=settings.MIRSAM_JOB_TIMEOUT_SECONDS))
        .count(),
        old_holds=Hold.objects.filter(status=HoldStatus.OPEN, created_at__lt=now - timedelta(days=1))
        .exclude(reference__startswith=DISPUTE_HOLD_PREFIX)  # a dispute's freeze lasts as long as the dispute
        .count(),
        failed_webhooks=webhooks["failed"],
        last_webhook_at=webhooks["last"],
    )


def _stamp(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if isinstance(value, int | float) and value else None


@dataclass(frozen=True)
class FinanceRow:
    """Money of one currency as the credit lots account for it (minor units):
    ``received`` paid for lots granted in the period; ``revenue`` recognised
    in the period for credits spent, expired or taken away, less refunds of
    spent credits; ``refunded`` returned in the period; the same revenue in
    the period before (``previous_revenue``); ``liability`` what is paid for
    credits not used yet, now; ``mrr`` the monthly price of live
    subscriptions, now. ``fees`` Stripe's fees on the period's purchases, where Stripe
    has reported them (``Purchase.fee``)."""

    currency: str
    received: int
    revenue: int
    refunded: int
    previous_revenue: int
    liability: int
    mrr: int
    fees: int = 0

    def major(self, name: str) -> Decimal:
        return minor_to_major(getattr(self, name), self.currency)

    @property
    def revenue_major(self) -> Decimal:
        return self.major("revenue")

    @property
    def received_major(self) -> Decimal:
        return self.major("received")

    @property
    def refunded_major(self) -> Decimal:
        return self.major("refunded")

    @property
    def previous_revenue_major(self) -> Decimal:
        return self.major("previous_revenue")

    @property
    def liability_major(self) -> Decimal:
        return self.major("liability")

    @property
    def mrr_major(self) -> Decimal:
        return self.major("mrr")

    @property
    def fees_major(self) -> Decimal:
        return self.major("fees")

    @property
    def net_major(self) -> Decimal:
        """Revenue recognised less Stripe's fees, in major units."""
        return minor_to_major(self.revenue - self.fees, self.currency)


def _lot_flows(since: datetime, until: datetime) -> dict[str, tuple[int, int, int]]:
    """Per currency: (received, revenue, refunded) for lots and uses made in the window."""
    from credits.models import CreditLot, LotUse, LotUseKind
    from credits.services import REVENUE_USES

    flows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for row in (
        CreditLot.objects.filter(money_minor__gt=0, created_at__gte=since, created_at__lt=until)
        .values("currency")
        .annotate(m=Sum("money_minor"))
    ):
        flows[row["currency"]][0] += row["m"]
    for use in (
        LotUse.objects.filter(created_at__gte=since, created_at__lt=until, lot__money_minor__gt=0)
        .values("lot__currency", "kind")
        .annotate(m=Sum("money_minor"))
    ):
        money, kind, currency = use["m"], use["kind"], use["lot__currency"]
        if kind in REVENUE_USES:
            flows[currency][1] += money
        elif kind == LotUseKind.REVERSAL:
            flows[currency][1] -= money
            flows[currency][2] += money
        else:
            flows[currency][2] += money
    return {currency: (v[0], v[1], v[2]) for currency, v in flows.items()}


def _subscriptions() -> tuple[dict[str, int], int]:
    """MRR per currency (minor units; yearly prices / 12) and the number of
    customers with a live subscription, from dj-stripe's stored Stripe data."""
    from djstripe.models import Subscription

    from billing.selectors import LIVE_SUBSCRIPTION_STATUSES

    mrr: dict[str, int] = defaultdict(int)
    customers = set()
    for sub in Subscription.objects.filter(stripe_data__status__in=LIVE_SUBSCRIPTION_STATUSES):
        data = sub.stripe_data or {}
        customers.add(data.get("customer"))
        for item in (data.get("items") or {}).get("data") or []:
            price = item.get("price") if isinstance(item.get("price"), dict) else {}
            amount = int(price.get("unit_amount") or 0) * int(item.get("quantity") or 1)
            interval = (price.get("recurring") or {}).get("interval")
            mrr[str(price.get("currency") or "")] += amount // 12 if interval == "year" else amount
    return dict(mrr), len(customers)


def _finance(since: datetime, until: datetime) -> tuple[tuple[FinanceRow, ...], int]:
    from credits.selectors import lot_money

    now_flows = _lot_flows(since, until)
    before = _lot_flows(since - (until - since), since)
    liability = {row.currency: row.liability for row in lot_money()}
    mrr, subscribers = _subscriptions()
    fees = {
        row["currency"]: row["f"]
        for row in Purchase.objects.filter(created_at__gte=since, created_at__lt=until, fee__isnull=False)
        .values("currency")
        .annotate(f=Sum("fee"))
    }
    currencies = sorted(set(now_flows) | set(before) | set(liability) | set(mrr) | set(fees))
    rows = tuple(
        FinanceRow(
            currency=c,
            received=now_flows.get(c, (0, 0, 0))[0],
            revenue=now_flows.get(c, (0, 0, 0))[1],
            refunded=now_flows.get(c, (0, 0, 0))[2],
            previous_revenue=before.get(c, (0, 0, 0))[1],
            liability=liability.get(c, 0),
            mrr=mrr.get(c, 0),
            fees=fees.get(c, 0),
        )
        for c in currencies
        if c
    )
    return rows, subscribers


@dataclass(frozen=True)
class DashboardFigures:
    period_days: int
    since: datetime
    until: datetime
    new_users_today: int
    new_users_7d: int
    new_users_30d: int
    new_users_period: int
    revenue: tuple[RevenueRow, ...]
    credits: CreditFigures
    job_statuses: tuple[tuple[str, StrOrPromise], ...]  # (value, label) columns of ``jobs``
    jobs: tuple[JobsRow, ...]
    top_models: tuple[ModelRow, ...]
    providers: tuple[AdapterRow, ...]
    daily_new_users: Series
    daily_credits_spent: Series
    daily_jobs: Series
    daily_revenue: tuple[Series, ...]  # one per currency
    attention: Attention
    finance: tuple[FinanceRow, ...]
    subscribers: int

    @property
    def jobs_total(self) -> int:
        return sum(row.total for row in self.jobs)

    def jobs_with_status(self, status: str) -> int:
        index = [value for value, _label in self.job_statuses].index(status)
        return sum(row.counts[index] for row in self.jobs)

    @property
    def jobs_succeeded(self) -> int:
        return self.jobs_with_status(JobStatus.SUCCEEDED)

    @property
    def jobs_failed(self) -> int:
        return self.jobs_with_status(JobStatus.FAILED)

    @property
    def provider_calls(self) -> int:
        return sum(row.calls for row in self.providers)

    @property
    def provider_errors(self) -> int:
        return sum(row.errors for row in self.providers)

    @property
    def jobs_finished(self) -> int:
        return self.jobs_succeeded + self.jobs_failed

    @property
    def provider_error_percent(self) -> Decimal | None:
        """Jobs that failed, of those that finished (succeeded or failed) in
        the period: a call retried until it worked is not a failure a
        customer saw. The call-level errors are in ``providers``."""
        return _percent(self.jobs_failed, self.jobs_finished)


def _in(qs: QuerySet, field: str, since: datetime, until: datetime) -> QuerySet:
    return qs.filter(**{f"{field}__gt": since, f"{field}__lte": until})


def _new_users(now: datetime, since: datetime) -> dict[str, int]:
    """Non-staff accounts that joined today / in 7 and 30 days / in the period."""
    today = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    joined = get_user_model().objects.filter(is_staff=False, date_joined__lte=now)
    return joined.aggregate(
        today=Count("pk", filter=Q(date_joined__gte=today)),
        d7=Count("pk", filter=Q(date_joined__gt=now - timedelta(days=7))),
        d30=Count("pk", filter=Q(date_joined__gt=now - timedelta(days=30))),
        period=Count("pk", filter=Q(date_joined__gt=since)),
    )


def _revenue(since: datetime, until: datetime) -> tuple[RevenueRow, ...]:
    """Two queries: purchases by currency, and refunds/disputes by currency.

    ``Revocation.amount`` of a refund is the charge's *cumulative* refunded
    total at that refund (``billing.services.revoke_for_refund``), so a refund's
    own share is its amount minus the largest earlier refund amount of the same
    purchase (one charge per purchase's payment intent).
    """
    paid = (
        _in(Purchase.objects.order_by(), "created_at", since, until)
        .values("currency")
        .annotate(purchases=Count("pk"), gross=Sum("amount"), credits=Sum("credits"))
    )
    earlier = (
        Revocation.objects.filter(
            purchase=OuterRef("purchase"), kind=RevocationKind.REFUND, amount__lt=OuterRef("amount")
        )
        .order_by("-amount")
        .values("amount")[:1]
    )
    taken = (
        _in(Revocation.objects.order_by(), "created_at", since, until)
        .annotate(earlier=Coalesce(Subquery(earlier, output_field=IntegerField()), 0))
        .values(currency=F("purchase__currency"))
        .annotate(
            refunded=Coalesce(Sum(F("amount") - F("earlier"), filter=Q(kind=RevocationKind.REFUND)), 0),
            disputed=Coalesce(Sum("amount", filter=Q(kind=RevocationKind.DISPUTE)), 0),
        )
    )
    rows: dict[str, dict[str, int]] = defaultdict(
        lambda: {"purchases": 0, "credits": 0, "gross": 0, "refunded": 0, "disputed": 0}
    )
    for row in paid:
        rows[row["currency"]].update(purchases=row["purchases"], credits=row["credits"], gross=row["gross"])
    for row in taken:
        rows[row["currency"]].update(refunded=row["refunded"], disputed=row["disputed"])
    return tuple(RevenueRow(currency=currency, **rows[currency]) for currency in sorted(rows))


def _credits(since: datetime, until: datetime) -> CreditFigures:
    """One query: the ledger's sums by kind (see :class:`CreditFigures`)."""
    by_kind = {
        row["kind"]: (row["amount"] or 0, row["held"] or 0)
        for row in _in(LedgerEntry.objects.order_by(), "created_at", since, until)
        .values("kind")
        .annotate(amount=Sum("amount"), held=Sum("held_delta"))
    }

    def amount(*kinds: str) -> int:
        return sum(by_kind.get(kind, (0, 0))[0] for kind in kinds)

    return CreditFigures(
        bought=amount(EntryKind.PURCHASE, EntryKind.SUBSCRIPTION_GRANT),
        granted=amount(EntryKind.GRANT),
        adjusted=amount(EntryKind.ADJUSTMENT),
        spent=-amount(EntryKind.CAPTURE),
        returned=-by_kind.get(EntryKind.RELEASE, (0, 0))[1],
        taken_back=-amount(EntryKind.REFUND, EntryKind.SETTLEMENT),  # owed credits paid later too
        # Written by staff job refunds (generation.services.job_refund).
        refunded_by_staff=amount("job_refund"),
    )


def _jobs(since: datetime, until: datetime) -> tuple[JobsRow, ...]:
    """One query: jobs created in the period by service and status."""
    counts = {
        (row["service"], row["status"]): row["n"]
        for row in _in(Job.objects.order_by(), "created_at", since, until)
        .values("service", "status")
        .annotate(n=Count("pk"))
    }
    return tuple(
        JobsRow(
            service=service.value,
            label=service.label,
            counts=tuple(counts.get((service.value, status.value), 0) for status in JobStatus),
        )
        for service in Service
    )


def _usd_value_of_jobs(offer_ids: list[int], since: datetime, until: datetime) -> dict[int, int]:
    """Per offer: the USD (cents) the credits its period's jobs were charged
    had been bought for (spend uses of the captures ``job:<id>``; free credits
    count 0, other currencies are left out). One query."""
    from credits.models import LotUse, LotUseKind
    from generation.models import JOB_HOLD_PREFIX

    if not offer_ids:
        return {}
    jobs = Job.objects.filter(offer__in=offer_ids, created_at__gt=since, created_at__lte=until)
    uses = (
        LotUse.objects.filter(kind=LotUseKind.SPEND, lot__currency="usd", entry__reference__startswith=JOB_HOLD_PREFIX)
        .annotate(job_id=Cast(Substr("entry__reference", len(JOB_HOLD_PREFIX) + 1), BigIntegerField()))
        .filter(job_id__in=jobs.values("pk"))
        .annotate(offer_id=Subquery(Job.objects.filter(pk=OuterRef("job_id")).values("offer_id")[:1]))
        .values("offer_id")
        .annotate(m=Sum("money_minor"))
    )
    return {row["offer_id"]: row["m"] for row in uses}


def _net_of_refunds(cents: int, charged: int, refunded: int) -> Decimal:
    """``cents`` of value less the share of the credits staff refunded, in USD."""
    if not charged:
        return Decimal("0.0000")
    kept = max(0, charged - refunded)
    return (Decimal(cents) * kept / charged / 100).quantize(Decimal("0.0001"))


def _unbilled_cost_usd(offers: Sequence[Offer], since: datetime, until: datetime) -> dict[int, Decimal]:
    """Per offer: the catalogue's estimate (``providers.pricing``) of the
    delivered outputs the provider named no cost for, priced at each job's
    own settings. One query, grouped by the job options the offers' costs
    depend on (and whether the job extends a result), so its size follows the
    combinations, not the jobs."""
    if not offers:
        return {}
    names = sorted({name for offer in offers for name in pricing.priced_params(offer)})
    keys = {f"p{i}": KeyTextTransform(name, "job__params") for i, name in enumerate(names)}
    rows = (
        ProviderTask.objects.filter(
            job__offer__in=[offer.pk for offer in offers],
            job__created_at__gt=since,
            job__created_at__lte=until,
            status=TaskStatus.SUCCEEDED,
            billed_credits__isnull=True,
        )
        .order_by()
        .annotate(
            offer_id=F("job__offer"),
            extend=ExpressionWrapper(Q(job__params__has_key="extend_task_id"), output_field=BooleanField()),
            **keys,
        )
        .values("offer_id", "extend", *keys)
        .annotate(n=Count("pk"))
    )
    by_pk = {offer.pk: offer for offer in offers}
    cost: dict[int, Decimal] = defaultdict(Decimal)
    for row in rows:
        params = {name: row[f"p{i}"] for i, name in enumerate(names) if row[f"p{i}"] is not None}
        if row["extend"]:
            params["extend_task_id"] = "extend"  # the extend's cost, whichever result it extends
        cost[row["offer_id"]] += pricing.job_output_cost_usd(by_pk[row["offer_id"]], params) * row["n"]
    return cost


def _top_models(since: datetime, until: datetime) -> tuple[ModelRow, ...]:
    """Three queries: catalogue models by jobs created in the period, most
    first (delivered outputs and billed credits from correlated subqueries so
    the task join does not multiply the jobs' sums); the value of their
    credits; the estimate of the outputs nobody billed."""
    delivered = (
        ProviderTask.objects.filter(
            job__offer=OuterRef("pk"),
            job__created_at__gt=since,
            job__created_at__lte=until,
            status=TaskStatus.SUCCEEDED,
        )
        .order_by()
        .values("job__offer")
        .annotate(n=Count("pk"))
        .values("n")
    )
    tasks = ProviderTask.objects.filter(
        job__offer=OuterRef("pk"), job__created_at__gt=since, job__created_at__lte=until
    ).order_by()
    billed = (
        tasks.filter(billed_credits__isnull=False).values("job__offer").annotate(n=Sum("billed_credits")).values("n")
    )
    offers = (
        Offer.objects.filter(jobs__created_at__gt=since, jobs__created_at__lte=until)
        .annotate(
            job_count=Count("jobs"),
            succeeded=Count("jobs", filter=Q(jobs__status=JobStatus.SUCCEEDED)),
            failed=Count("jobs", filter=Q(jobs__status=JobStatus.FAILED)),
            charged=Coalesce(Sum("jobs__charged_credits"), 0),
            refunded=Coalesce(Sum("jobs__refunded_credits"), 0),
            outputs=Coalesce(Subquery(delivered, output_field=IntegerField()), 0),
            billed=Coalesce(Subquery(billed, output_field=IntegerField()), 0),
        )
        .order_by("-job_count", "-charged", "slug")[:TOP_MODELS]
    )
    top = list(offers)
    value = _usd_value_of_jobs([offer.pk for offer in top], since, until)
    unbilled = _unbilled_cost_usd(top, since, until)
    kie_credit = Decimal(str(getattr(settings, "KIE_CREDIT_USD", "0")))
    return tuple(
        ModelRow(
            offer_id=offer.pk,
            slug=offer.slug,
            name=offer.name,
            adapter=offer.adapter,
            jobs=offer.job_count,
            succeeded=offer.succeeded,
            failed=offer.failed,
            outputs=offer.outputs,
            charged_credits=offer.charged,
            cost_usd=(kie_credit * offer.billed + unbilled.get(offer.pk, Decimal(0))).quantize(Decimal("0.0001")),
            value_usd=_net_of_refunds(value.get(offer.pk, 0), offer.charged, offer.refunded),
        )
        for offer in top
    )


PROVIDER_ERROR = Q(status_code__isnull=True) | Q(status_code__gte=400) | ~Q(error="")


def _providers(since: datetime, until: datetime) -> tuple[AdapterRow, ...]:
    """Two queries: calls and errors by adapter; the p95 latency by adapter.

    The p95 is the nearest-rank percentile, exact on SQLite and PostgreSQL
    alike: number each adapter's calls by latency (a window) and keep the row
    whose rank is ``ceil(0.95 × calls)``, i.e. ``100·rank ≥ 95·calls >
    100·(rank − 1)``. One row per adapter comes back, however many calls.
    """
    calls = _in(ProviderCall.objects.order_by(), "created_at", since, until)
    totals = calls.values("adapter").annotate(calls=Count("pk"), errors=Count("pk", filter=PROVIDER_ERROR))
    by_adapter = [F("adapter")]
    p95 = dict(
        calls.annotate(
            rank100=Window(RowNumber(), order_by=[F("latency_ms").asc(), F("pk").asc()], partition_by=by_adapter) * 100,
            calls95=Window(Count("pk"), partition_by=by_adapter) * 95,
        )
        .filter(rank100__gte=F("calls95"), rank100__lt=F("calls95") + 100)
        .values_list("adapter", "latency_ms")
    )
    return tuple(
        AdapterRow(adapter=row["adapter"], calls=row["calls"], errors=row["errors"], p95_ms=p95.get(row["adapter"]))
        for row in sorted(totals, key=lambda row: (-row["calls"], row["adapter"]))
    )


def _daily(rows: Iterable[Mapping[str, Any]], days: tuple[date, ...], *, sign: int = 1, currency: str = "") -> Series:
    by_day = {row["day"]: row["value"] or 0 for row in rows}
    return Series(days=days, values=tuple(sign * by_day.get(day, 0) for day in days), currency=currency)


def _series(now: datetime) -> dict[str, Any]:
    """Four queries: per calendar day of the last ``DAILY_DAYS`` days (today
    included), new non-staff users, credits captured, jobs created and gross
    revenue per currency."""
    today = timezone.localdate(now)
    days = tuple(today - timedelta(days=offset) for offset in range(DAILY_DAYS - 1, -1, -1))
    start = timezone.make_aware(datetime.combine(days[0], datetime.min.time()))
    day = TruncDate("created_at")

    users = (
        get_user_model()
        .objects.order_by()
        .filter(is_staff=False, date_joined__gte=start, date_joined__lte=now)
        .annotate(day=TruncDate("date_joined"))
        .values("day")
        .annotate(value=Count("pk"))
    )
    spent = (
        LedgerEntry.objects.order_by()
        .filter(kind=EntryKind.CAPTURE, created_at__gte=start, created_at__lte=now)
        .annotate(day=day)
        .values("day")
        .annotate(value=Sum("amount"))
    )
    jobs = (
        Job.objects.order_by()
        .filter(created_at__gte=start, created_at__lte=now)
        .annotate(day=day)
        .values("day")
        .annotate(value=Count("pk"))
    )
    revenue = (
        Purchase.objects.order_by()
        .filter(created_at__gte=start, created_at__lte=now)
        .annotate(day=day)
        .values("currency", "day")
        .annotate(value=Sum("amount"))
    )
    by_currency: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for row in revenue:
        by_currency[row["currency"]].append(row)
    return {
        "daily_new_users": _daily(users, days),
        "daily_credits_spent": _daily(spent, days, sign=-1),
        "daily_jobs": _daily(jobs, days),
        "daily_revenue": tuple(
            _daily(by_currency[currency], days, currency=currency) for currency in sorted(by_currency)
        ),
    }


def dashboard_figures(*, period_days: int, now: datetime | None = None) -> DashboardFigures:
    """Every figure of the operator dashboard for the ``period_days`` days
    up to ``now`` (default: the current time), in 30 queries whatever the
    amount of data. See the dataclasses above for each figure's definition."""
    now = now or timezone.now()
    since = now - timedelta(days=period_days)
    users = _new_users(now, since)
    finance, subscribers = _finance(since, now)
    return DashboardFigures(
        period_days=period_days,
        since=since,
        until=now,
        new_users_today=users["today"],
        new_users_7d=users["d7"],
        new_users_30d=users["d30"],
        new_users_period=users["period"],
        revenue=_revenue(since, now),
        credits=_credits(since, now),
        job_statuses=tuple((status.value, status.label) for status in JobStatus),
        jobs=_jobs(since, now),
        top_models=_top_models(since, now),
        providers=_providers(since, now),
        attention=_attention(now),
        finance=finance,
        subscribers=subscribers,
        **_series(now),
    )


def period_from(value: Any) -> int:
    """The dashboard period from ``?period=``: one of :data:`PERIODS`, else the default."""
    try:
        days = int(value)
    except (TypeError, ValueError):
        return DEFAULT_PERIOD
    return days if days in PERIODS else DEFAULT_PERIOD


# --- kie.ai account credits --------------------------------------------------------


@dataclass(frozen=True)
class KieCredits:
    """kie.ai's remaining account credits as the dashboard shows them.

    ``state`` is "ok" (``credits`` is set), "unavailable" (the call failed) or
    "off" (no ``KIE_API_KEY``). ``low`` is true when the credits are below
    ``threshold`` (``KIE_CREDITS_WARNING_THRESHOLD``).
    """

    state: str
    credits: int | None
    threshold: int

    @property
    def low(self) -> bool:
        return self.state == "ok" and self.credits is not None and self.credits < self.threshold


def kie_credits() -> KieCredits:
    """kie.ai's remaining credits, cached for :data:`KIE_CREDITS_CACHE_SECONDS`
    (a failure for :data:`KIE_CREDITS_ERROR_CACHE_SECONDS`). Never raises."""
    threshold = settings.KIE_CREDITS_WARNING_THRESHOLD
    if not settings.KIE_API_KEY:
        return KieCredits(state="off", credits=None, threshold=threshold)
    cached = cache.get(KIE_CREDITS_CACHE_KEY)
    if cached is None:
        try:
            # Briefly and once: an admin page must not wait through
            # KIE_TIMEOUT_SECONDS x KIE_MAX_RETRIES.
            credits = KieAdapter().credits_remaining(timeout=KIE_CREDITS_TIMEOUT_SECONDS, retries=0)
            cached = ("ok", credits)
            ttl = KIE_CREDITS_CACHE_SECONDS
        except (ProviderError, requests.RequestException, ValueError) as exc:
            log.warning("kie.ai credits unavailable: %s", exc)
            cached = ("unavailable", None)
            ttl = KIE_CREDITS_ERROR_CACHE_SECONDS
        cache.set(KIE_CREDITS_CACHE_KEY, cached, ttl)
    state, credits = cached
    return KieCredits(state=state, credits=credits, threshold=threshold)
