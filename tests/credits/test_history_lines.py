"""The credit history reads for people, in the page's language: what each
job's hold, charge and return were for ("Image · <model> · 2 images",
"Returned: 1 image not delivered"), the sign-up bonus, unambiguous dates,
and a bounded number of queries however many jobs a page shows."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.services import user_onboard
from generation import services
from providers.base import TaskResult, TaskState
from providers.demo import DemoAdapter

pytestmark = pytest.mark.django_db


def one_of_two_fails(monkeypatch):
    real_fetch = DemoAdapter.fetch

    def fetch(self, task_id, request):
        if request.index == 1:
            return TaskResult(task_id=task_id, state=TaskState.FAILED, error_code="501", error_message="refused")
        return real_fetch(self, task_id, request)

    monkeypatch.setattr(DemoAdapter, "fetch", fetch)


def test_a_jobs_entries_say_what_they_were_for_in_english_and_arabic(
    alice_client, alice, demo_offer, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.MIRSAM_SIGNUP_CREDITS = 10
    user_onboard(user=alice)
    one_of_two_fails(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a fox", "outputs": 2})

    english = alice_client.get(reverse("credit_history")).content.decode()
    arabic = alice_client.get("/ar" + reverse("credit_history")).content.decode()

    assert f"Image · {demo_offer.name} · 2 images" in english
    assert "Returned: 1 image not delivered" in english
    assert "Sign-up bonus" in english and f"job {job.pk}" not in english
    assert "مكافأة التسجيل" in arabic and "Sign-up bonus" not in arabic
    assert "Returned" not in arabic and "images" not in arabic and "Image ·" not in arabic
    assert "/" not in arabic.split("<tbody>")[1].split("</time>")[0].split(">")[-1]  # no 12/02/2026 dates


def test_the_history_page_costs_the_same_queries_for_one_job_or_ten(
    alice_client, alice, demo_offer, django_capture_on_commit_callbacks
):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert alice_client.get(reverse("credit_history")).status_code == 200
        return len(captured)

    with django_capture_on_commit_callbacks(execute=True):
        services.job_submit(user=alice, offer=demo_offer, params={"prompt": "one", "outputs": 1})
    few = queries()
    for n in range(9):
        with django_capture_on_commit_callbacks(execute=True):
            services.job_submit(user=alice, offer=demo_offer, params={"prompt": f"more {n}", "outputs": 1})
    assert queries() == few
