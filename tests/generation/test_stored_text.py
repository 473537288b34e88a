"""A failure reason stored in one language reads in the page's language."""

from __future__ import annotations

import pytest
from django.utils import translation

from generation.models import Job
from generation.stored_text import in_active_language

DEMO_FAILED = "The demo provider failed this on purpose, to show what a failure looks like."


def _arabic(text: str) -> str:
    with translation.override("ar"):
        return translation.gettext(text)


def test_an_english_reason_reads_in_arabic_on_an_arabic_page():
    with translation.override("ar"):
        assert in_active_language(DEMO_FAILED) == _arabic(DEMO_FAILED) != DEMO_FAILED


def test_an_arabic_reason_reads_in_english_on_an_english_page():
    with translation.override("en"):
        assert in_active_language(_arabic(DEMO_FAILED)) == DEMO_FAILED


@pytest.mark.parametrize("text", ["", "kie.ai said: content policy violation (code 422)", "2 of 3 images were made."])
def test_words_not_in_the_catalogue_read_as_stored(text):
    for language in ("en", "ar"):
        with translation.override(language):
            assert in_active_language(text) == text


def test_a_jobs_error_text_is_its_message_in_the_active_language():
    job = Job(error_message=DEMO_FAILED)
    with translation.override("ar"):
        assert job.error_text == _arabic(DEMO_FAILED)
    with translation.override("en"):
        assert job.error_text == DEMO_FAILED
