"""A local stand-in for the Stripe API (v1, dahlia shapes) for offline tests.

The real ``stripe`` library (and dj-stripe through it) talks to this server over
HTTP exactly as it would talk to api.stripe.com: form-encoded bodies with
Stripe's bracket notation in, JSON objects and Stripe error bodies out.

    from tests.billing.stripe_standin import stripe_standin, make_event, sign_event

    def test_x(stripe_standin):                  # stripe.api_base now points here
        session = stripe.checkout.Session.create(api_key=KEY, mode="payment", ...)
        paid = stripe_standin.complete_session(session.id)     # what Stripe would do
        event = make_event("checkout.session.completed", paid)
        payload, header = sign_event(event, "whsec_t")         # -> POST to the webhook view

State lives in ``standin.objects`` (id -> JSON-ready dict). Scenario helpers
return deep copies (snapshots) so an event built from one keeps that state.
Every request, including unexpected ones, is in ``standin.requests``.
"""

from __future__ import annotations

import calendar
import copy
import datetime as dt
import hashlib
import hmac
import html
import json
import re
import secrets
import string
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

DEFAULT_API_VERSION = "2026-08-26.dahlia"
ACCOUNT_ID = "acct_standin"

# Stripe's own enums (stripe 15.6.2 params/checkout/_session_create_params.py and
# params/billing_portal/_session_create_params.py). Arabic is NOT a Checkout locale.
CHECKOUT_LOCALES = frozenset(
    "auto bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt nb nl pl pt "
    "pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW".split()
)
PORTAL_LOCALES = CHECKOUT_LOCALES | frozenset("en-AU en-CA en-IE en-IN en-NZ en-SG".split())

# path under /v1/ -> (object type, id prefix)
RESOURCES: dict[str, tuple[str, str]] = {
    "customers": ("customer", "cus_"),
    "products": ("product", "prod_"),
    "prices": ("price", "price_"),
    "checkout/sessions": ("checkout.session", "cs_test_"),
    "payment_intents": ("payment_intent", "pi_"),
    "payment_methods": ("payment_method", "pm_"),
    "charges": ("charge", "ch_"),
    "refunds": ("refund", "re_"),
    "disputes": ("dispute", "dp_"),
    "invoices": ("invoice", "in_"),
    "invoice_payments": ("invoice_payment", "inpay_"),
    "subscriptions": ("subscription", "sub_"),
    "subscription_items": ("subscription_item", "si_"),
    "balance_transactions": ("balance_transaction", "txn_"),
    "billing_portal/sessions": ("billing_portal.session", "bps_"),
    "events": ("event", "evt_"),
    "accounts": ("account", "acct_"),
}
_PATH_FOR_TYPE = {obj_type: path for path, (obj_type, _prefix) in RESOURCES.items()}
_LIST_CONTROL = frozenset({"limit", "starting_after", "ending_before", "expand", "created"})

_ALNUM = string.ascii_letters + string.digits


def _rand(n: int = 24) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


# --------------------------------------------------------------------------- form decoding

_KEY_RE = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")
_PART_RE = re.compile(r"\[([^\[\]]*)\]")
_DICT_ONLY_KEYS = frozenset({"metadata"})


def decode_form(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Decode Stripe's bracket notation into nested dicts/lists.

    ``line_items[0][price]=p`` -> ``{"line_items": [{"price": "p"}]}``,
    ``metadata[user_id]=3`` -> ``{"metadata": {"user_id": "3"}}``,
    ``expand[]=a&expand[]=b`` (or ``expand[0]=a``) -> ``{"expand": ["a", "b"]}``.
    A dict whose keys are all digits becomes a list, except under ``metadata``.
    """
    root: dict[str, Any] = {}
    for raw_key, value in pairs:
        m = _KEY_RE.match(raw_key)
        parts = [m.group(1), *_PART_RE.findall(m.group(2))] if m else [raw_key]
        node = root
        for depth, part in enumerate(parts):
            if part == "":
                part = str(sum(1 for k in node if k.isdigit()))
            if depth == len(parts) - 1:
                node[part] = value
            else:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = {}
                    node[part] = child
                node = child
    return _listify(root, None)


def _listify(node: Any, key: str | None) -> Any:
    if not isinstance(node, dict):
        return node
    out = {k: _listify(v, k) for k, v in node.items()}
    if key is not None and key not in _DICT_ONLY_KEYS and out and all(k.isdigit() for k in out):
        return [out[k] for k in sorted(out, key=int)]
    return out


def decode_query(query: str) -> dict[str, Any]:
    return decode_form(urllib.parse.parse_qsl(query, keep_blank_values=True))


# --------------------------------------------------------------------------- events and signatures


def make_event(
    event_type: str,
    obj: dict[str, Any],
    *,
    event_id: str | None = None,
    api_version: str = DEFAULT_API_VERSION,
    previous_attributes: dict[str, Any] | None = None,
    created: int | None = None,
) -> dict[str, Any]:
    """A Stripe Event (``object: "event"``) wrapping a deep copy of ``obj``."""
    data: dict[str, Any] = {"object": copy.deepcopy(_plain(obj))}
    if previous_attributes is not None:
        data["previous_attributes"] = copy.deepcopy(previous_attributes)
    return {
        "id": event_id or f"evt_{_rand()}",
        "object": "event",
        "api_version": api_version,
        "created": int(time.time()) if created is None else created,
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def sign_payload(payload: str, secret: str, *, timestamp: int | None = None) -> str:
    """The ``Stripe-Signature`` header Stripe sends: ``t=<ts>,v1=<hex HMAC-SHA256(secret, "<ts>.<payload>")>``."""
    ts = int(time.time()) if timestamp is None else int(timestamp)
    mac = hmac.new(secret.encode("utf-8"), f"{ts}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def sign_event(event: dict[str, Any], secret: str, *, timestamp: int | None = None) -> tuple[str, str]:
    """``(payload, Stripe-Signature header)`` for an event dict, ready to POST to a webhook URL."""
    payload = json.dumps(event)
    return payload, sign_payload(payload, secret, timestamp=timestamp)


def _plain(obj: Any) -> Any:
    """Accept a StripeObject (v15: not a dict) as well as a dict."""
    to_dict = getattr(obj, "to_dict", None)
    if callable(to_dict) and not isinstance(obj, dict):
        return to_dict()
    return obj


# --------------------------------------------------------------------------- errors


class StripeAPIError(Exception):
    """Raised inside handlers; rendered as a Stripe error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",  # noqa: A002 - Stripe's field name
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
        return {"error": dict(self.error, request_log_url=None)}


def _missing(obj_type: str, obj_id: str, param: str = "id", status: int = 404) -> StripeAPIError:
    return StripeAPIError(status, f"No such {obj_type}: '{obj_id}'", code="resource_missing", param=param)


def _bad(message: str, param: str | None = None, code: str | None = None) -> StripeAPIError:
    return StripeAPIError(400, message, code=code, param=param)


def _required(param: str) -> StripeAPIError:
    return _bad(f"Missing required param: {param}.", param, "parameter_missing")


def _unknown(param: str) -> StripeAPIError:
    return _bad(f"Received unknown parameter: {param}", param, "parameter_unknown")


def _int(value: Any, param: str) -> int:
    if isinstance(value, bool):
        raise _bad(f"Invalid integer: {value}", param, "parameter_invalid_integer")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _bad(f"Invalid integer: {value}", param, "parameter_invalid_integer") from None


def _bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise _bad(f"Invalid boolean: {value}", param)


def _url(value: Any, param: str) -> str:
    parsed = urllib.parse.urlsplit(str(value))
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise _bad("Not a valid URL", param, "url_invalid")
    return str(value)


def _metadata(value: Any, param: str = "metadata") -> dict[str, str]:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise _bad("Invalid object", param)
    if len(value) > 50:
        raise _bad("Invalid metadata: metadata can have up to 50 keys", param)
    for key, val in value.items():
        if len(key) > 40:
            raise _bad(f"Invalid metadata: key `{key}` is longer than 40 characters", f"{param}[{key}]")
        if not isinstance(val, str) or len(val) > 500:
            raise _bad(f"Invalid metadata: value for `{key}` must be a string of at most 500 characters", param)
    return {k: v for k, v in value.items() if v != ""}


def _merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's update semantics: ``metadata=""`` clears all, ``metadata[k]=""`` deletes k."""
    if update == "":
        return {}
    _metadata(update)
    merged = dict(current or {})
    for key, val in update.items():
        if val == "":
            merged.pop(key, None)
        else:
            merged[key] = val
    return merged


def _add_interval(ts: int, interval: str, count: int = 1) -> int:
    if interval == "day":
        return ts + 86400 * count
    if interval == "week":
        return ts + 7 * 86400 * count
    start = dt.datetime.fromtimestamp(ts, tz=dt.UTC)
    months = count * (12 if interval == "year" else 1)
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return int(start.replace(year=year, month=month, day=day).timestamp())


# --------------------------------------------------------------------------- request records


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, Any]
    params: dict[str, Any]
    headers: dict[str, str]
    body: str = ""
    status: int | None = None  # the status the stand-in answered with
    response: Any = None  # the decoded JSON (or None for HTML pages)

    @property
    def idempotency_key(self) -> str | None:
        return self.headers.get("Idempotency-Key")

    @property
    def stripe_version(self) -> str | None:
        return self.headers.get("Stripe-Version")


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    server_version = "StripeStandIn/1.0"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls on keep-alive connections

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        standin: StripeStandIn = self.server.standin  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8") if length else ""
        reply = standin._handle(self.command, self.path, dict(self.headers.items()), body)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature of the base class
        pass


class StripeStandIn:
    """An in-memory Stripe API on 127.0.0.1 (see the module docstring)."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key  # if set, only this exact key is accepted; else any sk_test_/rk_test_ key
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[RecordedRequest] = []
        self.lock = threading.RLock()
        self.time_offset = 0  # seconds added to the clock: see advance()
        self.webhook_url: str | None = None  # set both to have hosted-page payments deliver events
        self.webhook_secret: str | None = None
        self.deliveries: list[tuple[dict[str, Any], int, str]] = []  # (event, status, body)
        self._seq: dict[str, int] = {}
        self._counter = 0
        self._line_items: dict[str, list[dict[str, Any]]] = {}
        self._session_extra: dict[str, dict[str, Any]] = {}
        self._idempotency: dict[str, tuple[str, str, dict[str, Any], _Reply]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""
        self._store(self._account())

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> StripeStandIn:
        if self._server is not None:
            return self
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.standin = self  # type: ignore[attr-defined]
        self._server = server
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="stripe-standin", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> StripeStandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ small public helpers
    def now(self) -> int:
        return int(time.time()) + self.time_offset

    def advance(self, seconds: int) -> None:
        """Move the stand-in's clock forward (``created`` of new objects, list filters)."""
        self.time_offset += int(seconds)

    def get(self, obj_id: str) -> dict[str, Any]:
        """A deep copy of a stored object (KeyError if unknown)."""
        with self.lock:
            return copy.deepcopy(self.objects[obj_id])

    def update(self, obj_id: str, **fields: Any) -> dict[str, Any]:
        """Overwrite top-level fields of a stored object; returns a copy."""
        with self.lock:
            self.objects[obj_id].update(copy.deepcopy(fields))
            return copy.deepcopy(self.objects[obj_id])

    def of_type(self, obj_type: str) -> list[dict[str, Any]]:
        """Copies of all stored objects of one type, oldest first."""
        with self.lock:
            return [copy.deepcopy(o) for o in self._ordered(obj_type)]

    def client(self, api_key: str = "sk_test_" + "x" * 24, **kwargs: Any) -> Any:
        """A ``stripe.StripeClient`` pointed at the stand-in (StripeClient ignores ``stripe.api_base``)."""
        import stripe

        return stripe.StripeClient(api_key, base_addresses={"api": self.url}, **kwargs)

    def requests_to(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        with self.lock:
            return [r for r in self.requests if r.method == method.upper() and r.path.startswith(path_prefix)]

    def event(self, event_type: str, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """``make_event`` and store it, so GET /v1/events/{id} (dj-stripe's retrieve_event) finds it."""
        evt = make_event(event_type, obj, created=kwargs.pop("created", self.now()), **kwargs)
        with self.lock:
            self._store(evt)
        return copy.deepcopy(evt)

    def deliver(
        self, event: dict[str, Any], url: str | None = None, secret: str | None = None, *, timestamp: int | None = None
    ) -> tuple[int, str]:
        """POST a signed event to a webhook URL (a live server), as Stripe does. Returns (status, body)."""
        url = url or self.webhook_url
        secret = secret or self.webhook_secret
        if not url or not secret:
            raise ValueError("deliver() needs url and secret (or standin.webhook_url/webhook_secret)")
        payload, header = sign_event(event, secret, timestamp=timestamp)
        req = urllib.request.Request(  # noqa: S310 - a local test URL
            url,
            data=payload.encode("utf-8"),
            method="POST",
            headers={"Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header},
        )
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(req, timeout=30) as resp:
                status, text = resp.status, resp.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8", "replace")
        self.deliveries.append((event, status, text))
        return status, text

    # ------------------------------------------------------------------ storage
    def _store(self, obj: dict[str, Any]) -> dict[str, Any]:
        self._counter += 1
        self._seq.setdefault(obj["id"], self._counter)
        self.objects[obj["id"]] = obj
        return obj

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{_rand(40 if prefix == 'cs_test_' else 24)}"

    def _base(self, obj_type: str, prefix: str, *, metadata: dict[str, str] | None = None) -> dict[str, Any]:
        obj: dict[str, Any] = {"id": self._new_id(prefix), "object": obj_type, "created": self.now(), "livemode": False}
        if metadata is not None:
            obj["metadata"] = metadata
        return obj

    def _ordered(self, obj_type: str) -> list[dict[str, Any]]:
        objs = [o for o in self.objects.values() if o.get("object") == obj_type]
        return sorted(objs, key=lambda o: (o.get("created", 0), self._seq.get(o["id"], 0)))

    def _find(self, obj_type: str, obj_id: Any, param: str = "id", status: int = 404) -> dict[str, Any]:
        if isinstance(obj_id, dict):
            obj_id = obj_id.get("id")
        obj = self.objects.get(obj_id) if isinstance(obj_id, str) else None
        if obj is None or obj.get("object") != obj_type or obj.get("deleted"):
            raise _missing(obj_type, str(obj_id), param, status)
        return obj

    def _require(self, obj_type: str, obj_id: str) -> dict[str, Any]:
        """For scenario helpers: a plain KeyError/ValueError, not an HTTP error."""
        obj = self.objects.get(obj_id)
        if obj is None or obj.get("object") != obj_type:
            raise KeyError(f"no {obj_type} {obj_id!r} in the stand-in")
        return obj

    # ------------------------------------------------------------------ HTTP entry point
    def _handle(self, method: str, raw_path: str, headers: dict[str, str], body: str) -> _Reply:
        split = urllib.parse.urlsplit(raw_path)
        path = split.path
        try:
            params = decode_form(urllib.parse.parse_qsl(body, keep_blank_values=True)) if body else {}
        except ValueError:
            params = {}
        record = RecordedRequest(method, path, decode_query(split.query), params, headers, body)
        with self.lock:
            self.requests.append(record)
        if not path.startswith("/v1/"):
            reply = self._hosted(method, path, params)
        else:
            with self.lock:
                reply = self._api(method, path, record)
        record.status = reply.status
        if reply.content_type == "application/json":
            record.response = json.loads(reply.body)
        return reply

    def _json(self, status: int, data: Any, record: RecordedRequest | None = None) -> _Reply:
        headers = {"Request-Id": f"req_{_rand(14)}", "Stripe-Version": DEFAULT_API_VERSION}
        if record is not None and record.stripe_version:
            headers["Stripe-Version"] = record.stripe_version
        if status >= 400:
            headers["Stripe-Should-Retry"] = "false"
        return _Reply(status, json.dumps(data).encode("utf-8"), headers=headers)

    def _api(self, method: str, path: str, record: RecordedRequest) -> _Reply:
        auth_error = self._check_auth(record.headers)
        if auth_error is not None:
            return self._json(auth_error.status, auth_error.body(), record)
        key = record.idempotency_key if method == "POST" else None
        if key:
            seen = self._idempotency.get(key)
            if seen is not None:
                if (seen[0], seen[1], seen[2]) != (method, path, record.params):
                    err = StripeAPIError(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters they were first "
                        f"used with. Try using a key other than '{key}' if you meant to execute a different request.",
                        type="idempotency_error",
                    )
                    return self._json(400, err.body(), record)
                replay = seen[3]
                return _Reply(
                    replay.status, replay.body, headers=dict(replay.headers, **{"Idempotent-Replayed": "true"})
                )
        try:
            status, data = self._route(method, path, record)
        except StripeAPIError as err:
            status, data = err.status, err.body()
        except Exception as exc:  # a bug in the stand-in: make it loud, never retried
            status, data = 500, StripeAPIError(500, f"stand-in error: {exc!r}", type="api_error").body()
        reply = self._json(status, data, record)
        if key and status < 300:  # Stripe saves no result for requests that failed validation
            self._idempotency[key] = (method, path, record.params, reply)
        return reply

    def _check_auth(self, headers: dict[str, str]) -> StripeAPIError | None:
        auth = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return StripeAPIError(
                401,
                "You did not provide an API key. You need to provide your API key in the Authorization header, "
                "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            )
        key = auth[7:].strip()
        ok = key == self.api_key if self.api_key else bool(re.fullmatch(r"(sk|rk)_test_[A-Za-z0-9]+", key))
        if not ok:
            shown = key[:8] + "*" * max(0, len(key) - 12) + key[-4:] if len(key) > 12 else key
            return StripeAPIError(401, f"Invalid API Key provided: {shown}")
        return None

    # ------------------------------------------------------------------ routing
    def _route(self, method: str, path: str, record: RecordedRequest) -> tuple[int, Any]:
        rest = path[len("/v1/") :].strip("/")
        params = record.params
        expand = _as_list(record.query.get("expand")) + _as_list(params.get("expand"))
        if rest == "account" and method == "GET":
            return 200, self.objects[ACCOUNT_ID]
        for res in sorted(RESOURCES, key=len, reverse=True):
            if rest == res or rest.startswith(res + "/"):
                obj_type = RESOURCES[res][0]
                tail = [p for p in rest[len(res) :].split("/") if p]
                return self._resource(method, res, obj_type, tail, record, expand)
        raise self._unrecognized(method, path)

    def _unrecognized(self, method: str, path: str) -> StripeAPIError:
        return StripeAPIError(
            404,
            f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at "
            "https://support.stripe.com/.",
        )

    def _resource(
        self, method: str, res: str, obj_type: str, tail: list[str], record: RecordedRequest, expand: list[str]
    ) -> tuple[int, Any]:
        params = record.params
        path = record.path
        if not tail:
            if method == "GET":
                return 200, self._list(res, obj_type, record.query, expand)
            if method == "POST":
                creator = getattr(self, f"_create_{obj_type.replace('.', '_')}", None)
                if creator is None:
                    raise self._unrecognized(method, path)
                return 200, self._expand(creator(params), expand)
            raise self._unrecognized(method, path)
        obj_id = tail[0]
        action = tail[1] if len(tail) > 1 else None
        if len(tail) > 2:
            raise self._unrecognized(method, path)
        obj = self._find(obj_type, obj_id)
        if action is None:
            if method == "GET":
                return 200, self._expand(obj, expand)
            if method == "POST":
                return 200, self._expand(self._update_object(obj, params), expand)
            if method == "DELETE":
                return 200, self._delete_object(obj, params)
        if obj_type == "checkout.session" and action == "expire" and method == "POST":
            if obj["status"] != "open":
                raise _bad(
                    f'Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has '
                    f'a status of "{obj["status"]}".'
                )
            return 200, self._expand(self.expire_session(obj["id"]), expand)
        if obj_type == "checkout.session" and action == "line_items" and method == "GET":
            items = self._line_items.get(obj["id"], [])
            return 200, self._paginate(items, record.query, f"/v1/checkout/sessions/{obj['id']}/line_items", expand)
        if obj_type == "invoice" and action == "lines" and method == "GET":
            lines = obj["lines"]["data"]
            return 200, self._paginate(lines, record.query, f"/v1/invoices/{obj['id']}/lines", expand)
        if obj_type == "product" and action == "features" and method == "GET":  # dj-stripe syncs these
            return 200, self._paginate([], record.query, f"/v1/products/{obj['id']}/features", expand)
        if obj_type == "subscription" and action == "cancel" and method == "POST":
            return 200, self.cancel_subscription(obj["id"])
        raise self._unrecognized(method, path)

    # ------------------------------------------------------------------ lists and expansion
    def _list(self, res: str, obj_type: str, query: dict[str, Any], expand: list[str]) -> dict[str, Any]:
        objs = list(reversed(self._ordered(obj_type)))  # newest first
        filters = {k: v for k, v in query.items() if k not in _LIST_CONTROL}
        if obj_type == "subscription":
            status = filters.pop("status", None)
            if status is None:
                objs = [o for o in objs if o.get("status") != "canceled"]
            elif status != "all":
                objs = [o for o in objs if o.get("status") == status]
        objs = [o for o in objs if all(_matches(o, k, v) for k, v in filters.items())]
        created = query.get("created")
        if isinstance(created, dict):
            for op, raw in created.items():
                bound = _int(raw, f"created[{op}]")
                test = {
                    "gte": lambda c, b=bound: c >= b,
                    "gt": lambda c, b=bound: c > b,
                    "lte": lambda c, b=bound: c <= b,
                    "lt": lambda c, b=bound: c < b,
                }.get(op)
                if test is None:
                    raise _unknown(f"created[{op}]")
                objs = [o for o in objs if test(o.get("created", 0))]
        elif created is not None:
            objs = [o for o in objs if o.get("created") == _int(created, "created")]
        return self._paginate(objs, query, f"/v1/{res}", expand)

    def _paginate(
        self, objs: list[dict[str, Any]], query: dict[str, Any], url: str, expand: list[str]
    ) -> dict[str, Any]:
        limit = _int(query.get("limit", 10), "limit")
        if not 1 <= limit <= 100:
            raise _bad("Invalid limit: must be between 1 and 100", "limit")
        ids = [o["id"] for o in objs]
        after, before = query.get("starting_after"), query.get("ending_before")
        if after:
            if after not in ids:
                raise _missing(objs[0]["object"] if objs else "object", after, "starting_after", 400)
            page = objs[ids.index(after) + 1 :]
            chunk, has_more = page[:limit], len(page) > limit
        elif before:
            if before not in ids:
                raise _missing(objs[0]["object"] if objs else "object", before, "ending_before", 400)
            page = objs[: ids.index(before)]
            chunk, has_more = page[-limit:], len(page) > limit
        else:
            chunk, has_more = objs[:limit], len(objs) > limit
        item_expand = [e[len("data.") :] for e in expand if e.startswith("data.")]
        return {
            "object": "list",
            "data": [self._expand(o, item_expand) for o in chunk],
            "has_more": has_more,
            "url": url,
        }

    def _expand(self, obj: dict[str, Any], paths: Iterable[str]) -> dict[str, Any]:
        out = copy.deepcopy(obj)
        for path_ in paths:
            self._expand_path(out, path_.split("."))
        return out

    def _expand_path(self, node: Any, parts: list[str]) -> None:
        if isinstance(node, list):
            for item in node:
                self._expand_path(item, parts)
            return
        if not isinstance(node, dict) or not parts:
            return
        head, rest = parts[0], parts[1:]
        value = node.get(head)
        if isinstance(value, str) and value in self.objects:
            value = copy.deepcopy(self.objects[value])
            node[head] = value
        elif head not in node:
            value = self._virtual_field(node, head)
            if value is None:
                return
            node[head] = value
        if rest:
            self._expand_path(value, rest)

    def _virtual_field(self, node: dict[str, Any], name: str) -> Any:
        """Fields Stripe includes only when expanded."""
        obj_type = node.get("object")
        if obj_type == "checkout.session" and name == "line_items":
            items = copy.deepcopy(self._line_items.get(node["id"], []))
            url = f"/v1/checkout/sessions/{node['id']}/line_items"
            return {"object": "list", "data": items, "has_more": False, "url": url}
        if obj_type == "charge" and name == "refunds":
            refunds = [o for o in reversed(self._ordered("refund")) if o.get("charge") == node["id"]]
            return {
                "object": "list",
                "data": copy.deepcopy(refunds),
                "has_more": False,
                "url": f"/v1/charges/{node['id']}/refunds",
            }
        if obj_type == "invoice" and name == "payments":
            pays = [o for o in reversed(self._ordered("invoice_payment")) if o.get("invoice") == node["id"]]
            return {
                "object": "list",
                "data": copy.deepcopy(pays),
                "has_more": False,
                "url": f"/v1/invoices/{node['id']}/payments",
            }
        if obj_type == "customer" and name == "sources":
            return {"object": "list", "data": [], "has_more": False, "url": f"/v1/customers/{node['id']}/sources"}
        if obj_type == "item" and name == "discounts":
            return []
        if obj_type is None and name == "breakdown":  # checkout.session total_details.breakdown
            return {"discounts": [], "taxes": []}
        return None

    # ------------------------------------------------------------------ generic update/delete
    def _update_object(self, obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        params = {k: v for k, v in params.items() if k != "expand"}
        obj_type = obj["object"]
        if obj_type == "price":
            return self._update_price(obj, params)
        if obj_type == "customer":
            allowed = None
        elif obj_type == "product":
            allowed = {
                "active",
                "description",
                "images",
                "metadata",
                "name",
                "statement_descriptor",
                "tax_code",
                "unit_label",
                "url",
                "default_price",
                "marketing_features",
                "shippable",
            }
        elif obj_type == "subscription":
            allowed = {"metadata", "description", "cancel_at_period_end", "cancel_at", "default_payment_method"}
        elif obj_type in ("checkout.session", "payment_intent", "charge", "invoice", "dispute", "refund"):
            allowed = {"metadata", "description"}
        else:
            raise self._unrecognized("POST", f"/v1/{_PATH_FOR_TYPE[obj_type]}/{obj['id']}")
        for key, value in params.items():
            if allowed is not None and key not in allowed:
                raise _unknown(key)
            if key == "metadata":
                obj["metadata"] = _merge_metadata(obj.get("metadata") or {}, value)
            elif key in ("active", "cancel_at_period_end", "shippable"):
                obj[key] = _bool(value, key)
            elif key == "default_price":
                self._find("price", value, "default_price", 400)
                obj[key] = value
            elif isinstance(value, dict) and isinstance(obj.get(key), dict):
                obj[key] = _deep_merge(obj[key], value)
            else:
                obj[key] = None if value == "" else value
        if obj_type == "product":
            obj["updated"] = self.now()
        if obj_type == "subscription" and "cancel_at_period_end" in params:
            end = obj["items"]["data"][0]["current_period_end"] if obj["items"]["data"] else None
            obj["cancel_at"] = end if obj["cancel_at_period_end"] else None
            obj["canceled_at"] = self.now() if obj["cancel_at_period_end"] else None
        return obj

    def _delete_object(self, obj: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        if obj["object"] == "subscription":
            return self.cancel_subscription(obj["id"])
        if obj["object"] in ("customer", "product"):
            obj["deleted"] = True
            return {"id": obj["id"], "object": obj["object"], "deleted": True}
        raise self._unrecognized("DELETE", f"/v1/{_PATH_FOR_TYPE[obj['object']]}/{obj['id']}")

    # ------------------------------------------------------------------ builders: account, customer, product, price
    def _account(self) -> dict[str, Any]:
        return {
            "id": ACCOUNT_ID,
            "object": "account",
            "business_profile": {
                "mcc": None,
                "name": "Mirsam (stand-in)",
                "support_email": None,
                "support_phone": None,
                "support_url": None,
                "url": None,
            },
            "business_type": "company",
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "country": "US",
            "created": 1700000000,
            "default_currency": "usd",
            "details_submitted": True,
            "email": "billing@example.com",
            "external_accounts": {
                "object": "list",
                "data": [],
                "has_more": False,
                "url": f"/v1/accounts/{ACCOUNT_ID}/external_accounts",
            },
            "livemode": False,
            "metadata": {},
            "payouts_enabled": True,
            "settings": {
                "branding": {"icon": None, "logo": None, "primary_color": None, "secondary_color": None},
                "dashboard": {"display_name": "Mirsam", "timezone": "Etc/UTC"},
                "payments": {"statement_descriptor": "MIRSAM"},
            },
            "type": "standard",
        }

    def _create_customer(self, params: dict[str, Any]) -> dict[str, Any]:
        known = {
            "email",
            "name",
            "metadata",
            "description",
            "phone",
            "preferred_locales",
            "address",
            "invoice_settings",
            "payment_method",
            "shipping",
            "tax_exempt",
            "test_clock",
            "expand",
        }
        for key in params:
            if key not in known:
                raise _unknown(key)
        cus = self._base("customer", "cus_", metadata=_metadata(params.get("metadata")))
        cus.update(
            {
                "address": params.get("address"),
                "balance": 0,
                "currency": None,
                "default_source": None,
                "delinquent": False,
                "description": params.get("description"),
                "discount": None,
                "email": params.get("email"),
                "invoice_prefix": _rand(8).upper(),
                "invoice_settings": {
                    "custom_fields": None,
                    "default_payment_method": None,
                    "footer": None,
                    "rendering_options": None,
                },
                "name": params.get("name"),
                "next_invoice_sequence": 1,
                "phone": params.get("phone"),
                "preferred_locales": params.get("preferred_locales") or [],
                "shipping": params.get("shipping"),
                "tax_exempt": params.get("tax_exempt", "none"),
                "test_clock": None,
            }
        )
        return self._store(cus)

    def _create_product(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("name"):
            raise _required("name")
        prod = self._base("product", "prod_", metadata=_metadata(params.get("metadata")))
        prod.update(
            {
                "active": _bool(params.get("active", True), "active"),
                "attributes": [],
                "default_price": None,
                "description": params.get("description"),
                "images": params.get("images") or [],
                "marketing_features": [],
                "name": params["name"],
                "package_dimensions": None,
                "shippable": None,
                "statement_descriptor": params.get("statement_descriptor"),
                "tax_code": params.get("tax_code"),
                "type": "service",
                "unit_label": params.get("unit_label"),
                "updated": prod["created"],
                "url": params.get("url"),
            }
        )
        if params.get("id"):
            prod["id"] = params["id"]
        self._store(prod)
        if isinstance(params.get("default_price_data"), dict):
            price = self._create_price({**params["default_price_data"], "product": prod["id"]})
            prod["default_price"] = price["id"]
        return prod

    def _create_price(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("currency"):
            raise _required("currency")
        product_id = params.get("product")
        if product_id is None and isinstance(params.get("product_data"), dict):
            product_id = self._create_product(params["product_data"])["id"]
        if product_id is None:
            raise _required("product")
        self._find("product", product_id, "product", 400)
        if "unit_amount" not in params and "unit_amount_decimal" not in params and "custom_unit_amount" not in params:
            raise _required("unit_amount")
        unit_amount = _int(params.get("unit_amount", params.get("unit_amount_decimal", 0)), "unit_amount")
        if unit_amount < 0:
            raise _bad("This value must be greater than or equal to 0.", "unit_amount")
        recurring = params.get("recurring")
        if recurring is not None:
            interval = recurring.get("interval") if isinstance(recurring, dict) else None
            if interval not in ("day", "week", "month", "year"):
                raise _bad(
                    "Invalid recurring[interval]: must be one of day, month, week, or year", "recurring[interval]"
                )
            recurring = {
                "interval": interval,
                "interval_count": _int(recurring.get("interval_count", 1), "recurring[interval_count]"),
                "meter": None,
                "trial_period_days": None,
                "usage_type": recurring.get("usage_type", "licensed"),
            }
        lookup_key = params.get("lookup_key")
        if lookup_key:
            self._claim_lookup_key(lookup_key, _bool(params.get("transfer_lookup_key", False), "transfer_lookup_key"))
        price = self._base("price", "price_", metadata=_metadata(params.get("metadata")))
        price.update(
            {
                "active": _bool(params.get("active", True), "active"),
                "billing_scheme": "per_unit",
                "currency": str(params["currency"]).lower(),
                "custom_unit_amount": None,
                "lookup_key": lookup_key or None,
                "nickname": params.get("nickname"),
                "product": product_id,
                "recurring": recurring,
                "tax_behavior": params.get("tax_behavior", "unspecified"),
                "tiers_mode": None,
                "transform_quantity": None,
                "type": "recurring" if recurring else "one_time",
                "unit_amount": unit_amount,
                "unit_amount_decimal": str(unit_amount),
            }
        )
        return self._store(price)

    def _claim_lookup_key(self, lookup_key: str, transfer: bool, except_id: str | None = None) -> None:
        for other in self._ordered("price"):
            if other.get("lookup_key") == lookup_key and other["id"] != except_id:
                if not transfer:
                    raise _bad(
                        f"A price (`{other['id']}`) already uses that lookup key. Pass `transfer_lookup_key=true` "
                        "to transfer the lookup key to this price.",
                        "lookup_key",
                    )
                other["lookup_key"] = None

    def _update_price(self, price: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        allowed = {
            "active",
            "metadata",
            "lookup_key",
            "nickname",
            "tax_behavior",
            "transfer_lookup_key",
            "currency_options",
        }
        for key in params:
            if key not in allowed:
                raise _unknown(key)
        if "lookup_key" in params and params["lookup_key"]:
            transfer = _bool(params.get("transfer_lookup_key", False), "transfer_lookup_key")
            self._claim_lookup_key(params["lookup_key"], transfer, except_id=price["id"])
        for key, value in params.items():
            if key == "metadata":
                price["metadata"] = _merge_metadata(price.get("metadata") or {}, value)
            elif key == "active":
                price["active"] = _bool(value, "active")
            elif key in ("lookup_key", "nickname", "tax_behavior"):
                price[key] = value or None
        return price

    # ------------------------------------------------------------------ checkout sessions
    def _create_checkout_session(self, params: dict[str, Any]) -> dict[str, Any]:
        mode = params.get("mode")
        if mode is None:
            raise _required("mode")
        if mode not in ("payment", "subscription", "setup"):
            raise _bad("Invalid mode: must be one of payment, setup, or subscription", "mode")
        if mode != "payment" and "payment_intent_data" in params:
            raise _bad(f"You can not pass `payment_intent_data` in `{mode}` mode.", "payment_intent_data")
        if mode != "subscription" and "subscription_data" in params:
            raise _bad(f"You can not pass `subscription_data` in `{mode}` mode.", "subscription_data")
        if params.get("customer") and params.get("customer_email"):
            raise _bad(
                "You may only specify one of these parameters: customer, customer_email.",
                "customer",
                "parameters_exclusive",
            )
        customer = params.get("customer")
        if customer:
            self._find("customer", customer, "customer", 400)
        locale = params.get("locale")
        if locale is not None and locale not in CHECKOUT_LOCALES:
            raise _bad(f"Invalid locale: must be one of {', '.join(sorted(CHECKOUT_LOCALES))}", "locale")
        for url_param in ("success_url", "cancel_url"):
            if params.get(url_param) is not None:
                _url(params[url_param], url_param)
        metadata = _metadata(params.get("metadata"))
        for sub in ("payment_intent_data", "subscription_data"):
            if isinstance(params.get(sub), dict) and "metadata" in params[sub]:
                _metadata(params[sub]["metadata"], f"{sub}[metadata]")
        ref = params.get("client_reference_id")
        if ref is not None and len(str(ref)) > 200:
            raise _bad("client_reference_id must be at most 200 characters", "client_reference_id")
        line_items = self._checkout_line_items(params, mode)
        amount = sum(li["amount_total"] for li in line_items)
        currency = line_items[0]["currency"] if line_items else params.get("currency")
        session = self._base("checkout.session", "cs_test_", metadata=metadata)
        created = session["created"]
        session.update(
            {
                "adaptive_pricing": {"enabled": False},
                "after_expiration": None,
                "allow_promotion_codes": params.get("allow_promotion_codes"),
                "amount_subtotal": amount,
                "amount_total": amount,
                "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
                "billing_address_collection": params.get("billing_address_collection"),
                "cancel_url": params.get("cancel_url"),
                "client_reference_id": ref,
                "client_secret": None,
                "consent": None,
                "consent_collection": params.get("consent_collection"),
                "currency": currency,
                "custom_fields": [],
                "custom_text": {
                    "after_submit": None,
                    "shipping_address": None,
                    "submit": None,
                    "terms_of_service_acceptance": None,
                },
                "customer": customer or None,
                "customer_creation": (params.get("customer_creation") or "if_required")
                if mode == "payment" and not customer
                else None,
                "customer_details": None,
                "customer_email": params.get("customer_email"),
                "discounts": [],
                "expires_at": _int(params.get("expires_at", created + 86400), "expires_at"),
                "invoice": None,
                "invoice_creation": {
                    "enabled": False,
                    "invoice_data": {
                        "account_tax_ids": None,
                        "custom_fields": None,
                        "description": None,
                        "footer": None,
                        "issuer": None,
                        "metadata": {},
                        "rendering_options": None,
                    },
                }
                if mode == "payment"
                else None,
                "locale": locale,
                "mode": mode,
                "payment_intent": None,
                "payment_link": None,
                "payment_method_collection": "always" if mode == "subscription" else None,
                "payment_method_configuration_details": None,
                "payment_method_options": {},
                "payment_method_types": params.get("payment_method_types") or ["card"],
                "payment_status": "no_payment_required" if mode == "setup" else "unpaid",
                "phone_number_collection": {"enabled": False},
                "recovered_from": None,
                "saved_payment_method_options": None,
                "setup_intent": None,
                "shipping_address_collection": None,
                "shipping_cost": None,
                "shipping_options": [],
                "status": "open",
                "submit_type": params.get("submit_type"),
                "subscription": None,
                "success_url": params.get("success_url"),
                "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
                "ui_mode": params.get("ui_mode", "hosted"),
                "url": None,
                "wallet_options": None,
            }
        )
        session["url"] = f"{self.url}/c/pay/{session['id']}"
        # Kept for complete_session (Stripe does not echo these on the session object).
        session_extra = {
            "payment_intent_data": params.get("payment_intent_data") or {},
            "subscription_data": params.get("subscription_data") or {},
        }
        self._session_extra[session["id"]] = session_extra
        self._line_items[session["id"]] = line_items
        return self._store(session)

    def _checkout_line_items(self, params: dict[str, Any], mode: str) -> list[dict[str, Any]]:
        raw = params.get("line_items")
        if mode == "setup":
            return []
        if not raw:
            raise _required("line_items")
        if not isinstance(raw, list):
            raise _bad("Invalid array", "line_items")
        items = []
        for i, entry in enumerate(raw):
            where = f"line_items[{i}]"
            if not isinstance(entry, dict):
                raise _bad("Invalid object", where)
            if entry.get("price"):
                price = self._find("price", entry["price"], f"{where}[price]", 400)
                if not price.get("active", True):
                    raise _bad(
                        "The price specified is inactive. This field only accepts active prices.", f"{where}[price]"
                    )
            elif isinstance(entry.get("price_data"), dict):
                data = dict(entry["price_data"])
                if "product" not in data and "product_data" not in data:
                    raise _bad(
                        "You must specify either `product` or `product_data` when creating a price.",
                        f"{where}[price_data]",
                    )
                price = self._create_price(data)
                price["active"] = False  # Stripe archives ad-hoc prices
            else:
                raise _bad("You must specify either `price` or `price_data`.", where)
            if "quantity" not in entry:
                raise _required(f"{where}[quantity]")
            quantity = _int(entry["quantity"], f"{where}[quantity]")
            if quantity < 1:
                raise _bad("This value must be greater than or equal to 1.", f"{where}[quantity]")
            if mode == "payment" and price["type"] == "recurring":
                raise _bad(
                    "You specified `payment` mode but passed a recurring price. Either switch to "
                    "`subscription` mode or use only one-time prices.",
                    f"{where}[price]",
                )
            product = self.objects.get(price["product"], {})
            total = price["unit_amount"] * quantity
            items.append(
                {
                    "id": f"li_{_rand()}",
                    "object": "item",
                    "amount_discount": 0,
                    "amount_subtotal": total,
                    "amount_tax": 0,
                    "amount_total": total,
                    "currency": price["currency"],
                    "description": product.get("name"),
                    "price": copy.deepcopy(price),
                    "quantity": quantity,
                }
            )
        if mode == "subscription" and not any(li["price"]["type"] == "recurring" for li in items):
            raise _bad(
                "You must provide at least one recurring price in `subscription` mode when using prices.", "line_items"
            )
        return items

    # ------------------------------------------------------------------ billing portal
    def _create_billing_portal_session(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("customer"):
            raise _required("customer")
        self._find("customer", params["customer"], "customer", 400)
        if params.get("return_url") is not None:
            _url(params["return_url"], "return_url")
        locale = params.get("locale")
        if locale is not None and locale not in PORTAL_LOCALES:
            raise _bad(f"Invalid locale: must be one of {', '.join(sorted(PORTAL_LOCALES))}", "locale")
        bps = self._base("billing_portal.session", "bps_")
        bps.update(
            {
                "configuration": params.get("configuration") or "bpc_standin",
                "customer": params["customer"],
                "flow": params.get("flow_data"),
                "locale": locale,
                "on_behalf_of": None,
                "return_url": params.get("return_url"),
                "url": f"{self.url}/p/session/{bps['id']}",
            }
        )
        return self._store(bps)

    # ------------------------------------------------------------------ refunds through the API
    def _create_refund(self, params: dict[str, Any]) -> dict[str, Any]:
        charge_id = params.get("charge")
        if not charge_id and params.get("payment_intent"):
            pi = self._find("payment_intent", params["payment_intent"], "payment_intent", 400)
            charge_id = pi.get("latest_charge")
            if not charge_id:
                raise _bad("This PaymentIntent does not have a successful charge to refund.", "payment_intent")
        if not charge_id:
            raise _bad("One of the following params should be provided for this request: payment_intent or charge.")
        charge = self._find("charge", charge_id, "charge", 400)
        amount = _int(params["amount"], "amount") if "amount" in params else None
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise _bad(f"Charge {charge_id} has already been refunded.", code="charge_already_refunded")
        if amount is not None and amount > remaining:
            raise _bad(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                "amount",
                "amount_too_large",
            )
        return self._refund(charge, amount, params.get("reason"), _metadata(params.get("metadata")))

    # ------------------------------------------------------------------ payment building blocks
    def _payment_method(self, customer: str | None, email: str | None) -> dict[str, Any]:
        pm = self._base("payment_method", "pm_", metadata={})
        pm.update(
            {
                "allow_redisplay": "unspecified",
                "billing_details": {
                    "address": {
                        "city": None,
                        "country": "US",
                        "line1": None,
                        "line2": None,
                        "postal_code": "10001",
                        "state": None,
                    },
                    "email": email,
                    "name": None,
                    "phone": None,
                    "tax_id": None,
                },
                "card": {
                    "brand": "visa",
                    "checks": {"address_line1_check": None, "address_postal_code_check": "pass", "cvc_check": "pass"},
                    "country": "US",
                    "display_brand": "visa",
                    "exp_month": 12,
                    "exp_year": 2034,
                    "fingerprint": _rand(16),
                    "funding": "credit",
                    "generated_from": None,
                    "last4": "4242",
                    "networks": {"available": ["visa"], "preferred": None},
                    "regulated_status": "unregulated",
                    "three_d_secure_usage": {"supported": True},
                    "wallet": None,
                },
                "customer": customer,
                "type": "card",
            }
        )
        return self._store(pm)

    def _payment_intent(
        self,
        *,
        amount: int,
        currency: str,
        customer: str | None,
        pm: dict[str, Any],
        metadata: dict[str, str],
        description: str | None,
        status: str,
    ) -> dict[str, Any]:
        pi = self._base("payment_intent", "pi_", metadata=dict(metadata))
        pi.update(
            {
                "amount": amount,
                "amount_capturable": 0,
                "amount_details": {"tip": {}},
                "amount_received": amount if status == "succeeded" else 0,
                "application": None,
                "application_fee_amount": None,
                "automatic_payment_methods": None,
                "canceled_at": None,
                "cancellation_reason": None,
                "capture_method": "automatic_async",
                "client_secret": f"{_rand(27)}_secret_{_rand(25)}",
                "confirmation_method": "automatic",
                "currency": currency,
                "customer": customer,
                "description": description,
                "last_payment_error": None,
                "latest_charge": None,
                "next_action": None,
                "on_behalf_of": None,
                "payment_method": pm["id"],
                "payment_method_configuration_details": None,
                "payment_method_options": {"card": {"request_three_d_secure": "automatic"}},
                "payment_method_types": ["card"],
                "processing": None,
                "receipt_email": None,
                "review": None,
                "setup_future_usage": None,
                "shipping": None,
                "source": None,
                "statement_descriptor": None,
                "statement_descriptor_suffix": None,
                "status": status,
                "transfer_data": None,
                "transfer_group": None,
            }
        )
        pi["client_secret"] = f"{pi['id']}_secret_{_rand(25)}"
        return self._store(pi)

    def _balance_transaction(self, amount: int, currency: str, source: str, kind: str) -> dict[str, Any]:
        fee = round(abs(amount) * 0.029) + 30 if kind == "charge" else 0
        txn = self._base("balance_transaction", "txn_")
        txn.update(
            {
                "amount": amount,
                "available_on": txn["created"] + 2 * 86400,
                "currency": currency,
                "description": None,
                "exchange_rate": None,
                "fee": fee,
                "fee_details": [
                    {
                        "amount": fee,
                        "application": None,
                        "currency": currency,
                        "description": "Stripe processing fees",
                        "type": "stripe_fee",
                    }
                ]
                if fee
                else [],
                "net": amount - fee,
                "reporting_category": kind,
                "source": source,
                "status": "pending",
                "type": kind,
            }
        )
        return self._store(txn)

    def _charge(self, pi: dict[str, Any], email: str | None) -> dict[str, Any]:
        ch = self._base("charge", "ch_", metadata=dict(pi.get("metadata") or {}))
        txn = self._balance_transaction(pi["amount"], pi["currency"], ch["id"], "charge")
        pm = self.objects[pi["payment_method"]]
        ch.update(
            {
                "amount": pi["amount"],
                "amount_captured": pi["amount"],
                "amount_refunded": 0,
                "application": None,
                "application_fee": None,
                "application_fee_amount": None,
                "balance_transaction": txn["id"],
                "billing_details": copy.deepcopy(pm["billing_details"]),
                "calculated_statement_descriptor": "MIRSAM",
                "captured": True,
                "currency": pi["currency"],
                "customer": pi.get("customer"),
                "description": pi.get("description"),
                "disputed": False,
                "failure_balance_transaction": None,
                "failure_code": None,
                "failure_message": None,
                "fraud_details": {},
                "on_behalf_of": None,
                "outcome": {
                    "advice_code": None,
                    "network_advice_code": None,
                    "network_decline_code": None,
                    "network_status": "approved_by_network",
                    "reason": None,
                    "risk_level": "normal",
                    "risk_score": 32,
                    "seller_message": "Payment complete.",
                    "type": "authorized",
                },
                "paid": True,
                "payment_intent": pi["id"],
                "payment_method": pm["id"],
                "payment_method_details": {
                    "card": {
                        "brand": "visa",
                        "country": "US",
                        "exp_month": 12,
                        "exp_year": 2034,
                        "funding": "credit",
                        "last4": "4242",
                        "network": "visa",
                    },
                    "type": "card",
                },
                "radar_options": {},
                "receipt_email": email,
                "receipt_number": None,
                "receipt_url": f"{self.url}/receipts/{ch['id']}",
                "refunded": False,
                "review": None,
                "shipping": None,
                "source": None,
                "source_transfer": None,
                "statement_descriptor": None,
                "statement_descriptor_suffix": None,
                "status": "succeeded",
                "transfer_data": None,
                "transfer_group": None,
            }
        )
        self._store(ch)
        pi["latest_charge"] = ch["id"]
        pi["status"] = "succeeded"
        pi["amount_received"] = pi["amount"]
        return ch

    def _refund(
        self, charge: dict[str, Any], amount: int | None, reason: str | None, metadata: dict[str, str]
    ) -> dict[str, Any]:
        remaining = charge["amount"] - charge["amount_refunded"]
        amount = remaining if amount is None else amount
        refund = self._base("refund", "re_", metadata=metadata)
        txn = self._balance_transaction(-amount, charge["currency"], refund["id"], "refund")
        refund.update(
            {
                "amount": amount,
                "balance_transaction": txn["id"],
                "charge": charge["id"],
                "currency": charge["currency"],
                "destination_details": {
                    "card": {
                        "reference_status": "pending",
                        "reference_type": "acquirer_reference_number",
                        "type": "refund",
                    },
                    "type": "card",
                },
                "payment_intent": charge.get("payment_intent"),
                "reason": reason,
                "receipt_number": None,
                "source_transfer_reversal": None,
                "status": "succeeded",
                "transfer_reversal": None,
            }
        )
        self._store(refund)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return refund

    # ------------------------------------------------------------------ scenario helpers
    def create_customer(self, **params: Any) -> dict[str, Any]:
        """Seed a customer directly (same shape as POST /v1/customers)."""
        with self.lock:
            return copy.deepcopy(self._create_customer(_stringify(params)))

    def create_product(self, **params: Any) -> dict[str, Any]:
        with self.lock:
            return copy.deepcopy(self._create_product(_stringify(params)))

    def create_price(self, **params: Any) -> dict[str, Any]:
        """Seed a price, e.g. ``create_price(product=p["id"], unit_amount=500, currency="usd",
        recurring={"interval": "month"}, lookup_key="pro")``; ``product_data={"name": ...}`` works too."""
        with self.lock:
            return copy.deepcopy(self._create_price(_stringify(params)))

    def create_checkout_session(self, **params: Any) -> dict[str, Any]:
        """Seed a session without going through HTTP (same validation as POST /v1/checkout/sessions)."""
        with self.lock:
            return copy.deepcopy(self._create_checkout_session(_stringify(params)))

    def complete_session(self, session_id: str, *, paid: bool = True, email: str | None = None) -> dict[str, Any]:
        """What Stripe does when the customer pays on the hosted page.

        payment mode: PaymentIntent (metadata from payment_intent_data[metadata]) and, when ``paid``, a
        Charge; ``paid=False`` models a delayed method (payment_status "unpaid", PI "processing"; finish
        it with ``complete_async_payment``). subscription mode: a Subscription (metadata from
        subscription_data[metadata]) and its first Invoice via ``pay_invoice``. Returns the session.
        """
        with self.lock:
            session = self._require("checkout.session", session_id)
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
            extra = self._session_extra.get(session_id, {})
            mode = session["mode"]
            customer_id = session.get("customer")
            if customer_id is None and (mode == "subscription" or session.get("customer_creation") == "always"):
                customer_id = self._create_customer(
                    {"email": email or session.get("customer_email") or "customer@example.com"}
                )["id"]
                session["customer"] = customer_id
            customer = self.objects.get(customer_id) if customer_id else None
            buyer_email = (
                email or (customer or {}).get("email") or session.get("customer_email") or "customer@example.com"
            )
            session["customer_details"] = {
                "address": {
                    "city": None,
                    "country": "US",
                    "line1": None,
                    "line2": None,
                    "postal_code": "10001",
                    "state": None,
                },
                "business_name": None,
                "email": buyer_email,
                "individual_name": None,
                "name": (customer or {}).get("name"),
                "phone": None,
                "tax_exempt": "none",
                "tax_ids": [],
            }
            session["status"] = "complete"
            if mode == "payment":
                pi_data = extra.get("payment_intent_data") or {}
                pm = self._payment_method(customer_id, buyer_email)
                pi = self._payment_intent(
                    amount=session["amount_total"],
                    currency=session["currency"],
                    customer=customer_id,
                    pm=pm,
                    metadata=_metadata(pi_data.get("metadata")),
                    description=pi_data.get("description"),
                    status="succeeded" if paid else "processing",
                )
                session["payment_intent"] = pi["id"]
                if paid:
                    self._charge(pi, buyer_email)
                session["payment_status"] = "paid" if paid else "unpaid"
            elif mode == "subscription":
                sub = self._subscription(session, customer_id, extra.get("subscription_data") or {})
                session["subscription"] = sub["id"]
                start = sub["items"]["data"][0]["current_period_start"]
                end = sub["items"]["data"][0]["current_period_end"]
                invoice = self._pay_invoice(sub["id"], start, end, paid=paid, email=buyer_email)
                session["invoice"] = invoice["id"]
                session["payment_status"] = "paid" if paid else "unpaid"
            else:
                session["payment_status"] = "no_payment_required"
            return copy.deepcopy(session)

    def complete_async_payment(self, session_id: str, *, succeeded: bool = True) -> dict[str, Any]:
        """Settle a delayed payment (``complete_session(paid=False)``): the state behind
        checkout.session.async_payment_succeeded / _failed. Returns the session."""
        with self.lock:
            session = self._require("checkout.session", session_id)
            if session["status"] != "complete" or session["payment_status"] != "unpaid":
                raise ValueError(f"checkout session {session_id} has no pending payment")
            if session["mode"] != "payment":
                raise ValueError("complete_async_payment supports payment mode sessions")
            pi = self.objects[session["payment_intent"]]
            if succeeded:
                self._charge(pi, session["customer_details"]["email"])
                session["payment_status"] = "paid"
            else:
                pi["status"] = "requires_payment_method"
                pi["last_payment_error"] = {
                    "code": "payment_intent_payment_attempt_failed",
                    "message": "The payment failed.",
                    "type": "invalid_request_error",
                }
            return copy.deepcopy(session)

    def expire_session(self, session_id: str) -> dict[str, Any]:
        """Stripe's expiry (or POST .../expire): status "expired", url None."""
        with self.lock:
            session = self._require("checkout.session", session_id)
            if session["status"] != "open":
                raise ValueError(f"checkout session {session_id} is {session['status']}, not open")
            session["status"] = "expired"
            session["url"] = None
            return copy.deepcopy(session)

    def _subscription(self, session: dict[str, Any], customer_id: str, sub_data: dict[str, Any]) -> dict[str, Any]:
        now = self.now()
        sub = self._base("subscription", "sub_", metadata=_metadata(sub_data.get("metadata")))
        items = []
        for li in self._line_items.get(session["id"], []):
            price = li["price"]
            if price["type"] != "recurring":
                continue
            rec = price["recurring"]
            si = self._base("subscription_item", "si_", metadata={})
            si.update(
                {
                    "billing_thresholds": None,
                    "current_period_end": _add_interval(now, rec["interval"], rec["interval_count"]),
                    "current_period_start": now,
                    "discounts": [],
                    "price": copy.deepcopy(self.objects.get(price["id"], price)),
                    "quantity": li["quantity"],
                    "subscription": sub["id"],
                    "tax_rates": [],
                }
            )
            items.append(self._store(si))
        pm = self._payment_method(customer_id, None)
        sub.update(
            {
                "application": None,
                "application_fee_percent": None,
                "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
                "billing_cycle_anchor": now,
                "billing_cycle_anchor_config": None,
                "billing_mode": {"flexible": None, "type": "classic"},
                "billing_thresholds": None,
                "cancel_at": None,
                "cancel_at_period_end": False,
                "canceled_at": None,
                "cancellation_details": {"comment": None, "feedback": None, "reason": None},
                "collection_method": "charge_automatically",
                "currency": session["currency"],
                "customer": customer_id,
                "days_until_due": None,
                "default_payment_method": pm["id"],
                "default_source": None,
                "default_tax_rates": [],
                "description": sub_data.get("description"),
                "discounts": [],
                "ended_at": None,
                "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
                "items": {},
                "latest_invoice": None,
                "next_pending_invoice_item_invoice": None,
                "on_behalf_of": None,
                "pause_collection": None,
                "payment_settings": {
                    "payment_method_options": None,
                    "payment_method_types": None,
                    "save_default_payment_method": "off",
                },
                "pending_invoice_item_interval": None,
                "pending_setup_intent": None,
                "pending_update": None,
                "schedule": None,
                "start_date": now,
                "status": "incomplete",
                "test_clock": None,
                "transfer_data": None,
                "trial_end": None,
                "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
                "trial_start": None,
            }
        )
        self._store(sub)
        self._sync_items(sub)
        return sub

    def _sync_items(self, sub: dict[str, Any]) -> None:
        items = [o for o in self._ordered("subscription_item") if o["subscription"] == sub["id"]]
        sub["items"] = {
            "object": "list",
            "data": copy.deepcopy(items),
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={sub['id']}",
        }

    def pay_invoice(
        self,
        subscription_id: str,
        *,
        period_start: int | None = None,
        period_end: int | None = None,
        paid: bool = True,
    ) -> dict[str, Any]:
        """A subscription Invoice in dahlia shape, as Stripe makes at each period.

        ``billing_reason`` is "subscription_create" for the subscription's first invoice, then
        "subscription_cycle". The subscription id is at ``parent.subscription_details.subscription``
        (no top-level ``subscription``/``charge``/``payment_intent`` since basil), the price at
        ``lines.data[0].pricing.price_details.price``, the billed period at ``lines.data[0].period``.
        Also creates a PaymentIntent, a Charge (if ``paid``), an InvoicePayment (GET
        /v1/invoice_payments?payment[payment_intent]=pi_...) and moves the subscription items'
        current_period_start/end. ``paid=False`` models a failed renewal: invoice "open",
        subscription "past_due" (or "incomplete" for the first). Periods default to the next one.
        """
        with self.lock:
            sub = self._require("subscription", subscription_id)
            item = self.objects[sub["items"]["data"][0]["id"]]
            if period_start is None:
                has_invoice = any(
                    _sub_of_invoice(o) == subscription_id for o in self.objects.values() if o.get("object") == "invoice"
                )
                period_start = item["current_period_end"] if has_invoice else item["current_period_start"]
            if period_end is None:
                rec = item["price"]["recurring"]
                period_end = _add_interval(period_start, rec["interval"], rec["interval_count"])
            return copy.deepcopy(self._pay_invoice(subscription_id, period_start, period_end, paid=paid))

    def _pay_invoice(
        self, subscription_id: str, period_start: int, period_end: int, *, paid: bool, email: str | None = None
    ) -> dict[str, Any]:
        sub = self.objects[subscription_id]
        customer = self.objects.get(sub["customer"]) or {}
        previous = [o for o in self._ordered("invoice") if _sub_of_invoice(o) == subscription_id]
        first = not previous
        items = [self.objects[i["id"]] for i in sub["items"]["data"]]
        currency = sub["currency"]
        invoice = self._base("invoice", "in_", metadata={})
        now = invoice["created"]
        lines = []
        for item in items:
            price = item["price"]
            product = self.objects.get(price["product"], {})
            amount = price["unit_amount"] * item["quantity"]
            lines.append(
                {
                    "id": f"il_{_rand()}",
                    "object": "line_item",
                    "amount": amount,
                    "currency": currency,
                    "description": f"{item['quantity']} × {product.get('name', 'Subscription')}",
                    "discount_amounts": [],
                    "discountable": True,
                    "discounts": [],
                    "invoice": invoice["id"],
                    "livemode": False,
                    "metadata": dict(sub.get("metadata") or {}),
                    "parent": {
                        "invoice_item_details": None,
                        "subscription_item_details": {
                            "invoice_item": None,
                            "proration": False,
                            "proration_details": {"credited_items": None},
                            "subscription": subscription_id,
                            "subscription_item": item["id"],
                        },
                        "type": "subscription_item_details",
                    },
                    "period": {"end": period_end, "start": period_start},
                    "pretax_credit_amounts": [],
                    "pricing": {
                        "price_details": {"price": price["id"], "product": price["product"]},
                        "type": "price_details",
                        "unit_amount_decimal": str(price["unit_amount"]),
                    },
                    "quantity": item["quantity"],
                    "taxes": [],
                }
            )
        total = sum(line["amount"] for line in lines)
        pm = self.objects.get(sub.get("default_payment_method") or "") or self._payment_method(sub["customer"], email)
        pi = self._payment_intent(
            amount=total,
            currency=currency,
            customer=sub["customer"],
            pm=pm,
            metadata={},
            description="Subscription creation" if first else "Subscription update",
            status="succeeded" if paid else "requires_payment_method",
        )
        if paid:
            self._charge(pi, email or customer.get("email"))
        else:
            pi["last_payment_error"] = {
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "type": "card_error",
            }
        seq = customer.get("next_invoice_sequence", 1) if customer else 1
        if customer:
            customer["next_invoice_sequence"] = seq + 1
        prev_period = (
            (period_start, period_start)
            if first
            else (previous[-1]["lines"]["data"][0]["period"]["start"], period_start)
        )
        invoice.update(
            {
                "account_country": "US",
                "account_name": "Mirsam",
                "account_tax_ids": None,
                "amount_due": total,
                "amount_overpaid": 0,
                "amount_paid": total if paid else 0,
                "amount_remaining": 0 if paid else total,
                "amount_shipping": 0,
                "application": None,
                "attempt_count": 1,
                "attempted": True,
                "auto_advance": not paid,
                "automatic_tax": {
                    "disabled_reason": None,
                    "enabled": False,
                    "liability": None,
                    "provider": None,
                    "status": None,
                },
                "automatically_finalizes_at": None,
                "billing_reason": "subscription_create" if first else "subscription_cycle",
                "collection_method": "charge_automatically",
                "currency": currency,
                "custom_fields": None,
                "customer": sub["customer"],
                "customer_address": None,
                "customer_email": customer.get("email"),
                "customer_name": customer.get("name"),
                "customer_phone": None,
                "customer_shipping": None,
                "customer_tax_exempt": "none",
                "customer_tax_ids": [],
                "default_payment_method": None,
                "default_source": None,
                "default_tax_rates": [],
                "description": None,
                "discounts": [],
                "due_date": None,
                "effective_at": now,
                "ending_balance": 0,
                "footer": None,
                "from_invoice": None,
                "hosted_invoice_url": f"{self.url}/i/{invoice['id']}",
                "invoice_pdf": f"{self.url}/i/{invoice['id']}/pdf",
                "issuer": {"type": "self"},
                "last_finalization_error": None,
                "latest_revision": None,
                "lines": {
                    "object": "list",
                    "data": lines,
                    "has_more": False,
                    "total_count": len(lines),
                    "url": f"/v1/invoices/{invoice['id']}/lines",
                },
                "next_payment_attempt": None if paid else now + 3 * 86400,
                "number": f"{customer.get('invoice_prefix', 'STANDIN')}-{seq:04d}",
                "on_behalf_of": None,
                "parent": {
                    "quote_details": None,
                    "subscription_details": {
                        "metadata": dict(sub.get("metadata") or {}),
                        "subscription": subscription_id,
                    },
                    "type": "subscription_details",
                },
                "payment_settings": {
                    "default_mandate": None,
                    "payment_method_options": None,
                    "payment_method_types": None,
                },
                "period_end": prev_period[1],
                "period_start": prev_period[0],
                "post_payment_credit_notes_amount": 0,
                "pre_payment_credit_notes_amount": 0,
                "receipt_number": None,
                "rendering": None,
                "shipping_cost": None,
                "shipping_details": None,
                "starting_balance": 0,
                "statement_descriptor": None,
                "status": "paid" if paid else "open",
                "status_transitions": {
                    "finalized_at": now,
                    "marked_uncollectible_at": None,
                    "paid_at": now if paid else None,
                    "voided_at": None,
                },
                "subtotal": total,
                "subtotal_excluding_tax": total,
                "test_clock": None,
                "total": total,
                "total_discount_amounts": [],
                "total_excluding_tax": total,
                "total_pretax_credit_amounts": [],
                "total_taxes": [],
                "webhooks_delivered_at": now,
            }
        )
        self._store(invoice)
        inpay = self._base("invoice_payment", "inpay_")
        inpay.update(
            {
                "amount_paid": total if paid else None,
                "amount_requested": total,
                "currency": currency,
                "invoice": invoice["id"],
                "is_default": True,
                "payment": {"type": "payment_intent", "payment_intent": pi["id"]},
                "status": "paid" if paid else "open",
                "status_transitions": {"canceled_at": None, "paid_at": now if paid else None},
            }
        )
        self._store(inpay)
        for item in items:
            item["current_period_start"] = period_start
            item["current_period_end"] = period_end
        self._sync_items(sub)
        sub["latest_invoice"] = invoice["id"]
        if paid:
            sub["status"] = "active"
        else:
            sub["status"] = "incomplete" if first else "past_due"
        return invoice

    def cancel_subscription(self, subscription_id: str, *, at_period_end: bool = False) -> dict[str, Any]:
        """Cancel now (status "canceled", ended_at) or flag cancel_at_period_end. Returns the subscription."""
        with self.lock:
            sub = self._require("subscription", subscription_id)
            now = self.now()
            sub["canceled_at"] = now
            sub["cancellation_details"] = {"comment": None, "feedback": None, "reason": "cancellation_requested"}
            if at_period_end:
                sub["cancel_at_period_end"] = True
                sub["cancel_at"] = sub["items"]["data"][0]["current_period_end"]
            else:
                sub["status"] = "canceled"
                sub["ended_at"] = now
            return copy.deepcopy(sub)

    def refund_charge(self, charge_id: str, *, amount: int | None = None, reason: str | None = None) -> dict[str, Any]:
        """A succeeded Refund; charge.amount_refunded accumulates, charge.refunded once fully refunded.
        Returns the refund (the charge: ``standin.get(charge_id)``)."""
        with self.lock:
            charge = self._require("charge", charge_id)
            remaining = charge["amount"] - charge["amount_refunded"]
            if remaining <= 0 or (amount is not None and not 0 < amount <= remaining):
                raise ValueError(f"cannot refund {amount} of {charge_id}: {remaining} left")
            return copy.deepcopy(self._refund(charge, amount, reason, {}))

    def dispute_charge(
        self, charge_id: str, *, status: str = "lost", amount: int | None = None, reason: str = "fraudulent"
    ) -> dict[str, Any]:
        """A Dispute on a charge (charge.disputed = True). Returns the dispute."""
        with self.lock:
            charge = self._require("charge", charge_id)
            amount = charge["amount"] if amount is None else amount
            dp = self._base("dispute", "dp_", metadata={})
            txns = []
            if status in ("needs_response", "under_review", "lost", "won"):
                txns.append(self._balance_transaction(-amount, charge["currency"], dp["id"], "dispute"))
            dp.update(
                {
                    "amount": amount,
                    "balance_transactions": copy.deepcopy(txns),
                    "charge": charge_id,
                    "currency": charge["currency"],
                    "enhanced_eligibility_types": [],
                    "evidence": {"customer_email_address": charge.get("receipt_email"), "uncategorized_text": None},
                    "evidence_details": {
                        "due_by": dp["created"] + 7 * 86400,
                        "enhanced_eligibility": {},
                        "has_evidence": False,
                        "past_due": False,
                        "submission_count": 0,
                    },
                    "is_charge_refundable": False,
                    "payment_intent": charge.get("payment_intent"),
                    "payment_method_details": {
                        "card": {"brand": "visa", "case_type": "chargeback", "network_reason_code": "10.4"},
                        "type": "card",
                    },
                    "reason": reason,
                    "status": status,
                }
            )
            self._store(dp)
            charge["disputed"] = True
            return copy.deepcopy(dp)

    # ------------------------------------------------------------------ hosted pages (no auth)
    def _hosted(self, method: str, path: str, params: dict[str, Any]) -> _Reply:
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "c" and parts[1] == "pay":
            return self._checkout_page(method, parts[2], parts[3:])
        if len(parts) == 3 and parts[:2] == ["p", "session"] and method == "GET":
            with self.lock:
                bps = self.objects.get(parts[2])
            if bps is None or bps.get("object") != "billing_portal.session":
                return _page(404, "Not found", "<p>Unknown portal session.</p>")
            back = html.escape(bps.get("return_url") or "#")
            return _page(
                200,
                "Stand-in Customer Portal",
                f"<p id='customer'>{html.escape(bps['customer'])}</p><a id='return' href='{back}'>Return</a>",
            )
        return _page(404, "Not found", f"<p>{html.escape(method)} {html.escape(path)}</p>")

    def _checkout_page(self, method: str, session_id: str, tail: list[str]) -> _Reply:
        with self.lock:
            session = self.objects.get(session_id)
            if session is None or session.get("object") != "checkout.session":
                return _page(404, "Not found", "<p>Unknown Checkout Session.</p>")
            session = copy.deepcopy(session)
        if method == "GET" and not tail:
            amount = session.get("amount_total") or 0
            status = html.escape(f"{session['status']}/{session['payment_status']}")
            cancel = html.escape(session.get("cancel_url") or "#")
            body = (
                f"<p id='session-id'>{html.escape(session_id)}</p>"
                f"<p id='amount'>{amount / 100:.2f} {html.escape((session.get('currency') or '').upper())}</p>"
                f"<p id='status'>{status}</p>"
                f"<form method='post' action='/c/pay/{html.escape(session_id)}/complete'>"
                f"<button id='pay' type='submit'>Pay</button></form>"
                f"<a id='cancel' href='{cancel}'>Cancel</a>"
            )
            return _page(200, "Stand-in Checkout", body)
        if method == "POST" and tail == ["complete"]:
            if session["status"] != "open":
                return _page(409, "Stand-in Checkout", f"<p>Session is {html.escape(session['status'])}.</p>")
            done = self.complete_session(session_id)
            if self.webhook_url and self.webhook_secret:
                for event in self._events_for_completion(done):
                    self.deliver(event)
            target = (done.get("success_url") or "").replace("{CHECKOUT_SESSION_ID}", session_id)
            if target:
                return _Reply(303, b"", content_type="text/html; charset=utf-8", headers={"Location": target})
            return _page(200, "Stand-in Checkout", "<p id='done'>Payment complete.</p>")
        return _page(404, "Not found", "<p>Unknown checkout action.</p>")

    def _events_for_completion(self, session: dict[str, Any]) -> list[dict[str, Any]]:
        events = []
        with self.lock:
            if session.get("subscription"):
                events.append(self.event("customer.subscription.created", self.get(session["subscription"])))
            if session.get("invoice"):
                invoice = self.get(session["invoice"])
                events.append(self.event("invoice.paid", invoice))
            events.append(self.event("checkout.session.completed", session))
        return events


def _page(status: int, title: str, body: str) -> _Reply:
    doc = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return _Reply(status, doc.encode("utf-8"), content_type="text/html; charset=utf-8")


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


def _deep_merge(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(current)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = None if value == "" else value
    return merged


def _sub_of_invoice(invoice: dict[str, Any]) -> str | None:
    parent = invoice.get("parent") or {}
    return ((parent.get("subscription_details") or {}).get("subscription")) or None


def _matches(obj: dict[str, Any], key: str, wanted: Any) -> bool:
    """List filters: ``customer=cus_x``, ``payment[payment_intent]=pi_x``, ``lookup_keys[]=a``."""
    if key not in obj and isinstance(wanted, list) and key.endswith("s") and key[:-1] in obj:
        return _scalar(obj[key[:-1]]) in [str(w) for w in wanted]
    if key not in obj:
        return True  # a filter the stand-in does not model
    value = obj[key]
    if isinstance(wanted, dict):
        if not isinstance(value, dict):
            return False
        return all(_matches(value, k, v) for k, v in wanted.items())
    return _scalar(value) == str(wanted)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("id"))
    return "" if value is None else str(value)


def _stringify(value: Any) -> Any:
    """Python kwargs -> what the form decoder would produce (strings, nested dicts/lists)."""
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [_stringify(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture
def stripe_standin() -> Iterator[StripeStandIn]:
    """A running StripeStandIn with ``stripe.api_base`` pointed at it (restored afterwards)."""
    import stripe

    standin = StripeStandIn()
    standin.start()
    old_base = stripe.api_base
    stripe.api_base = standin.url
    try:
        yield standin
    finally:
        stripe.api_base = old_base
        standin.stop()
