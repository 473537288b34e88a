from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from credits.models import Wallet
from credits.selectors import ledger_drift


class Command(BaseCommand):
    help = "Verify that every wallet equals the sum of its ledger entries; exit non-zero on drift."

    def handle(self, *args: Any, **options: Any) -> None:
        drifts = ledger_drift()
        for d in drifts:
            self.stderr.write(
                f"DRIFT wallet={d.wallet_id} user={d.user} balance={d.balance} ledger={d.ledger_balance} "
                f"held={d.held} ledger_held={d.ledger_held}"
            )
        if drifts:
            raise CommandError(f"{len(drifts)} wallet(s) drift from the ledger.")
        self.stdout.write(f"Ledger clean: {Wallet.objects.count()} wallet(s) match their entries.")
