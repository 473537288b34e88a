"""What kept pages show of the catalogue (config.pagecache): its models'
names, options and prices."""

from __future__ import annotations

from config.pagecache import Tracked

from .models import Offer

TRACKED = [Tracked("offers", Offer)]
