from __future__ import annotations

import pytest

from credits.models import Wallet
from generation import services
from generation.models import JobStatus


@pytest.mark.django_db
def test_a_demo_job_runs_to_done_and_charges_its_price(alice, demo_offer, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a red fox", "outputs": 2})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.assets.count() == 2
    assert all(a.content_type == "image/png" and a.width == 768 for a in job.assets.all())
    wallet = Wallet.objects.get(user=alice)
    assert (wallet.balance, wallet.held) == (100 - 4, 0)
    assert job.charged_credits == 4
