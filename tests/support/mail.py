"""E-mail backends for tests: one whose server always fails."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from typing import Any

from django.core.mail.backends.base import BaseEmailBackend

attempts: list[str] = []


class FailingBackend(BaseEmailBackend):
    """Every send fails the way a refusing SMTP server does; ``attempts``
    records each try's subject."""

    def send_messages(self, email_messages: Sequence[Any]) -> int:
        for message in email_messages:
            attempts.append(str(message.subject))
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")
