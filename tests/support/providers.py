"""Helpers for the provider-adapter tests: a user's file as the pipeline hands
it to an adapter, and the ProviderError a call raises."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import IO, Any

import pytest

from providers.base import InputFile, ProviderError
from tests.support.kie.media import png_bytes


def input_file(
    data: bytes | None = None,
    *,
    name: str = "frame.png",
    content_type: str = "image/png",
    role: str = "first_frame",
    opened: list[IO[bytes]] | None = None,
) -> InputFile:
    """A user's file as the pipeline hands it over (default content: a small
    PNG); every file ``open()`` returns is appended to ``opened`` so a test
    can check it was closed."""
    content = data if data is not None else png_bytes()

    def open_() -> IO[bytes]:
        file = io.BytesIO(content)
        if opened is not None:
            opened.append(file)
        return file

    return InputFile(name=name, content_type=content_type, open=open_, role=role)


def raised(call: Callable[[], Any]) -> ProviderError:
    """The :class:`ProviderError` ``call()`` raises (the test fails if it raises none)."""
    with pytest.raises(ProviderError) as info:
        call()
    return info.value


def catalogue_options(provider_model: str) -> dict[str, Any]:
    """The seeded catalogue row's ``options`` for ``provider_model`` (its
    ``provider_model`` or ``provider_model_with_inputs``): what the pipeline
    hands an adapter as ``TaskRequest.options``; ``{}`` for a model no row
    names. Read from the seeded rows themselves (tests/support/catalogue.py),
    not from the test database, which a transactional test may have emptied."""
    from tests.support.catalogue import seeded_rows

    for fields in seeded_rows()["providers.offer"]:
        options = fields["options"] or {}
        if provider_model in (fields["provider_model"], options.get("provider_model_with_inputs")):
            return dict(options)
    return {}
