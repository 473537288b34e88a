"""What kept pages show of the ledger (config.pagecache): the reader's
wallet, as its balance, held and owed credits and when it last changed (the
expiry notice beat sets touches only that)."""

from __future__ import annotations

from config.pagecache import Tracked

from .models import Wallet

TRACKED = [Tracked("wallet", Wallet, owner="user", columns=("balance", "held", "owed", "updated_at"))]
