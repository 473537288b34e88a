"""Django's own messages that its Arabic catalogue lacks, so that ours gives them.

Django 5.2 reworded the password-length error ("%d" for "%(min_length)d")
after its translators' last pass: an Arabic sign-up said it in English. Marked
here, makemessages copies the msgid into locale/ar, where it has its Arabic;
a catalogue of the project comes before Django's. Nothing needs to import this.
"""

from __future__ import annotations

from django.utils.translation import ngettext_lazy

PASSWORD_TOO_SHORT = ngettext_lazy(
    "This password is too short. It must contain at least %d character.",
    "This password is too short. It must contain at least %d characters.",
    "min_length",
)
