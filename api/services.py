"""Writes of the public API: personal API keys (make, check, revoke) and the
answers kept for idempotent requests. The generation and credits work an API
call does is done by those apps' services, as the pages do it; an MCP server
calls the same ones."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import StaffAction
from accounts.services import staff_action_record

from .errors import ApiError
from .models import ApiKey, IdempotencyRecord, Scope

if TYPE_CHECKING:
    from accounts.models import User

#: Every secret starts with this, so a leaked one is easy to recognise (secret scanners).
SECRET_PREFIX = "msk_"  # noqa: S105  # a marker, not a secret
#: How many characters of the secret are kept in clear to name the key.
PREFIX_LENGTH = len(SECRET_PREFIX) + 8
#: A key's ``last_used_at`` is written at most this often (one write per request would be wasteful).
LAST_USED_EVERY = timedelta(seconds=60)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, user: User, name: str, scopes: list[str]) -> tuple[ApiKey, str]:
    """Make a key for ``user`` named ``name`` (1–80 characters) with
    ``scopes`` (a non-empty subset of :class:`Scope`). Returns ``(key,
    secret)``: the secret (``msk_`` + 43 URL-safe characters, 256 bits) is
    shown once and never stored, only its SHA-256. Raises :class:`ApiError`
    (``invalid_request``) for an empty name or unknown or missing scopes."""
    name = " ".join(name.split())
    if not name or len(name) > 80:
        raise ApiError("invalid_request", _("Give the key a name of at most 80 characters."), status=422)
    chosen = [s for s in Scope.values if s in scopes]
    if not chosen or len(set(scopes)) != len(chosen):
        raise ApiError("invalid_request", _("Choose at least one scope: read or generate."), status=422)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey.objects.create(
        user=user, name=name, prefix=secret[:PREFIX_LENGTH], key_hash=_digest(secret), scopes=chosen
    )
    return key, secret


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The key whose secret is ``secret`` (revoked ones too: the caller tells
    them apart), or None. Compared in constant time; stamps ``last_used_at``
    (at most once a minute) on an active key."""
    if not secret.startswith(SECRET_PREFIX) or len(secret) < PREFIX_LENGTH + 8:
        return None
    key = ApiKey.objects.select_related("user").filter(prefix=secret[:PREFIX_LENGTH]).first()
    if key is None or not hmac.compare_digest(key.key_hash, _digest(secret)):
        return None
    now = timezone.now()
    if key.is_active and (key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


def api_key_revoke(*, key: ApiKey, actor: User | None = None) -> ApiKey:
    """Revoke ``key`` at once (its next request gets 401). ``actor`` is the
    staff member when it is not the owner's own doing: then the revocation is
    written to the audit list (``accounts.StaffAction``) in the same
    transaction. Revoking a revoked key changes nothing."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().select_related("user").get(pk=key.pk)
        if not key.is_active:
            return key
        key.revoked_at = timezone.now()
        key.revoked_by = actor
        key.save(update_fields=["revoked_at", "revoked_by"])
        if actor is not None:
            staff_action_record(
                actor=actor,
                kind=StaffAction.Kind.API_KEY_REVOKE,
                user=key.user,
                reason=_("API key %(prefix)s… revoked") % {"prefix": key.prefix},
                reference=f"api-key:{key.pk}",
            )
    return key


def body_digest(payload: Any) -> str:
    """SHA-256 of ``payload`` as canonical JSON (sorted keys), so the same
    request with its fields in another order or other spacing is the same body."""
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def idempotent(
    *, api_key: ApiKey, key: str, payload: Any, run: Callable[[], tuple[int, dict[str, Any]]]
) -> tuple[int, str]:
    """Answer a POST sent with ``Idempotency-Key: key`` once: the first call
    runs ``run()`` (which returns ``(status, body)``, errors included) and
    keeps its answer, returned as ``(status, JSON text)``; a later call with the same key and body within
    ``MIRSAM_API_IDEMPOTENCY_HOURS`` returns that answer and runs nothing.

    The record is inserted before ``run()`` in the same transaction, so a
    concurrent request with the same key waits on the unique constraint
    until the first commits, then reads its answer. An exception from
    ``run()`` rolls the record back with everything else (a retry runs
    again). Raises :class:`ApiError` 422 ``idempotency_mismatch`` for the
    same key with another body, 400 for a key longer than 255 characters."""
    if not key or len(key) > 255:
        raise ApiError("invalid_request", _("An Idempotency-Key is 1 to 255 characters."), status=400)
    digest = body_digest(payload)
    cutoff = timezone.now() - timedelta(hours=settings.MIRSAM_API_IDEMPOTENCY_HOURS)
    with transaction.atomic():
        IdempotencyRecord.objects.filter(api_key=api_key, key=key, created_at__lt=cutoff).delete()
        try:
            with transaction.atomic():
                record = IdempotencyRecord.objects.create(api_key=api_key, key=key, body_hash=digest)
        except IntegrityError:
            existing = IdempotencyRecord.objects.get(api_key=api_key, key=key)
            if existing.body_hash != digest:
                raise ApiError(
                    "idempotency_mismatch",
                    _("This Idempotency-Key was used with another request body."),
                    status=422,
                ) from None
            return existing.response_status, existing.response_body
        status, body = run()
        text = json.dumps(body, cls=DjangoJSONEncoder)
        record.response_status, record.response_body = status, text
        record.save(update_fields=["response_status", "response_body"])
    return status, text


def idempotency_purge() -> int:
    """Delete kept answers older than ``MIRSAM_API_IDEMPOTENCY_HOURS``; returns how many."""
    cutoff = timezone.now() - timedelta(hours=settings.MIRSAM_API_IDEMPOTENCY_HOURS)
    deleted, _by_model = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
