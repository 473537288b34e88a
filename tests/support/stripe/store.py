"""Objects and ids: the stand-in's state and the storage primitives every
resource module uses. Stripe objects are JSON-ready dicts keyed by id, typed
by their ``object`` field; ids carry Stripe's prefixes (``cus_``, ``cs_test_``…)."""

from __future__ import annotations

import copy
import secrets
import string
import threading
import time
from typing import Any

from .errors import missing

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
PATH_FOR_TYPE = {obj_type: path for path, (obj_type, _prefix) in RESOURCES.items()}

_ALNUM = string.ascii_letters + string.digits


def rand(n: int = 24) -> str:
    """``n`` random letters and digits (the random part of a Stripe id)."""
    return "".join(secrets.choice(_ALNUM) for _ in range(n))


class Store:
    """The stand-in's state: ``objects`` (id -> dict), the clock, the
    requests it received and the webhook it delivers to. All access from the
    HTTP threads and from tests goes through ``lock`` (re-entrant).

    Resource modules take a Store as their first argument; they keep what
    Stripe does not echo on objects in ``line_items`` (Checkout Session id ->
    its line items) and ``session_extra`` (id -> ``payment_intent_data`` and
    ``subscription_data``), and Idempotency-Key replays in ``idempotency``."""

    def __init__(self, *, api_key: str | None = None) -> None:
        self.api_key = api_key  # if set, only this exact key is accepted; else any sk_test_/rk_test_ key
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[Any] = []  # RecordedRequest, in arrival order
        self.lock = threading.RLock()
        self.time_offset = 0  # seconds added to the clock: see advance()
        self.webhook_url: str | None = None  # set both to have hosted-page payments deliver events
        self.webhook_secret: str | None = None
        self.deliveries: list[tuple[dict[str, Any], int, str]] = []  # (event, status, body)
        self.url = ""
        self.line_items: dict[str, list[dict[str, Any]]] = {}
        self.session_extra: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[str, tuple[str, str, dict[str, Any], Any]] = {}
        self._seq: dict[str, int] = {}
        self._counter = 0

    # --- the clock --------------------------------------------------------------

    def now(self) -> int:
        """The stand-in's time, Unix seconds (the real clock plus ``advance()``s)."""
        return int(time.time()) + self.time_offset

    def advance(self, seconds: int) -> None:
        """Move the stand-in's clock forward (``created`` of new objects, list filters)."""
        self.time_offset += int(seconds)

    # --- reading, for tests -------------------------------------------------------

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
            return [copy.deepcopy(o) for o in self.ordered(obj_type)]

    # --- storage, for the resource modules (callers hold the lock) -------------------

    def store(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Keep ``obj`` under its id (insertion order breaks ``created`` ties); returns it."""
        self._counter += 1
        self._seq.setdefault(obj["id"], self._counter)
        self.objects[obj["id"]] = obj
        return obj

    def new_id(self, prefix: str) -> str:
        """A fresh id: ``prefix`` and 24 random characters (40 for Checkout Sessions)."""
        return f"{prefix}{rand(40 if prefix == 'cs_test_' else 24)}"

    def base(self, obj_type: str, prefix: str, *, metadata: dict[str, str] | None = None) -> dict[str, Any]:
        """The fields every object has: ``id``, ``object``, ``created`` (now), ``livemode`` and ``metadata``."""
        obj: dict[str, Any] = {"id": self.new_id(prefix), "object": obj_type, "created": self.now(), "livemode": False}
        if metadata is not None:
            obj["metadata"] = metadata
        return obj

    def ordered(self, obj_type: str) -> list[dict[str, Any]]:
        """The stored objects of one type, oldest first (the stored dicts, not copies)."""
        objs = [o for o in self.objects.values() if o.get("object") == obj_type]
        return sorted(objs, key=lambda o: (o.get("created", 0), self._seq.get(o["id"], 0)))

    def find(self, obj_type: str, obj_id: Any, param: str = "id", status: int = 404) -> dict[str, Any]:
        """The stored object ``obj_id`` (or ``{"id": ...}``) of ``obj_type``; raises
        Stripe's ``resource_missing`` error (``status``, naming ``param``) if there is none."""
        if isinstance(obj_id, dict):
            obj_id = obj_id.get("id")
        obj = self.objects.get(obj_id) if isinstance(obj_id, str) else None
        if obj is None or obj.get("object") != obj_type or obj.get("deleted"):
            raise missing(obj_type, str(obj_id), param, status)
        return obj

    def require(self, obj_type: str, obj_id: str) -> dict[str, Any]:
        """For scenario helpers: a plain KeyError, not an HTTP error."""
        obj = self.objects.get(obj_id)
        if obj is None or obj.get("object") != obj_type:
            raise KeyError(f"no {obj_type} {obj_id!r} in the stand-in")
        return obj
