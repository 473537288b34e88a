"""Each task records the catalogue's cost estimate in USD when its job is
submitted (issue 16 part 7), so a later edit of the catalogue row does not
rewrite what a past job was expected to cost."""

from __future__ import annotations

from decimal import Decimal

import pytest

from generation import services
from providers.models import Offer
from tests.factories import OfferFactory

pytestmark = pytest.mark.django_db


def test_the_estimate_follows_the_jobs_settings_and_survives_a_catalogue_edit(alice):
    offer = OfferFactory(
        options={
            "params": {"resolution": {"choices": ["720p", "1080p"], "default": "720p"}},
            "cost": {"usd": "0.03", "by": {"resolution": {"1080p": "0.045"}}},
            "max_outputs": 2,
        }
    )

    job = services.job_submit(user=alice, offer=offer, params={"prompt": "owl", "resolution": "1080p", "outputs": 2})
    Offer.objects.filter(pk=offer.pk).update(options={**offer.options, "cost": {"usd": "9"}})

    assert [t.estimate_usd for t in job.tasks.order_by("index")] == [Decimal("0.0450")] * 2
    assert all(t.billed_usd is None for t in job.tasks.all())
