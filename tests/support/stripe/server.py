"""The stand-in itself: a :class:`~.store.Store` served over HTTP on
127.0.0.1 by a threaded server, with the scenario helpers tests call to make
happen what Stripe would (a customer paying, a renewal, a refund…). Each
helper locks the store and returns deep copies (snapshots), so an event built
from one keeps that state."""

from __future__ import annotations

import copy
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from . import api, checkout, customers, events, payments, products, subscriptions
from .api import RecordedRequest
from .forms import stringify
from .store import Store


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
        if standin.take_drop(self.command, self.path):
            # A network failure: the request arrived, no answer ever leaves.
            self.close_connection = True
            return
        reply = api.handle(standin, self.command, self.path, dict(self.headers.items()), body)
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class StripeStandIn(Store):
    """An in-memory Stripe API on 127.0.0.1 (see the package docstring).

    ``api_key``: if set, only this exact key is accepted; else any
    ``sk_test_``/``rk_test_`` key. State is the :class:`~.store.Store`'s:
    ``objects``, ``requests``, ``deliveries``, ``webhook_url`` /
    ``webhook_secret``, the clock (``now()``, ``advance()``) and ``get()`` /
    ``update()`` / ``of_type()``."""

    def __init__(self, *, api_key: str | None = None) -> None:
        super().__init__(api_key=api_key)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._drops: list[tuple[str, str]] = []  # (method, path prefix) of requests to leave unanswered
        self.store(customers.account())

    # --- lifecycle ------------------------------------------------------------------

    def start(self) -> StripeStandIn:
        """Serve on a free port of 127.0.0.1 in a background thread (``url`` is
        set); returns self. Starting twice is harmless."""
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
        """Stop serving and close the socket (the state stays readable)."""
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

    # --- network failures ---------------------------------------------------------------

    def drop(self, method: str, path_prefix: str) -> None:
        """From now on, close the connection of every ``method`` request whose path starts with
        ``path_prefix`` without answering (the client sees a network failure, as when Stripe is
        unreachable or the connection breaks); :meth:`undrop` ends it. Dropped requests are not
        recorded in ``requests`` and change nothing."""
        with self.lock:
            self._drops.append((method.upper(), path_prefix))

    def undrop(self) -> None:
        """Answer every request again."""
        with self.lock:
            self._drops.clear()

    def take_drop(self, method: str, raw_path: str) -> bool:
        """Whether this request is to be left unanswered (see :meth:`drop`)."""
        with self.lock:
            return any(method == m and raw_path.startswith(p) for m, p in self._drops)

    # --- clients, requests, events ------------------------------------------------------

    def client(self, api_key: str = "sk_test_" + "x" * 24, **kwargs: Any) -> Any:
        """A ``stripe.StripeClient`` pointed at the stand-in (StripeClient ignores ``stripe.api_base``)."""
        import stripe

        return stripe.StripeClient(api_key, base_addresses={"api": self.url}, **kwargs)

    def requests_to(self, method: str, path_prefix: str) -> list[RecordedRequest]:
        """The recorded requests with ``method`` whose path starts with ``path_prefix``, in order."""
        with self.lock:
            return [r for r in self.requests if r.method == method.upper() and r.path.startswith(path_prefix)]

    def event(self, event_type: str, obj: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        """``make_event`` and store it, so GET /v1/events/{id} (dj-stripe's retrieve_event) finds it."""
        return events.store_event(self, event_type, obj, **kwargs)

    def deliver(
        self, event: dict[str, Any], url: str | None = None, secret: str | None = None, *, timestamp: int | None = None
    ) -> tuple[int, str]:
        """POST a signed event to a webhook URL (a live server), as Stripe does. Returns (status, body)."""
        return events.deliver(self, event, url, secret, timestamp=timestamp)

    # --- seeding objects (same validation as the API) --------------------------------------

    def create_customer(self, **params: Any) -> dict[str, Any]:
        """Seed a customer directly (same shape as POST /v1/customers)."""
        with self.lock:
            return copy.deepcopy(customers.create_customer(self, stringify(params)))

    def create_product(self, **params: Any) -> dict[str, Any]:
        """Seed a product (same shape as POST /v1/products)."""
        with self.lock:
            return copy.deepcopy(products.create_product(self, stringify(params)))

    def create_price(self, **params: Any) -> dict[str, Any]:
        """Seed a price, e.g. ``create_price(product=p["id"], unit_amount=500, currency="usd",
        recurring={"interval": "month"}, lookup_key="pro")``; ``product_data={"name": ...}`` works too."""
        with self.lock:
            return copy.deepcopy(products.create_price(self, stringify(params)))

    def create_checkout_session(self, **params: Any) -> dict[str, Any]:
        """Seed a session without going through HTTP (same validation as POST /v1/checkout/sessions)."""
        with self.lock:
            return copy.deepcopy(checkout.create_checkout_session(self, stringify(params)))

    # --- what Stripe does meanwhile ----------------------------------------------------------

    def complete_session(self, session_id: str, *, paid: bool = True, email: str | None = None) -> dict[str, Any]:
        """The customer pays on the hosted page: :func:`.checkout.complete_session`. Returns the session."""
        return checkout.complete_session(self, session_id, paid=paid, email=email)

    def complete_async_payment(self, session_id: str, *, succeeded: bool = True) -> dict[str, Any]:
        """A delayed payment settles: :func:`.checkout.complete_async_payment`. Returns the session."""
        return checkout.complete_async_payment(self, session_id, succeeded=succeeded)

    def expire_session(self, session_id: str) -> dict[str, Any]:
        """Stripe's expiry (or POST .../expire): status "expired", url None. Returns the session."""
        return checkout.expire_session(self, session_id)

    def pay_invoice(
        self,
        subscription_id: str,
        *,
        period_start: int | None = None,
        period_end: int | None = None,
        paid: bool = True,
    ) -> dict[str, Any]:
        """A subscription's next period is invoiced (``paid=False``: a failed
        renewal): :func:`.subscriptions.pay_invoice`. Returns the invoice."""
        return subscriptions.pay_invoice(
            self, subscription_id, period_start=period_start, period_end=period_end, paid=paid
        )

    def cancel_subscription(self, subscription_id: str, *, at_period_end: bool = False) -> dict[str, Any]:
        """Cancel now (status "canceled", ended_at) or flag cancel_at_period_end. Returns the subscription."""
        return subscriptions.cancel_subscription(self, subscription_id, at_period_end=at_period_end)

    def refund_charge(self, charge_id: str, *, amount: int | None = None, reason: str | None = None) -> dict[str, Any]:
        """A succeeded Refund; charge.amount_refunded accumulates, charge.refunded once fully refunded.
        Returns the refund (the charge: ``standin.get(charge_id)``)."""
        return payments.refund_charge(self, charge_id, amount=amount, reason=reason)

    def dispute_charge(
        self, charge_id: str, *, status: str = "lost", amount: int | None = None, reason: str = "fraudulent"
    ) -> dict[str, Any]:
        """A Dispute on a charge (charge.disputed = True). Returns the dispute."""
        return payments.dispute_charge(self, charge_id, status=status, amount=amount, reason=reason)
