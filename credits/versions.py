"""What kept pages show of the ledger (config.pagecache): the reader's
wallet, as its balance and held credits."""

from __future__ import annotations

from config.pagecache import Tracked

from .models import Wallet

TRACKED = [Tracked("wallet", Wallet, owner="user", columns=("balance", "held"))]
