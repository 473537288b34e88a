"""What the stand-in answers over HTTP: a :class:`Reply`, and the minimal
HTML of Stripe's hosted pages (Checkout, the Customer Portal)."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass
class Reply:
    """One HTTP answer: status, body bytes, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def page(status: int, title: str, body: str) -> Reply:
    """A small HTML page titled ``title`` with ``body`` (HTML) inside."""
    doc = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Reply(status, doc.encode("utf-8"), content_type="text/html; charset=utf-8")
