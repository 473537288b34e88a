"""How a ledger entry reads to its owner, written in the page's language when
the page is shown, not in the language of the moment the entry was made.

An entry keeps a ``reason`` (text, in the language of whoever made it) and a
``reference`` ("job:7", "signup", "stripe:cs_…"). Apps that make entries may
register a *describer* for a reference prefix: given the entries of one page
with that prefix, it returns ``{entry id: text}`` in the active language, in
a bounded number of queries. ``credits`` imports no other app: generation
registers "job:" from its ``AppConfig.ready``. Entries no describer reads
show their stored reason.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.utils.translation import gettext as _

from .models import LedgerEntry

Describer = Callable[[list[LedgerEntry]], dict[int, str]]
_DESCRIBERS: dict[str, Describer] = {}


def describer_register(prefix: str, describer: Describer) -> None:
    """Read entries whose ``reference`` starts with ``prefix`` with ``describer``."""
    _DESCRIBERS[prefix] = describer


def _signup(entries: list[LedgerEntry]) -> dict[int, str]:
    return {entry.pk: _("Sign-up bonus") for entry in entries}


describer_register("signup", _signup)


def entries_describe(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """``entries`` with ``description`` set on each: its describer's text, or
    its stored reason."""
    entries = list(entries)
    for prefix, describer in _DESCRIBERS.items():
        matching = [e for e in entries if e.reference.startswith(prefix)]
        texts = describer(matching) if matching else {}
        for entry in matching:
            if entry.pk in texts:
                entry.description = texts[entry.pk]
    for entry in entries:
        if not hasattr(entry, "description"):
            entry.description = entry.reason
    return entries
