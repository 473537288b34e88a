"""Fixtures for the kie adapter's tests: kie.ai scripted on pytest-httpserver
(the wire format's builders and helpers are in tests/support/kie)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from providers.models import ProviderCall
from tests.support.kie import kie_configure, own_server


@pytest.fixture
def kie(settings, httpserver: HTTPServer) -> HTTPServer:
    return kie_configure(settings, httpserver)


@pytest.fixture
def slow_kie(settings) -> Iterator[HTTPServer]:
    with own_server() as server:
        yield kie_configure(settings, server)


@pytest.fixture
def calls():
    """This test's kie rows of the call log (the test database may hold rows
    committed by other suites, e.g. a real worker's)."""
    baseline = ProviderCall.objects.order_by("-id").values_list("id", flat=True).first() or 0
    return lambda: ProviderCall.objects.filter(adapter="kie", id__gt=baseline).order_by("id")
