from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from billing import services


class Command(BaseCommand):
    help = "Grant paid Stripe Checkout Sessions of the last hours whose webhook never arrived (idempotent)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--hours", type=int, default=None, help="How far back to look (default: setting).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not services.payments_configured():
            raise CommandError("Stripe is not configured (set STRIPE_TEST_SECRET_KEY or STRIPE_LIVE_SECRET_KEY).")
        since = timezone.now() - timedelta(hours=options["hours"]) if options["hours"] else None
        added = services.checkouts_reconcile(since=since)
        self.stdout.write(f"Reconciled: {added} missed purchase(s) granted.")
