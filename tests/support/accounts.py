"""Putting test users in the states the tests need. The personas themselves
(alice the owner, charlie the outsider, staff) are fixtures in tests/conftest.py."""

from __future__ import annotations

from typing import Any

from credits.services import credits_grant


def fund(user: Any, amount: int) -> None:
    """Grant ``user`` ``amount`` credits through the ledger (one grant per
    user and amount: the idempotency key is ``test-fund:<user id>:<amount>``)."""
    credits_grant(user=user, amount=amount, idempotency_key=f"test-fund:{user.pk}:{amount}", reason="test")


def with_totp(user: Any) -> Any:
    """Give a staff user an authenticator app (allauth.mfa TOTP); returns the user."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

    TOTP.activate(user, generate_totp_secret())
    return user
