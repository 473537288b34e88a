"""``manage.py check_catalogue``: does every price cover its cost (issue 16, part 6)?"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing.models import CreditPack
from billing.selectors import cheapest_credit
from providers import pricing
from providers.models import Offer

CENT = Decimal("0.0001")


class Command(BaseCommand):
    help = (
        "List every price of every active catalogue model (each combination of the options that change the cost,"
        " and the extend) with its cost, its price and the margin it leaves at the cheapest credit anyone can buy;"
        " exit non-zero when one sells below cost × (1 + MIRSAM_MIN_MARGIN) or cannot be priced."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        least = pricing.min_margin()
        cheapest = cheapest_credit()
        if cheapest is None:
            credit = pricing.price_credit_usd()
            source = "no active USD pack or plan: MIRSAM_PRICE_CREDIT_USD"
        else:
            credit = cheapest.usd
            kind = "pack" if isinstance(cheapest.offering, CreditPack) else "plan"
            source = f"{kind} {cheapest.offering.slug}, {cheapest.offering.credits_sold} credits for "
            source += f"{cheapest.offering.price_major} {cheapest.offering.currency.upper()}"
        self.stdout.write(
            f"Cheapest credit: ${credit.quantize(Decimal('0.000001'))} ({source}); revenue and margin are at it"
        )
        self.stdout.write(f"Least margin over cost: {least * 100:.0f} % (MIRSAM_MIN_MARGIN)")
        header = ("model", "settings", "cost USD", "price", "revenue USD", "margin")
        lines: list[tuple[str, ...]] = [header]
        failures: list[str] = []
        count = 0
        for offer in Offer.objects.filter(is_active=True).order_by("service", "sort_order", "slug"):
            problems = pricing.cost_problems(offer.options)
            if problems:
                failures.extend(f"UNPRICEABLE {offer.slug}: {problem}" for problem in problems)
                continue
            for row in pricing.price_table(offer):
                count += 1
                revenue = row.revenue_at(credit)
                lines.append(
                    (
                        offer.slug,
                        row.label,
                        f"{row.cost_usd.quantize(CENT)}",
                        f"{row.price_credits}",
                        f"{revenue.quantize(CENT)}",
                        _percent(row.margin_at(credit)),
                    )
                )
                if row.cost_usd <= 0:
                    failures.append(
                        f"NO COST {offer.slug} {row.label}: options.cost says nothing, so no price covers it"
                    )
                elif row.below(credit_usd=credit, least_margin=least):
                    floor = row.cost_usd * (1 + least)
                    failures.append(
                        f"BELOW {offer.slug} {row.label}: {row.price_credits} credits bring ${revenue.quantize(CENT)},"
                        f" below cost ${row.cost_usd.quantize(CENT)} × {1 + least} = ${floor.quantize(CENT)}"
                    )
        widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
        for line in lines:
            cells = [
                cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            ]
            self.stdout.write("  ".join(cells).rstrip())
        if failures:
            for failure in failures:
                self.stderr.write(failure)
            raise CommandError(
                f"{len(failures)} problem(s) in {count} price(s): below cost × (1 + {least}), or no cost to price by."
            )
        self.stdout.write(f"Catalogue clean: {count} price(s) keep at least {least * 100:.0f} % over cost.")


def _percent(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"
