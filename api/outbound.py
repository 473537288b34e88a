"""The one way Mirsam sends a webhook: address checks (no requests to our own
network), signing, and a single bounded HTTP POST.

Server-side request forgery is refused twice: when a URL is registered
(:func:`url_check`) and at every delivery (:func:`post_signed`), after DNS
resolution. A host is refused when *any* address it resolves to is not a
public one (private, loopback, link-local, multicast, reserved,
unspecified, shared or IPv4-mapped forms of those), and the connection is
then made to the address that was checked — not resolved again — so a DNS
answer that changes between the check and the connection (rebinding) cannot
reach an internal host. The Host header, TLS SNI and certificate check still
use the URL's name. Redirects are not followed (a 3xx is an answer, and not
a success). ``MIRSAM_WEBHOOK_ALLOW_LOOPBACK`` lets tests reach 127.0.0.0/8
and ::1 (never the private ranges); ``MIRSAM_WEBHOOK_ALLOW_HTTP`` lets them
use plain http.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.utils.translation import gettext as _
from requests.adapters import HTTPAdapter

log = logging.getLogger(__name__)

#: The header carrying the signature: ``t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">``.
SIGNATURE_HEADER = "Mirsam-Signature"
USER_AGENT = "Mirsam-Webhooks/1"
#: At most this many bytes of a receiver's answer are read (and a part of them kept).
RESPONSE_READ_BYTES = 4096
#: How receivers' certificates are checked: requests' CA bundle (certifi); a
#: test points it at its own certificate's file.
VERIFY: bool | str = True

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeAddress(Exception):
    """A webhook URL Mirsam will not send to; ``message`` is for its owner."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Answer:
    """What one POST got: ``status_code`` (None when nothing was answered,
    then ``error`` says why), the start of the body, and the time it took
    in milliseconds."""

    status_code: int | None
    body_excerpt: str
    latency_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _refusal(address: IpAddress) -> str | None:
    """Why ``address`` may not be sent to, or None for a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one (::ffff:a.b.c.d, 6to4 2002:…) is judged as that IPv4 address.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return _refusal(embedded)
    if address.is_loopback:
        if settings.MIRSAM_WEBHOOK_ALLOW_LOOPBACK:
            return None
        return _("%(address)s is this computer (loopback).") % {"address": address}
    if address.is_link_local:
        return _("%(address)s is a link-local address.") % {"address": address}
    if address.is_private:
        return _("%(address)s is a private address.") % {"address": address}
    if address.is_multicast or address.is_reserved or address.is_unspecified or not address.is_global:
        return _("%(address)s is not a public address.") % {"address": address}
    return None


def _resolve(host: str, port: int) -> list[IpAddress]:
    """Every address ``host`` resolves to (an IP literal is itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeAddress(_("The host name %(host)s could not be resolved.") % {"host": host}) from exc
    # getaddrinfo may give an IPv6 address with a zone (fe80::1%eth0): the zone is dropped to check it.
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def url_check(url: str) -> tuple[str, int, IpAddress]:
    """Check that ``url`` may receive webhooks: http(s) (https unless
    ``MIRSAM_WEBHOOK_ALLOW_HTTP``), no user name or password in it, and a
    host all of whose addresses are public (loopback too with
    ``MIRSAM_WEBHOOK_ALLOW_LOOPBACK``). Returns ``(host, port, address)``,
    the address to connect to. Raises :class:`UnsafeAddress`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeAddress(_("That is not a valid URL.")) from exc
    scheme = parts.scheme.lower()
    allowed = ("https", "http") if settings.MIRSAM_WEBHOOK_ALLOW_HTTP else ("https",)
    if scheme not in allowed:
        raise UnsafeAddress(_("The URL must start with https://."))
    host = parts.hostname or ""
    if not host:
        raise UnsafeAddress(_("That is not a valid URL."))
    if parts.username or parts.password:
        raise UnsafeAddress(_("The URL may not contain a user name or password."))
    port = port or (443 if scheme == "https" else 80)
    addresses = _resolve(host, port)
    if not addresses:
        raise UnsafeAddress(_("The host name %(host)s could not be resolved.") % {"host": host})
    for address in addresses:
        reason = _refusal(address)
        if reason:
            raise UnsafeAddress(_("Webhooks are sent only to public addresses: %(reason)s") % {"reason": reason})
    return host, port, addresses[0]


class _PinnedAdapter(HTTPAdapter):
    """Connects to the address that was checked, whatever DNS says now; TLS
    still sends and verifies the URL's host name."""

    def __init__(self, *, address: IpAddress, host: str) -> None:
        self.address, self.host = address, host
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(  # type: ignore[override]  # the stubs' TypedDicts lack the TLS keys
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        params: dict[str, Any] = dict(host_params)
        pool_kwargs: dict[str, Any] = dict(kwargs)
        params["host"] = str(self.address)
        if params["scheme"] == "https":
            pool_kwargs["server_hostname"] = self.host
            pool_kwargs["assert_hostname"] = self.host
        return params, pool_kwargs


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """The ``Mirsam-Signature`` value: ``t=<timestamp>,v1=<hex HMAC-SHA256>``
    of ``b"<timestamp>." + body`` keyed with the endpoint's secret (Stripe's
    scheme: https://docs.stripe.com/webhooks#verify-manually)."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def post_signed(*, url: str, secret: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` (JSON) to ``url``, signed with ``secret``, once. The
    address is checked again (:func:`url_check`) and the connection pinned to
    it; waits at most ``MIRSAM_WEBHOOK_TIMEOUT_SECONDS`` to connect and as long
    for the answer, follows no redirect, reads at most 4 KiB of the answer.
    Never raises for the network: an unreachable, refused or slow receiver is
    an :class:`Answer` with ``error``."""
    started = time.monotonic()

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        host, _port, address = url_check(url)
    except UnsafeAddress as exc:
        log.warning("webhook to %s refused: %s", url, exc.message)
        return Answer(status_code=None, body_excerpt="", latency_ms=0, error=exc.message)
    sent_headers = {
        # The connection goes to the checked address: the name is sent as the Host.
        "Host": urlsplit(url).netloc,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret=secret, timestamp=int(time.time()), body=body),
        **headers,
    }
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment: it would connect by name, unchecked
    adapter = _PinnedAdapter(address=address, host=host)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    timeout = settings.MIRSAM_WEBHOOK_TIMEOUT_SECONDS
    try:
        with session.post(
            url,
            data=body,
            headers=sent_headers,
            timeout=(timeout, timeout),
            allow_redirects=False,
            stream=True,
            verify=VERIFY,
        ) as response:
            raw = response.raw.read(RESPONSE_READ_BYTES, decode_content=True) or b""
            status = response.status_code
    except requests.Timeout:
        error = _("No answer within %(seconds)s seconds.") % {"seconds": timeout}
        log.info("webhook to %s: timed out", url)
        return Answer(status_code=None, body_excerpt="", latency_ms=elapsed(), error=error)
    except requests.RequestException as exc:
        log.info("webhook to %s: %s", url, type(exc).__name__)
        return Answer(
            status_code=None, body_excerpt="", latency_ms=elapsed(), error=_("Could not connect to the receiver.")
        )
    finally:
        session.close()
    latency = elapsed()
    log.info("webhook to %s: HTTP %s in %d ms", url, status, latency)
    return Answer(status_code=status, body_excerpt=raw.decode("utf-8", errors="replace"), latency_ms=latency)
