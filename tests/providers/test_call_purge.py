"""The provider call log is purged after PROVIDER_CALL_RETENTION_DAYS."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from providers.models import ProviderCall
from providers.services import provider_calls_purge
from providers.tasks import purge_provider_calls_task

pytestmark = pytest.mark.django_db


def _calls(*ages_in_days: float) -> list[int]:
    now = timezone.now()
    ids = []
    for age in ages_in_days:
        call = ProviderCall.objects.create(adapter="kie", operation="fetch", method="GET", url="https://x/")
        ProviderCall.objects.filter(pk=call.pk).update(created_at=now - timedelta(days=age))  # auto_now_add
        ids.append(call.pk)
    return ids


def test_calls_past_the_retention_are_deleted_and_newer_ones_kept(settings):
    settings.PROVIDER_CALL_RETENTION_DAYS = 30
    old = _calls(31, 45, 400)
    kept = _calls(0, 29.9)
    assert provider_calls_purge() == 3
    assert sorted(ProviderCall.objects.values_list("pk", flat=True)) == sorted(kept)
    assert not ProviderCall.objects.filter(pk__in=old).exists()
    assert provider_calls_purge() == 0  # nothing left to do


def test_a_backlog_larger_than_a_batch_is_deleted_in_several(settings):
    settings.PROVIDER_CALL_RETENTION_DAYS = 7
    _calls(*[10] * 7)
    kept = _calls(1)
    assert provider_calls_purge(batch=3) == 7
    assert list(ProviderCall.objects.values_list("pk", flat=True)) == kept


def test_zero_days_keeps_the_log_forever(settings):
    settings.PROVIDER_CALL_RETENTION_DAYS = 0
    _calls(10_000)
    assert provider_calls_purge() == 0
    assert ProviderCall.objects.count() == 1


def test_beat_runs_the_purge_task(settings):
    settings.PROVIDER_CALL_RETENTION_DAYS = 90
    _calls(91, 1)
    entry = django_settings.CELERY_BEAT_SCHEDULE["purge-old-provider-calls"]
    assert entry["task"] == purge_provider_calls_task.name
    assert entry["schedule"] > 0
    assert purge_provider_calls_task.delay().get() == 1  # eager in tests
    assert ProviderCall.objects.count() == 1
