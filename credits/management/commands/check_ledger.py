from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from credits.models import Wallet
from credits.selectors import ledger_drift, ledger_problems


class Command(BaseCommand):
    help = (
        "Verify that every wallet equals the sum of its ledger entries and that no hold is left open"
        " (the apps' ledger_checks); exit non-zero on any problem."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        drifts = ledger_drift()
        for d in drifts:
            self.stderr.write(
                f"DRIFT wallet={d.wallet_id} user={d.user} balance={d.balance} ledger={d.ledger_balance} "
                f"held={d.held} ledger_held={d.ledger_held} owed={d.owed} ledger_owed={d.ledger_owed}"
            )
        problems = ledger_problems()
        for line in problems:
            self.stderr.write(line)
        if drifts or problems:
            raise CommandError(f"{len(drifts)} wallet(s) drift from the ledger; {len(problems)} other problem(s).")
        self.stdout.write(f"Ledger clean: {Wallet.objects.count()} wallet(s) match their entries.")
