"""E-mail out: rendered in the recipient's language, sent from Celery after
the transaction commits, never able to break the action that sent it.

:func:`mail_queue` takes a rendered :class:`~django.core.mail.EmailMessage`
(a plain-text body, optionally an HTML alternative made from
``templates/emails/base.html``) and hands its parts to
``accounts.tasks.mail_send_task`` on commit. The task sends through the
configured backend (``EMAIL_URL``: console, SMTP; or ``ANYMAIL_ESP``) and
retries a failing server ``MIRSAM_MAIL_RETRIES`` times with exponential
backoff (``MIRSAM_MAIL_RETRY_SECONDS`` × 2ⁿ); after that it logs the loss.
A broker that refuses the task is logged too: the sign-up, purchase or job
that wanted to tell someone is done either way.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import EmailMessage, EmailMultiAlternatives
from django.db import transaction

log = logging.getLogger(__name__)


def message_parts(message: EmailMessage) -> dict[str, Any]:
    """The JSON-able parts of ``message`` the task rebuilds it from:
    ``{"subject", "body", "from_email", "to", "html", "headers"}``."""
    html = ""
    for content, mimetype in getattr(message, "alternatives", []) or []:
        if mimetype == "text/html":
            html = str(content)
    return {
        "subject": str(message.subject),
        "body": str(message.body),
        "from_email": message.from_email,
        "to": list(message.to),
        "html": html,
        "headers": dict(message.extra_headers),
    }


def message_build(parts: dict[str, Any]) -> EmailMultiAlternatives:
    """The message :func:`message_parts` took apart."""
    message = EmailMultiAlternatives(
        parts["subject"], parts["body"], parts["from_email"], parts["to"], headers=parts.get("headers") or None
    )
    if parts.get("html"):
        message.attach_alternative(parts["html"], "text/html")
    return message


def mail_queue(message: EmailMessage) -> None:
    """Send ``message`` from Celery once the current transaction commits
    (at once outside one)."""
    parts = message_parts(message)

    def send() -> None:
        from .tasks import mail_send_task

        try:
            mail_send_task.delay(parts)
        except Exception:  # a broker outage must not undo or fail the action
            log.exception("e-mail to %s could not be queued: %s", parts["to"], parts["subject"])

    transaction.on_commit(send)
