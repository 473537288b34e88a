from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing import services
from billing.models import CreditPack, Plan


class Command(BaseCommand):
    help = "Create or update the Stripe Products and Prices of every credit pack and plan, and store their ids."

    def handle(self, *args: Any, **options: Any) -> None:
        if not services.payments_configured():
            raise CommandError("Stripe is not configured (set STRIPE_TEST_SECRET_KEY or STRIPE_LIVE_SECRET_KEY).")
        offerings: list[CreditPack | Plan] = [*CreditPack.objects.all(), *Plan.objects.all()]
        for offering in offerings:
            action = services.offering_sync_to_stripe(offering=offering)
            self.stdout.write(
                f"{offering.slug}: {action} (product {offering.stripe_product_id}, price {offering.stripe_price_id})"
            )
