"""Stripe's error bodies (``{"error": {type, message, code, param, doc_url}}``)
and the parameter checks that raise them, with Stripe's messages and codes
(``resource_missing``, ``parameter_missing``, ``parameter_unknown``,
``parameter_invalid_integer``, ``url_invalid``…)."""

from __future__ import annotations

import urllib.parse
from typing import Any


class StripeAPIError(Exception):
    """Raised inside handlers; rendered as a Stripe error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error: dict[str, Any] = {"type": type, "message": message}
        if code:
            self.error["code"] = code
            self.error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            self.error["param"] = param

    def body(self) -> dict[str, Any]:
        """The JSON error body Stripe answers with."""
        return {"error": dict(self.error, request_log_url=None)}


def missing(obj_type: str, obj_id: str, param: str = "id", status: int = 404) -> StripeAPIError:
    """Stripe's ``resource_missing``: "No such <type>: '<id>'"."""
    return StripeAPIError(status, f"No such {obj_type}: '{obj_id}'", code="resource_missing", param=param)


def bad(message: str, param: str | None = None, code: str | None = None) -> StripeAPIError:
    """A 400 ``invalid_request_error`` with ``message``, ``param`` and ``code``."""
    return StripeAPIError(400, message, code=code, param=param)


def required(param: str) -> StripeAPIError:
    """Stripe's ``parameter_missing``."""
    return bad(f"Missing required param: {param}.", param, "parameter_missing")


def unknown(param: str) -> StripeAPIError:
    """Stripe's ``parameter_unknown``."""
    return bad(f"Received unknown parameter: {param}", param, "parameter_unknown")


def as_int(value: Any, param: str) -> int:
    """A form value as an int, or ``parameter_invalid_integer``."""
    if isinstance(value, bool):
        raise bad(f"Invalid integer: {value}", param, "parameter_invalid_integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad(f"Invalid integer: {value}", param, "parameter_invalid_integer") from None


def as_bool(value: Any, param: str) -> bool:
    """``"true"``/``"false"`` (or a bool) as a bool, or a 400."""
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise bad(f"Invalid boolean: {value}", param)


def as_url(value: Any, param: str) -> str:
    """An http(s) URL, or ``url_invalid``."""
    parsed = urllib.parse.urlsplit(str(value))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise bad("Not a valid URL", param, "url_invalid")
    return str(value)


def check_metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    """Metadata as Stripe limits it (≤ 50 keys, keys ≤ 40 chars, string values ≤ 500), empty values dropped."""
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise bad("Invalid object", param)
    if len(value) > 50:
        raise bad("Invalid metadata: metadata can have up to 50 keys", param)
    for key, val in value.items():
        if len(key) > 40:
            raise bad(f"Invalid metadata: key `{key}` is longer than 40 characters", f"{param}[{key}]")
        if not isinstance(val, str) or len(val) > 500:
            raise bad(f"Invalid metadata: value for `{key}` must be a string of at most 500 characters", param)
    return {k: v for k, v in value.items() if v != ""}


def merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's update semantics: ``metadata=""`` clears all, ``metadata[k]=""`` deletes k."""
    if update == "":
        return {}
    check_metadata(update)
    merged = dict(current or {})
    for key, val in update.items():
        if val == "":
            merged.pop(key, None)
        else:
            merged[key] = val
    return merged


def unrecognized(method: str, path: str) -> StripeAPIError:
    """Stripe's 404 for a URL it has no route for."""
    return StripeAPIError(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at "
        "https://support.stripe.com/.",
    )


def deep_merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """Nested update as Stripe applies it: dicts merge, ``""`` clears a field."""
    merged = dict(current)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = None if value == "" else value
    return merged
