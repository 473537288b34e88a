"""Fixtures of the API tests: personal keys for alice (owner) and charlie
(outsider), and a client that sends one."""

from __future__ import annotations

import pytest
from django.test import Client

from api.services import api_key_create


class KeyClient:
    """A test client that sends ``Authorization: Bearer <secret>``."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.client = Client()

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", **(headers or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **data):
        return self.client.get(path, data or None, headers=self._headers(headers))

    def post(self, path: str, body: dict | None = None, headers: dict[str, str] | None = None):
        return self.client.post(path, body or {}, content_type="application/json", headers=self._headers(headers))

    def upload(self, path: str, data: dict, headers: dict[str, str] | None = None):
        return self.client.post(path, data, headers=self._headers(headers))


def key_client(user, scopes=("read", "generate"), name="tool") -> KeyClient:
    _key, secret = api_key_create(user=user, name=name, scopes=list(scopes))
    return KeyClient(secret)


@pytest.fixture
def alice_api(alice):
    return key_client(alice)


@pytest.fixture
def charlie_api(charlie):
    return key_client(charlie)
