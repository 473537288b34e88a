"""A local stand-in for Google's OAuth 2.0 / OpenID Connect endpoints, on
127.0.0.1, speaking their wire format (developers.google.com/identity/
openid-connect/openid-connect: the authorization endpoint, the token
endpoint with an RS256-signed id token, and the x509 certificates that
sign it), so allauth's real Google adapter runs against it.

The test says who "signs in at Google" next (:meth:`GoogleStandIn.sign_in_as`)
and points allauth's adapter at :attr:`GoogleStandIn.url`. Codes are single
use, bound to the client, the redirect URI and the PKCE challenge (S256).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "https://accounts.google.com"


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    claims: dict[str, Any]


@dataclass
class GoogleStandIn:
    client_id: str
    client_secret: str
    url: str = ""
    kid: str = field(default_factory=lambda: secrets.token_hex(8))
    #: every request seen: (method, path, params)
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    _identity: dict[str, Any] = field(default_factory=dict)
    _grants: dict[str, _Grant] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stand-in")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert_pem = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(self._key, hashes.SHA256())
            .public_bytes(serialization.Encoding.PEM)
            .decode()
        )

    def sign_in_as(self, *, sub: str, email: str, email_verified: bool = True, name: str = "Test User") -> None:
        """The Google account the next authorization answers for."""
        given, _, family = name.partition(" ")
        self._identity = {
            "sub": sub,
            "email": email,
            "email_verified": email_verified,
            "name": name,
            "given_name": given,
            "family_name": family,
            "locale": "en",
        }

    # -- endpoints -------------------------------------------------------
    def authorize(self, params: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        """``GET /o/oauth2/v2/auth``: the user consents at once; 302 back to
        ``redirect_uri`` with ``code`` and ``state``."""
        problems = [
            p
            for p, bad in (
                ("client_id", params.get("client_id") != self.client_id),
                ("response_type", params.get("response_type") != "code"),
                ("scope", not {"openid", "email"} <= set(params.get("scope", "").split())),
                ("code_challenge_method", params.get("code_challenge_method") != "S256"),
                ("redirect_uri", not params.get("redirect_uri")),
                ("identity", not self._identity),
            )
            if bad
        ]
        if problems:
            return 400, {"Content-Type": "text/plain"}, f"invalid_request: {problems}".encode()
        code = "4/" + secrets.token_urlsafe(24)
        self._grants[code] = _Grant(
            params["client_id"], params["redirect_uri"], params.get("code_challenge", ""), dict(self._identity)
        )
        query = urlencode({"code": code, "state": params.get("state", ""), "scope": params["scope"]})
        return 302, {"Location": f"{params['redirect_uri']}?{query}"}, b""

    def token(self, form: dict[str, str], auth_header: str) -> tuple[int, dict[str, Any]]:
        """``POST /token`` (grant_type=authorization_code)."""
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if auth_header.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(auth_header[6:]).decode().partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        grant = self._grants.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return 400, {"error": "invalid_grant"}
        if grant.redirect_uri != form.get("redirect_uri") or grant.client_id != client_id:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri_mismatch"}
        verifier = form.get("code_verifier", "")
        digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if digest != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "code_verifier"}
        now = int(time.time())
        claims = {"iss": ISSUER, "azp": client_id, "aud": client_id, "iat": now, "exp": now + 3600, **grant.claims}
        id_token = jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})
        return 200, {
            "access_token": "ya29." + secrets.token_urlsafe(32),
            "expires_in": 3599,
            "scope": "openid https://www.googleapis.com/auth/userinfo.email",
            "token_type": "Bearer",
            "id_token": id_token,
        }

    def certs(self) -> dict[str, str]:
        """``GET /oauth2/v1/certs``: ``{kid: x509 PEM}``."""
        return {self.kid: self.cert_pem}


def serve(stand_in: GoogleStandIn) -> tuple[ThreadingHTTPServer, threading.Thread]:
    """Serve ``stand_in`` on an ephemeral port of 127.0.0.1 and set its ``url``."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, data: Any) -> None:
            self._answer(status, {"Content-Type": "application/json"}, json.dumps(data).encode())

        def do_GET(self) -> None:
            parsed = urlparse(self.path)
            params = {k: v[0] for k, v in parse_qs(parsed.query).items()}
            stand_in.requests.append(("GET", parsed.path, params))
            if parsed.path == "/o/oauth2/v2/auth":
                self._answer(*stand_in.authorize(params))
            elif parsed.path == "/oauth2/v1/certs":
                self._json(200, stand_in.certs())
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            parsed = urlparse(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {k: v[0] for k, v in parse_qs(body).items()}
            stand_in.requests.append(("POST", parsed.path, form))
            if parsed.path == "/token":
                self._json(*stand_in.token(form, self.headers.get("Authorization", "")))
            else:
                self._json(404, {"error": "not_found"})

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stand_in.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server, thread
