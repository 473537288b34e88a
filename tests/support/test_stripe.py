"""Self-test of the Stripe stand-in, driven by the real ``stripe`` library over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
import stripe

from tests.support.stripe import (
    DEFAULT_API_VERSION,
    StripeStandIn,
    decode_form,
    make_event,
    sign_event,
    sign_payload,
)

KEY = "sk_test_" + "x" * 24


@pytest.fixture(autouse=True)
def _api_key(monkeypatch):
    monkeypatch.setattr(stripe, "api_key", KEY)


@pytest.fixture
def catalog(stripe_standin):
    product = stripe.Product.create(name="100 credits", metadata={"pack": "small"})
    price = stripe.Price.create(product=product.id, unit_amount=500, currency="usd", lookup_key="pack_small")
    monthly = stripe.Price.create(
        product=stripe.Product.create(name="Pro").id,
        unit_amount=1500,
        currency="usd",
        recurring={"interval": "month"},
        metadata={"credits": "1000"},
    )
    return product, price, monthly


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _raw(url, *, headers=None, data=None, method="GET"):
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
    try:
        with opener.open(req, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode()


def test_decode_form_bracket_notation():
    pairs = [
        ("line_items[0][price]", "p"),
        ("line_items[0][quantity]", "1"),
        ("line_items[1][price_data][currency]", "usd"),
        ("metadata[user_id]", "3"),
        ("metadata[0]", "digit key stays a dict key"),
        ("expand[]", "a"),
        ("expand[]", "b"),
        ("created[gte]", "10"),
        ("mode", "payment"),
    ]
    assert decode_form(pairs) == {
        "line_items": [{"price": "p", "quantity": "1"}, {"price_data": {"currency": "usd"}}],
        "metadata": {"user_id": "3", "0": "digit key stays a dict key"},
        "expand": ["a", "b"],
        "created": {"gte": "10"},
        "mode": "payment",
    }
    assert decode_form([("expand[0]", "x"), ("expand[1]", "y")]) == {"expand": ["x", "y"]}


def test_server_lifecycle_context_manager_and_fixture(stripe_standin):
    assert stripe.api_base == stripe_standin.url
    assert stripe_standin.url.startswith("http://127.0.0.1:")
    with StripeStandIn() as other:
        status, headers, body = _raw(f"{other.url}/v1/account", headers={"Authorization": f"Bearer {KEY}"})
        assert status == 200
        assert json.loads(body)["id"] == "acct_standin"
        assert headers["Content-Type"] == "application/json"
        assert headers["Request-Id"].startswith("req_")
    assert other.url != stripe_standin.url


def test_account_customer_crud_and_404(stripe_standin):
    account = stripe.Account.retrieve()
    assert account.id == "acct_standin"
    assert account.object == "account"

    cus = stripe.Customer.create(email="alice@example.com", name="Alice", metadata={"user_id": 3})
    assert cus.id.startswith("cus_")
    assert cus.livemode is False
    assert isinstance(cus.created, int)
    assert cus.metadata.to_dict() == {"user_id": "3"}
    req = stripe_standin.requests_to("POST", "/v1/customers")[-1]
    assert req.params == {"email": "alice@example.com", "name": "Alice", "metadata": {"user_id": "3"}}
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert req.idempotency_key

    updated = stripe.Customer.modify(cus.id, metadata={"plan": "pro", "user_id": ""}, name="Alice B")
    assert updated.metadata.to_dict() == {"plan": "pro"}
    assert updated.name == "Alice B"
    assert stripe.Customer.retrieve(cus.id).email == "alice@example.com"

    with pytest.raises(stripe.InvalidRequestError) as exc:
        stripe.Customer.retrieve("cus_missing")
    assert exc.value.http_status == 404
    assert exc.value.code == "resource_missing"
    assert exc.value.param == "id"
    assert exc.value.json_body["error"]["message"] == "No such customer: 'cus_missing'"
    # wrong type for the id is a 404 too
    with pytest.raises(stripe.InvalidRequestError):
        stripe.Customer.retrieve("acct_standin")


def test_auth_is_checked(stripe_standin):
    with pytest.raises(stripe.AuthenticationError):
        stripe.Customer.create(email="x@example.com", api_key="sk_live_" + "y" * 24)
    with pytest.raises(stripe.AuthenticationError):
        stripe.Account.retrieve(api_key="pk_test_" + "y" * 24)
    # no key at all: the library refuses before sending
    stripe.api_key = None
    with pytest.raises(stripe.AuthenticationError):
        stripe.Account.retrieve()
    # ...and the server itself answers 401 with a Stripe error body
    status, _headers, body = _raw(f"{stripe_standin.url}/v1/account")
    assert status == 401
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    assert stripe_standin.requests[-1].status == 401
    assert not stripe_standin.of_type("customer")


def test_unknown_route_is_404_and_recorded(stripe_standin):
    with pytest.raises(stripe.InvalidRequestError) as exc:
        stripe.Coupon.create(percent_off=10)
    assert exc.value.http_status == 404
    assert "Unrecognized request URL (POST: /v1/coupons)" in exc.value.user_message
    assert stripe_standin.requests_to("POST", "/v1/coupons")[0].status == 404


def test_product_and_price_rules(stripe_standin, catalog):
    product, price, monthly = catalog
    assert price.type == "one_time" and price.unit_amount == 500 and price.product == product.id
    assert monthly.recurring.interval == "month" and monthly.type == "recurring"

    changed = stripe.Price.modify(price.id, active=False, nickname="Small", metadata={"credits": "100"})
    assert changed.active is False and changed.nickname == "Small"
    assert changed.metadata.to_dict() == {"credits": "100"}
    with pytest.raises(stripe.InvalidRequestError) as exc:
        stripe.Price.modify(price.id, unit_amount=600)
    assert exc.value.http_status == 400
    assert exc.value.param == "unit_amount"
    assert stripe.Price.retrieve(price.id).unit_amount == 500

    with pytest.raises(stripe.InvalidRequestError, match="already uses that lookup key"):
        stripe.Price.create(product=product.id, unit_amount=700, currency="usd", lookup_key="pack_small")
    moved = stripe.Price.create(
        product=product.id, unit_amount=700, currency="usd", lookup_key="pack_small", transfer_lookup_key=True
    )
    found = stripe.Price.list(lookup_keys=["pack_small"])
    assert [p.id for p in found.data] == [moved.id]

    renamed = stripe.Product.modify(product.id, name="Small pack")
    assert renamed.name == "Small pack"
    with pytest.raises(stripe.InvalidRequestError, match="No such product"):
        stripe.Price.create(product="prod_nope", unit_amount=1, currency="usd")


def test_checkout_session_payment_flow(stripe_standin, catalog):
    _product, price, _monthly = catalog
    cus = stripe.Customer.create(email="alice@example.com")
    before = stripe_standin.now()
    session = stripe.checkout.Session.create(
        mode="payment",
        customer=cus.id,
        line_items=[{"price": price.id, "quantity": 2}],
        metadata={"user_id": "3", "pack": "small"},
        payment_intent_data={"metadata": {"user_id": "3"}},
        client_reference_id="3",
        locale="en",
        success_url="https://mirsam.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://mirsam.test/billing/",
        idempotency_key="buy-3-small",
    )
    assert session.id.startswith("cs_test_")
    assert session.status == "open" and session.payment_status == "unpaid"
    assert session.url == f"{stripe_standin.url}/c/pay/{session.id}"
    assert session.amount_total == 1000 and session.currency == "usd"
    assert session.metadata.to_dict() == {"user_id": "3", "pack": "small"}
    assert session.customer == cus.id and session.payment_intent is None

    req = stripe_standin.requests_to("POST", "/v1/checkout/sessions")[-1]
    assert req.idempotency_key == "buy-3-small"
    assert req.params["line_items"] == [{"price": price.id, "quantity": "2"}]
    assert req.params["line_items"][0]["price"] == price.id
    assert req.params["metadata"] == {"user_id": "3", "pack": "small"}
    assert req.params["payment_intent_data"] == {"metadata": {"user_id": "3"}}
    assert "{CHECKOUT_SESSION_ID}" in req.params["success_url"]

    # same idempotency key + same params -> the same session, replayed
    again = stripe.checkout.Session.create(
        mode="payment",
        customer=cus.id,
        line_items=[{"price": price.id, "quantity": 2}],
        metadata={"user_id": "3", "pack": "small"},
        payment_intent_data={"metadata": {"user_id": "3"}},
        client_reference_id="3",
        locale="en",
        success_url="https://mirsam.test/billing/success?session_id={CHECKOUT_SESSION_ID}",
        cancel_url="https://mirsam.test/billing/",
        idempotency_key="buy-3-small",
    )
    assert again.id == session.id
    assert len(stripe_standin.of_type("checkout.session")) == 1
    with pytest.raises(stripe.IdempotencyError):
        stripe.checkout.Session.create(
            mode="payment", line_items=[{"price": price.id, "quantity": 1}], idempotency_key="buy-3-small"
        )

    # retrieve with expand, as dj-stripe does
    got = stripe.checkout.Session.retrieve(
        session.id, expand=["line_items", "total_details.breakdown", "line_items.data.discounts"]
    )
    assert got.line_items.data[0].price.id == price.id
    assert got.line_items.data[0].quantity == 2
    assert got.total_details.breakdown.to_dict() == {"discounts": [], "taxes": []}
    assert stripe_standin.requests_to("GET", f"/v1/checkout/sessions/{session.id}")[-1].query["expand"] == [
        "line_items",
        "total_details.breakdown",
        "line_items.data.discounts",
    ]

    # list with created[gte], newest first, paging
    second = stripe.checkout.Session.create(mode="payment", line_items=[{"price": price.id, "quantity": 1}])
    listed = stripe.checkout.Session.list(created={"gte": before}, limit=1)
    assert [s.id for s in listed.data] == [second.id]
    assert listed.has_more is True
    assert [s.id for s in listed.auto_paging_iter()] == [second.id, session.id]
    assert stripe.checkout.Session.list(created={"gte": before + 3600}).data == []
    assert [s.id for s in stripe.checkout.Session.list(status="open").data] == [second.id, session.id]
    assert stripe_standin.requests_to("GET", "/v1/checkout/sessions")[-1].query["status"] == "open"

    done = stripe_standin.complete_session(session.id)
    assert done["status"] == "complete" and done["payment_status"] == "paid"
    assert done["customer_details"]["email"] == "alice@example.com"
    pi = stripe.PaymentIntent.retrieve(done["payment_intent"])
    assert pi.status == "succeeded" and pi.amount == 1000
    assert pi.metadata.to_dict() == {"user_id": "3"}
    charge = stripe.Charge.retrieve(pi.latest_charge)
    assert (charge.amount, charge.currency, charge.customer) == (1000, "usd", cus.id)
    assert charge.payment_intent == pi.id and charge.refunded is False and charge.amount_refunded == 0
    assert stripe.checkout.Session.list(status="complete").data[0].id == session.id

    with pytest.raises(ValueError):
        stripe_standin.complete_session(session.id)


def test_checkout_session_validation(stripe_standin, catalog):
    _product, price, monthly = catalog
    with pytest.raises(stripe.InvalidRequestError, match="Missing required param: mode") as exc:
        stripe.checkout.Session.create(line_items=[{"price": price.id, "quantity": 1}])
    assert exc.value.code == "parameter_missing"
    with pytest.raises(stripe.InvalidRequestError, match="Invalid locale") as exc:
        stripe.checkout.Session.create(mode="payment", line_items=[{"price": price.id, "quantity": 1}], locale="ar")
    assert exc.value.param == "locale"
    with pytest.raises(stripe.InvalidRequestError, match="recurring price"):
        stripe.checkout.Session.create(mode="payment", line_items=[{"price": monthly.id, "quantity": 1}])
    with pytest.raises(stripe.InvalidRequestError, match="at least one recurring price"):
        stripe.checkout.Session.create(mode="subscription", line_items=[{"price": price.id, "quantity": 1}])
    with pytest.raises(stripe.InvalidRequestError, match="No such price") as exc:
        stripe.checkout.Session.create(mode="payment", line_items=[{"price": "price_nope", "quantity": 1}])
    assert exc.value.param == "line_items[0][price]"
    with pytest.raises(stripe.InvalidRequestError, match="quantity"):
        stripe.checkout.Session.create(mode="payment", line_items=[{"price": price.id}])
    with pytest.raises(stripe.InvalidRequestError, match="Not a valid URL"):
        stripe.checkout.Session.create(
            mode="payment", line_items=[{"price": price.id, "quantity": 1}], success_url="/billing/success/"
        )
    with pytest.raises(stripe.InvalidRequestError, match="subscription_data"):
        stripe.checkout.Session.create(
            mode="payment",
            line_items=[{"price": price.id, "quantity": 1}],
            subscription_data={"metadata": {"a": "b"}},
        )
    assert not stripe_standin.of_type("checkout.session")


def test_stripe_client_and_delayed_payment(stripe_standin, catalog):
    _product, price, _monthly = catalog
    client = stripe_standin.client()
    session = client.v1.checkout.sessions.create(
        params={
            "mode": "payment",
            "line_items": [
                {
                    "price_data": {"currency": "usd", "unit_amount": 250, "product_data": {"name": "Adhoc"}},
                    "quantity": 1,
                }
            ],
            "customer_email": "bob@example.com",
            "metadata": {"user_id": "9"},
        },
        options={"idempotency_key": "k-1"},
    )
    assert session.amount_total == 250
    assert client.v1.checkout.sessions.retrieve(session.id).metadata.to_dict() == {"user_id": "9"}

    pending = stripe_standin.complete_session(session.id, paid=False)
    assert pending["status"] == "complete" and pending["payment_status"] == "unpaid"
    assert stripe.PaymentIntent.retrieve(pending["payment_intent"]).status == "processing"
    assert pending["customer"] is None and pending["customer_details"]["email"] == "bob@example.com"
    settled = stripe_standin.complete_async_payment(session.id)
    assert settled["payment_status"] == "paid"
    assert stripe.PaymentIntent.retrieve(settled["payment_intent"]).latest_charge.startswith("ch_")

    other = client.v1.checkout.sessions.create(
        params={"mode": "payment", "line_items": [{"price": price.id, "quantity": 1}]}
    )
    expired = client.v1.checkout.sessions.expire(other.id)
    assert expired.status == "expired" and expired.url is None


def test_subscription_flow_two_periods(stripe_standin, catalog):
    _product, _price, monthly = catalog
    session = stripe.checkout.Session.create(
        mode="subscription",
        line_items=[{"price": monthly.id, "quantity": 1}],
        customer_email="carol@example.com",
        subscription_data={"metadata": {"user_id": "7"}},
        metadata={"user_id": "7"},
        success_url="https://mirsam.test/ok",
    )
    done = stripe_standin.complete_session(session.id)
    assert done["payment_status"] == "paid" and done["payment_intent"] is None
    sub = stripe.Subscription.retrieve(done["subscription"])
    assert sub.status == "active" and sub.customer == done["customer"]
    assert sub.metadata.to_dict() == {"user_id": "7"}
    item = sub["items"].data[0]
    assert item.price.id == monthly.id
    start, end = item.current_period_start, item.current_period_end
    assert end > start
    assert not hasattr(sub, "current_period_end")  # dahlia: periods live on the items
    assert stripe.Customer.retrieve(done["customer"]).email == "carol@example.com"

    first = stripe.Invoice.retrieve(done["invoice"])
    assert first.status == "paid" and first.amount_paid == 1500 and first.billing_reason == "subscription_create"
    assert first.parent.subscription_details.subscription == sub.id
    assert first.parent.subscription_details.metadata.to_dict() == {"user_id": "7"}
    assert first.lines.data[0].pricing.price_details.price == monthly.id
    assert (first.lines.data[0].period.start, first.lines.data[0].period.end) == (start, end)
    assert "payments" not in first  # not expanded
    assert "subscription" not in first and "payment_intent" not in first
    expanded = stripe.Invoice.retrieve(first.id, expand=["payments"])
    first_pi = expanded.payments.data[0].payment.payment_intent
    assert stripe.PaymentIntent.retrieve(first_pi).status == "succeeded"

    second = stripe_standin.pay_invoice(sub.id, period_start=end, period_end=end + 30 * 86400)
    assert second["billing_reason"] == "subscription_cycle" and second["status"] == "paid"
    assert second["lines"]["data"][0]["period"] == {"start": end, "end": end + 30 * 86400}
    sub = stripe.Subscription.retrieve(sub.id)
    assert sub["items"].data[0].current_period_start == end
    assert sub["items"].data[0].current_period_end == end + 30 * 86400
    assert sub.latest_invoice == second["id"]
    si = stripe.SubscriptionItem.retrieve(item.id)
    assert si.current_period_end == end + 30 * 86400

    payments = stripe.InvoicePayment.list(invoice=second["id"])
    assert len(payments.data) == 1 and payments.data[0].status == "paid"
    pi_id = payments.data[0].payment.payment_intent
    by_pi = stripe.InvoicePayment.list(payment={"type": "payment_intent", "payment_intent": pi_id})
    assert [p.invoice for p in by_pi.data] == [second["id"]]
    charge = stripe.Charge.retrieve(stripe.PaymentIntent.retrieve(pi_id).latest_charge)
    assert charge.amount == 1500
    lines = stripe.Invoice.list_lines(second["id"])
    assert lines.data[0].parent.subscription_item_details.subscription == sub.id

    third = stripe_standin.pay_invoice(sub.id)  # defaults to the next period
    assert third["lines"]["data"][0]["period"]["start"] == end + 30 * 86400
    failed = stripe_standin.pay_invoice(sub.id, paid=False)
    assert failed["status"] == "open" and stripe.Subscription.retrieve(sub.id).status == "past_due"
    assert [i.id for i in stripe.Invoice.list(customer=done["customer"]).data][:2] == [failed["id"], third["id"]]

    canceled = stripe.Subscription.cancel(sub.id)
    assert canceled.status == "canceled"


def test_refund_dispute_and_portal(stripe_standin, catalog):
    _product, price, _monthly = catalog
    cus = stripe.Customer.create(email="dan@example.com")
    session = stripe.checkout.Session.create(
        mode="payment", customer=cus.id, line_items=[{"price": price.id, "quantity": 1}]
    )
    done = stripe_standin.complete_session(session.id)
    charge_id = stripe_standin.get(done["payment_intent"])["latest_charge"]

    partial = stripe_standin.refund_charge(charge_id, amount=200)
    assert partial["id"].startswith("re_") and partial["amount"] == 200 and partial["status"] == "succeeded"
    charge = stripe.Charge.retrieve(charge_id)
    assert (charge.amount_refunded, charge.refunded) == (200, False)
    rest = stripe.Refund.create(charge=charge_id)  # through the API: the remaining 300
    assert rest.amount == 300
    charge = stripe.Charge.retrieve(charge_id, expand=["refunds"])
    assert (charge.amount_refunded, charge.refunded) == (500, True)
    assert {r.id for r in charge.refunds.data} == {partial["id"], rest.id}
    assert stripe.Refund.retrieve(partial["id"]).charge == charge_id
    with pytest.raises(ValueError):
        stripe_standin.refund_charge(charge_id)

    dispute = stripe_standin.dispute_charge(charge_id)
    assert dispute["id"].startswith("dp_")
    got = stripe.Dispute.retrieve(dispute["id"])
    assert (got.charge, got.payment_intent, got.amount, got.currency, got.status) == (
        charge_id,
        done["payment_intent"],
        500,
        "usd",
        "lost",
    )
    assert stripe.Charge.retrieve(charge_id).disputed is True

    portal = stripe.billing_portal.Session.create(customer=cus.id, return_url="https://mirsam.test/billing/")
    assert portal.object == "billing_portal.session"
    assert portal.url.startswith(f"{stripe_standin.url}/p/session/bps_")
    status, _h, body = _raw(portal.url)
    assert status == 200 and "https://mirsam.test/billing/" in body
    with pytest.raises(stripe.InvalidRequestError, match="No such customer"):
        stripe.billing_portal.Session.create(customer="cus_nope")


def test_refunds_are_refused_as_stripe_refuses_them(stripe_standin, catalog):
    _product, price, _monthly = catalog
    session = stripe.checkout.Session.create(mode="payment", line_items=[{"price": price.id, "quantity": 1}])
    pi = stripe_standin.complete_session(session.id)["payment_intent"]
    with pytest.raises(stripe.InvalidRequestError, match="Invalid positive integer") as zero:
        stripe.Refund.create(payment_intent=pi, amount=0)
    assert zero.value.code == "parameter_invalid_integer" and zero.value.param == "amount"
    with pytest.raises(stripe.InvalidRequestError, match="greater than unrefunded amount") as big:
        stripe.Refund.create(payment_intent=pi, amount=501)
    assert big.value.code == "amount_too_large"
    key = "same-form"
    first = stripe.Refund.create(payment_intent=pi, amount=100, idempotency_key=key)
    assert stripe.Refund.create(payment_intent=pi, amount=100, idempotency_key=key).id == first.id  # replayed
    with pytest.raises(stripe.IdempotencyError):
        stripe.Refund.create(payment_intent=pi, amount=200, idempotency_key=key)
    stripe_standin.dispute_charge(stripe_standin.get(pi)["latest_charge"], status="needs_response")
    with pytest.raises(stripe.InvalidRequestError, match="charged back") as disputed:
        stripe.Refund.create(payment_intent=pi)
    assert disputed.value.code == "charge_disputed"


def test_a_dropped_request_is_a_network_failure_and_changes_nothing(stripe_standin, catalog, monkeypatch):
    monkeypatch.setattr(stripe, "max_network_retries", 0)
    stripe_standin.drop("POST", "/v1/customers")
    with pytest.raises(stripe.APIConnectionError):
        stripe.Customer.create(email="lost@example.com")
    assert stripe_standin.of_type("customer") == []
    assert stripe.Product.retrieve(catalog[0].id).id == catalog[0].id  # other requests are answered
    stripe_standin.undrop()
    assert stripe.Customer.create(email="found@example.com").email == "found@example.com"


def test_hosted_checkout_page(stripe_standin, catalog):
    _product, price, _monthly = catalog
    session = stripe.checkout.Session.create(
        mode="payment",
        line_items=[{"price": price.id, "quantity": 1}],
        success_url="https://mirsam.test/ok?s={CHECKOUT_SESSION_ID}",
    )
    status, _h, body = _raw(session.url)
    assert status == 200 and "Stand-in Checkout" in body and session.id in body
    status, headers, _body = _raw(f"{session.url}/complete", data=b"", method="POST")
    assert status == 303
    assert headers["Location"] == f"https://mirsam.test/ok?s={session.id}"
    assert stripe.checkout.Session.retrieve(session.id).payment_status == "paid"
    assert _raw(f"{stripe_standin.url}/c/pay/cs_test_nope")[0] == 404


def test_events_and_signatures(stripe_standin, catalog):
    _product, price, _monthly = catalog
    session = stripe_standin.create_checkout_session(
        mode="payment", line_items=[{"price": price.id, "quantity": 1}], metadata={"user_id": "1"}
    )
    event = make_event("checkout.session.completed", stripe_standin.complete_session(session["id"]))
    assert event["object"] == "event" and event["id"].startswith("evt_")
    assert event["api_version"] == DEFAULT_API_VERSION == stripe.api_version
    assert event["livemode"] is False and event["pending_webhooks"] == 1
    assert event["request"] == {"id": None, "idempotency_key": None}
    assert event["data"]["object"]["id"] == session["id"]
    assert make_event("x.y", {"id": "a"}, event_id="evt_fixed")["id"] == "evt_fixed"
    parsed = stripe.Event.construct_from(event, KEY)
    assert parsed.data.object.payment_status == "paid"

    secret = "whsec_test"
    payload, header = sign_event(event, secret)
    assert stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=300)
    assert header == sign_payload(payload, secret, timestamp=int(header.split(",")[0][2:]))
    built = stripe.Webhook.construct_event(payload, header, secret)
    assert built.type == "checkout.session.completed"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload.replace("paid", "unpaid"), header, secret, tolerance=300)
    old = sign_payload(payload, secret, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, old, secret, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(payload, sign_payload(payload, "whsec_other"), secret, tolerance=300)

    stored = stripe_standin.event("charge.refunded", {"id": "ch_1", "object": "charge"})
    assert stripe.Event.retrieve(stored["id"]).type == "charge.refunded"
    assert [e.id for e in stripe.Event.list(type="charge.refunded").data] == [stored["id"]]


def test_hosted_payment_delivers_signed_events(stripe_standin, catalog):
    """With webhook_url/webhook_secret set, paying on the hosted page POSTs signed events (like Stripe)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"])).decode()
            received.append((body, self.headers["Stripe-Signature"]))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        stripe_standin.webhook_url = f"http://127.0.0.1:{server.server_address[1]}/stripe/webhook/"
        stripe_standin.webhook_secret = "whsec_live_server"
        _product, _price, monthly = catalog
        session = stripe.checkout.Session.create(
            mode="subscription", line_items=[{"price": monthly.id, "quantity": 1}], success_url="https://mirsam.test/"
        )
        assert _raw(f"{session.url}/complete", data=b"", method="POST")[0] == 303
    finally:
        server.shutdown()
        server.server_close()
    types = [stripe.Webhook.construct_event(body, sig, "whsec_live_server").type for body, sig in received]
    assert types == ["customer.subscription.created", "invoice.paid", "checkout.session.completed"]
    assert [status for _event, status, _body in stripe_standin.deliveries] == [200, 200, 200]
    event_id = json.loads(received[-1][0])["id"]
    assert stripe.Event.retrieve(event_id).data.object.id == session.id
