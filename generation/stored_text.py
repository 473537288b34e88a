"""Words stored in the language of their time, shown in the page's language.

A job's failure reason is written when it fails, in its owner's language then
(``pipeline.owner_language``); the owner may read the card later in the other
language. Where the stored text is a message of the catalogues (in English or
in a translation of it), the page shows that message in its own language;
other text (a provider's own words, a message with numbers in it) as stored.
"""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.translation import gettext, trans_real


@functools.cache
def _english_of(language: str) -> dict[str, str]:
    """``{translation: English msgid}`` of every singular message of ``language``'s catalogues."""
    # Django keeps the merged catalogues (ours, the apps', its own) there; no public API lists them.
    catalog = trans_real.translation(language)._catalog  # type: ignore[attr-defined]
    return {text: msgid for msgid, text in catalog.items() if isinstance(msgid, str) and msgid and text != msgid}


def in_active_language(text: str) -> str:
    """``text`` in the active language if it is a catalogue message in any of
    ``settings.LANGUAGES``; else ``text`` unchanged."""
    if not text:
        return text
    english = text
    for code, _name in settings.LANGUAGES:
        if code != settings.LANGUAGE_CODE:
            english = _english_of(code).get(text, english)
    return gettext(english)
