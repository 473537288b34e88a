"""My creations as a library: search (Arabic and English), filters,
favourites, projects and their budgets, bulk move and delete, tiles, and a
query count that does not grow with a large history."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from credits.models import Wallet
from generation import services
from generation.errors import GenerationError
from generation.models import Asset, Job, JobStatus, Project
from generation.selectors import project_budgets
from tests.factories import OfferFactory, StylePresetFactory
from tests.support.accounts import fund

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


def _job(user, offer, prompt="", *, status=JobStatus.SUCCEEDED, service=None, asset=None, **fields) -> Job:
    """A job row as the pipeline leaves it (no hold), with ``prompt_text``
    as job_submit writes it; ``asset`` a content type to give it one result
    (``poster=True``: with a poster frame)."""
    poster = fields.pop("poster", False)
    job = Job.objects.create(
        user=user,
        offer=offer,
        service=service or offer.service,
        status=status,
        params={"prompt": prompt, "outputs": 1},
        prompt_text=prompt,
        price_credits=2,
        charged_credits=2 if status == JobStatus.SUCCEEDED else 0,
        **fields,
    )
    if asset:
        suffix = {"video/mp4": "mp4", "audio/mpeg": "mp3"}.get(asset, "png")
        Asset.objects.create(
            job=job,
            user=user,
            file=f"outputs/{user.pk}/{job.pk}/x.{suffix}",
            poster=f"outputs/{user.pk}/{job.pk}/p.png" if poster else "",
            content_type=asset,
            size_bytes=10,
        )
    return job


def _shown(client, **query) -> list[int]:
    response = client.get(reverse("creations"), query)
    assert response.status_code == 200
    return [j.pk for j in response.context["page"].object_list]


# --- search ---------------------------------------------------------------------


def test_the_prompt_is_searchable_from_the_moment_the_job_is_made(alice_client, alice, demo_offer):
    arabic = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "قطة تجلس على سطح المنزل عند الغروب"})
    english = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "A Lighthouse in the STORM"})
    assert arabic.prompt_text == "قطة تجلس على سطح المنزل عند الغروب"

    assert _shown(alice_client, q="سطح المنزل") == [arabic.pk]
    assert _shown(alice_client, q="الغروب") == [arabic.pk]
    assert _shown(alice_client, q="lighthouse in the storm") == [english.pk]
    assert _shown(alice_client, q="LIGHTHOUSE") == [english.pk]
    assert _shown(alice_client, q="كلب") == []
    assert _shown(alice_client, q="   ") == [english.pk, arabic.pk]  # blank: no search


def test_search_never_shows_another_users_jobs(alice_client, alice, charlie, demo_offer):
    _job(charlie, demo_offer, "a lighthouse")
    mine = _job(alice, demo_offer, "a lighthouse too")
    assert _shown(alice_client, q="lighthouse") == [mine.pk]


def test_a_portrait_is_found_by_its_style_in_either_language_and_its_details(alice, demo_offer):
    avatar = OfferFactory(slug="lib-avatar", service="avatar", options={"params": {}, "max_outputs": 4})
    preset = StylePresetFactory(name_en="Desert knight", name_ar="فارس الصحراء")
    job = services.job_submit(
        user=alice,
        offer=avatar,
        params={"prompt": preset.prompt("red scarf"), "outputs": 1},
        extra={"preset": preset.slug, "details": "red scarf"},
    )
    assert job.prompt_text.split("\n") == ["Desert knight", "فارس الصحراء", "red scarf"]


def test_the_migration_fills_the_search_text_of_older_jobs(alice, demo_offer):
    old = Job.objects.create(
        user=alice, offer=demo_offer, service="image", params={"prompt": "منارة قديمة", "outputs": 1}, price_credits=2
    )
    assert old.prompt_text == ""
    migration = importlib.import_module("generation.migrations.0015_job_prompt_text_fill_and_trigram")
    migration.fill(apps, None)
    old.refresh_from_db()
    assert old.prompt_text == "منارة قديمة"


# --- filters ----------------------------------------------------------------------


@pytest.fixture
def library(alice, demo_offer):
    """alice's library: images, a video, a failed job, one a week old, a
    favourite, one in a project."""
    other = OfferFactory(slug="lib-other", name="Other model")
    video_offer = OfferFactory(slug="lib-video", service="video", provider_model="demo/video")
    project = Project.objects.create(user=alice, name="حملة رمضان")
    jobs = {
        "cat": _job(alice, demo_offer, "a cat on a roof"),
        "قطة": _job(alice, other, "قطة على السطح", favourite=True),
        "video": _job(alice, video_offer, "a cat running", service="video"),
        "failed": _job(alice, demo_offer, "a failed cat", status=JobStatus.FAILED),
        "filed": _job(alice, demo_offer, "a filed dog", project=project),
    }
    week_ago = timezone.now() - timedelta(days=7)
    Job.objects.filter(pk=jobs["cat"].pk).update(created_at=week_ago)
    return {"jobs": jobs, "project": project, "other": other, "week_ago": week_ago}


def test_each_filter_narrows_the_library(alice_client, library):
    j = {k: v.pk for k, v in library["jobs"].items()}
    assert _shown(alice_client, service="video") == [j["video"]]
    assert _shown(alice_client, offer=library["other"].pk) == [j["قطة"]]
    assert _shown(alice_client, status="failed") == [j["failed"]]
    assert _shown(alice_client, favourites="1") == [j["قطة"]]
    assert _shown(alice_client, project=library["project"].pk) == [j["filed"]]
    assert j["filed"] not in _shown(alice_client, project=0)  # "Not in a project"
    today = timezone.localdate()
    assert j["cat"] not in _shown(alice_client, date_from=today.isoformat())
    assert _shown(alice_client, date_to=(today - timedelta(days=3)).isoformat()) == [j["cat"]]
    week = library["week_ago"].date().isoformat()
    assert _shown(alice_client, date_from=week, date_to=week) == [j["cat"]]


def test_filters_combine_with_the_search(alice_client, library):
    j = {k: v.pk for k, v in library["jobs"].items()}
    assert set(_shown(alice_client, q="cat")) == {j["cat"], j["video"], j["failed"]}
    assert _shown(alice_client, q="cat", service="video") == [j["video"]]
    assert _shown(alice_client, q="cat", status="failed", offer=library["jobs"]["failed"].offer_id) == [j["failed"]]
    assert _shown(alice_client, q="السطح", favourites="1") == [j["قطة"]]
    assert _shown(alice_client, q="cat", project=library["project"].pk) == []


def test_a_date_range_given_backwards_is_read_as_meant(alice_client, library):
    today = timezone.localdate()
    forwards = _shown(alice_client, date_from=(today - timedelta(days=8)).isoformat(), date_to=today.isoformat())
    backwards = _shown(alice_client, date_from=today.isoformat(), date_to=(today - timedelta(days=8)).isoformat())
    assert forwards == backwards and len(forwards) == 5


@pytest.mark.parametrize(
    "query",
    [
        {"offer": "abc"},
        {"offer": "999999"},
        {"date_from": "not-a-date"},
        {"status": "exploded"},
        {"service": "<script>"},
        {"project": "x"},
        {"page": "9999"},
    ],
)
def test_a_filter_that_does_not_clean_filters_nothing(alice_client, library, query):
    response = alice_client.get(reverse("creations"), query)
    assert response.status_code == 200
    assert len(response.context["page"].object_list) == 5 or query == {"page": "9999"}


def test_another_users_project_id_shows_nothing_of_theirs(alice_client, charlie, demo_offer, library):
    theirs = Project.objects.create(user=charlie, name="theirs")
    _job(charlie, demo_offer, "their job", project=theirs)
    assert len(_shown(alice_client, project=theirs.pk)) == 5  # not a choice: no filter


def test_the_filter_bar_works_as_a_plain_get_form(alice_client, library):
    body = alice_client.get(reverse("creations")).content.decode()
    assert 'method="get"' in body and "data-autosubmit" in body
    for name in ("q", "service", "offer", "status", "project", "date_from", "date_to", "favourites"):
        assert f'name="{name}"' in body
    page = alice_client.get(reverse("creations"), {"q": "cat", "service": "image"}).content.decode()
    assert 'value="cat"' in page


def test_pagination_keeps_the_search_and_filters(alice_client, alice, demo_offer, settings):
    settings.MIRSAM_CREATIONS_PER_PAGE = 2
    for i in range(5):
        _job(alice, demo_offer, f"dune {i}")
    body = alice_client.get(reverse("creations"), {"q": "dune", "service": "image"}).content.decode()
    assert "?page=2&amp;q=dune&amp;service=image" in body


# --- favourites ---------------------------------------------------------------------


def test_the_star_toggles_with_htmx_and_the_favourites_view_lists_them(alice_client, alice, demo_offer):
    job = _job(alice, demo_offer, "a falcon", asset="image/png")
    response = alice_client.post(reverse("job_favourite", args=[job.pk]), {"favourite": "1"}, **HX)
    assert response.status_code == 200
    assert 'aria-pressed="true"' in response.content.decode()
    assert Job.objects.get(pk=job.pk).favourite
    assert _shown(alice_client, favourites="1") == [job.pk]
    # Sent twice (a double click): still a favourite.
    alice_client.post(reverse("job_favourite", args=[job.pk]), {"favourite": "1"}, **HX)
    assert Job.objects.get(pk=job.pk).favourite
    alice_client.post(reverse("job_favourite", args=[job.pk]), {"favourite": "0"}, **HX)
    assert _shown(alice_client, favourites="1") == []


def test_without_htmx_the_star_goes_back_to_the_page(alice_client, alice, demo_offer):
    job = _job(alice, demo_offer, "a falcon")
    back = reverse("creations") + "?q=falcon"
    response = alice_client.post(reverse("job_favourite", args=[job.pk]), HTTP_REFERER=f"http://testserver{back}")
    assert response.status_code == 302 and response["Location"].endswith(back)
    assert Job.objects.get(pk=job.pk).favourite  # no value sent: flipped
    evil = alice_client.post(reverse("job_favourite", args=[job.pk]), HTTP_REFERER="https://evil.example/")
    assert evil["Location"] == reverse("creations")


def test_an_outsider_cannot_star_a_job(charlie_client, alice, demo_offer):
    job = _job(alice, demo_offer, "a falcon")
    assert charlie_client.post(reverse("job_favourite", args=[job.pk]), {"favourite": "1"}).status_code == 404
    assert not Job.objects.get(pk=job.pk).favourite


def test_the_star_needs_a_post(alice_client, alice, demo_offer):
    job = _job(alice, demo_offer, "a falcon")
    assert alice_client.get(reverse("job_favourite", args=[job.pk])).status_code == 405


def test_the_kept_library_page_changes_after_a_toggle(alice_client, alice, demo_offer):
    job = _job(alice, demo_offer, "a falcon", asset="image/png")
    first = alice_client.get(reverse("creations")).content.decode()
    assert "fav-btn is-on" not in first
    assert caches["pages"]._cache, "the page was kept"  # LocMemCache's own store
    with CaptureQueriesContext(connection) as kept:
        alice_client.get(reverse("creations"))
    assert len(kept) <= 3  # served from the cache
    alice_client.post(reverse("job_favourite", args=[job.pk]), {"favourite": "1"}, **HX)
    assert "fav-btn is-on" in alice_client.get(reverse("creations")).content.decode()


# --- projects -----------------------------------------------------------------------


def test_projects_are_created_renamed_and_deleted_keeping_their_jobs(alice_client, alice, demo_offer):
    response = alice_client.post(reverse("projects"), {"name": "  حملة   رمضان ", "budget_credits": "50"})
    assert response.status_code == 302
    project = Project.objects.get(user=alice)
    assert (project.name, project.budget_credits) == ("حملة رمضان", 50)
    job = _job(alice, demo_offer, "x", project=project)

    alice_client.post(reverse("project_edit", args=[project.pk]), {"name": "Eid", "budget_credits": ""})
    project.refresh_from_db()
    assert (project.name, project.budget_credits) == ("Eid", None)
    assert "Eid" in alice_client.get(reverse("projects")).content.decode()

    assert alice_client.get(reverse("project_delete", args=[project.pk])).status_code == 200
    before = Job.objects.get(pk=job.pk).updated_at
    alice_client.post(reverse("project_delete", args=[project.pk]))
    assert not Project.objects.exists()
    job.refresh_from_db()
    assert job.project is None and job.updated_at > before  # unfiled, and its tile changes


@pytest.mark.parametrize(
    "data", [{"name": ""}, {"name": "   "}, {"name": "x" * 81}, {"name": "ok", "budget_credits": "0"}]
)
def test_a_bad_project_is_refused(alice_client, alice, data):
    response = alice_client.post(reverse("projects"), data)
    assert response.status_code == 400
    assert not Project.objects.exists()


def test_the_project_service_checks_names_and_budgets_too(alice):
    with pytest.raises(GenerationError):
        services.project_create(user=alice, name=" ")
    with pytest.raises(GenerationError):
        services.project_create(user=alice, name="ok", budget_credits=0)


def test_an_outsider_cannot_touch_a_project(charlie_client, alice):
    project = Project.objects.create(user=alice, name="mine")
    assert charlie_client.post(reverse("project_edit", args=[project.pk]), {"name": "pwned"}).status_code == 404
    assert charlie_client.get(reverse("project_delete", args=[project.pk])).status_code == 404
    assert charlie_client.post(reverse("project_delete", args=[project.pk])).status_code == 404
    project.refresh_from_db()
    assert project.name == "mine"


def _generate(client, offer, **data):
    return client.post(
        reverse("job_create"),
        {"offer": offer.pk, "prompt": "a dune", "aspect_ratio": "1:1", "outputs": 1, **data},
        **HX,
    )


def test_a_job_is_filed_in_a_project_from_the_generate_form(alice_client, alice, demo_offer):
    project = Project.objects.create(user=alice, name="Dunes")
    assert "Dunes" in alice_client.get(reverse("image")).content.decode()  # the studio's select
    assert _generate(alice_client, demo_offer, project=project.pk).status_code == 200
    assert Job.objects.get(user=alice).project == project
    _generate(alice_client, demo_offer, project="")
    assert Job.objects.filter(user=alice, project=None).count() == 1


def test_a_forged_project_of_another_user_is_never_filed(alice_client, alice, charlie, demo_offer):
    theirs = Project.objects.create(user=charlie, name="theirs")
    response = _generate(alice_client, demo_offer, project=theirs.pk)
    assert response["HX-Retarget"] == "#form-errors"
    assert not Job.objects.exists()
    assert Wallet.objects.get(user=alice).held == 0
    with pytest.raises(GenerationError) as caught:
        services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x"}, project=theirs)
    assert caught.value.code == "not_found"
    assert not Job.objects.exists()


def test_the_budget_warns_at_80_percent_and_refuses_past_100_before_holding(alice_client, alice, demo_offer):
    project = Project.objects.create(user=alice, name="Ramadan", budget_credits=10)
    # Running jobs count what they hold; finished ones what they were charged.
    for _ in range(3):
        services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x"}, project=project)  # 2 held each
    _job(alice, demo_offer, "done", project=project)  # charged 2
    (budget,) = project_budgets(user=alice)
    assert (budget.spent, budget.percent, budget.warn, budget.full) == (8, 80, True, False)
    library = alice_client.get(reverse("creations")).content.decode()
    assert "budget-alert" in library and "80%" in library
    assert "80%" in alice_client.get(reverse("image")).content.decode()
    project_page = alice_client.get(reverse("creations"), {"project": project.pk}).content.decode()
    assert "<strong>8</strong> of 10 credits used" in project_page

    services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x"}, project=project)  # exactly 100 %
    wallet = Wallet.objects.get(user=alice)
    jobs = Job.objects.count()
    response = _generate(alice_client, demo_offer, project=project.pk)
    assert response["HX-Retarget"] == "#form-errors"
    assert "over its budget" in response.content.decode()
    after = Wallet.objects.get(user=alice)
    assert (after.balance, after.held) == (wallet.balance, wallet.held)
    assert Job.objects.count() == jobs
    # Elsewhere, outside the project, the same job is fine.
    assert _generate(alice_client, demo_offer).status_code == 200
    assert Job.objects.count() == jobs + 1


def test_the_budget_error_is_in_arabic_on_the_arabic_page(alice, demo_offer):
    from django.utils import translation

    project = Project.objects.create(user=alice, name="رمضان", budget_credits=1)
    with translation.override("ar"), pytest.raises(GenerationError) as caught:
        services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x"}, project=project)
    assert caught.value.code == "over_budget"
    assert "الميزانية" in str(caught.value.message)


def test_regenerating_a_filed_job_stays_in_its_project_and_its_budget(alice, demo_offer):
    project = Project.objects.create(user=alice, name="p", budget_credits=3)
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "x"}, project=project)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, charged_credits=2)
    job.refresh_from_db()
    with pytest.raises(GenerationError) as caught:
        services.job_regenerate(job=job)
    assert caught.value.code == "over_budget"
    project.budget_credits = 4
    project.save()
    assert services.job_regenerate(job=job).project == project


# --- bulk actions -------------------------------------------------------------------


def test_bulk_move_and_delete_ignore_another_users_ids(alice_client, alice, charlie, demo_offer):
    mine = _job(alice, demo_offer, "mine")
    theirs = _job(charlie, demo_offer, "theirs")
    project = Project.objects.create(user=alice, name="p")
    alice_client.post(reverse("creations_bulk"), {"action": "move", "target": project.pk, "job": [mine.pk, theirs.pk]})
    assert Job.objects.get(pk=mine.pk).project == project
    assert Job.objects.get(pk=theirs.pk).project is None
    alice_client.post(reverse("creations_bulk"), {"action": "delete", "confirm": "1", "job": [theirs.pk]})
    assert Job.objects.filter(pk=theirs.pk).exists()
    alice_client.post(reverse("creations_bulk"), {"action": "move", "target": "", "job": [mine.pk, theirs.pk]})
    assert Job.objects.get(pk=mine.pk).project is None


def test_bulk_move_to_another_users_project_is_a_404(alice_client, alice, charlie, demo_offer):
    mine = _job(alice, demo_offer, "mine")
    theirs = Project.objects.create(user=charlie, name="theirs")
    response = alice_client.post(reverse("creations_bulk"), {"action": "move", "target": theirs.pk, "job": [mine.pk]})
    assert response.status_code == 404
    assert Job.objects.get(pk=mine.pk).project is None


def test_bulk_delete_asks_first_then_deletes_only_finished_jobs(alice_client, alice, demo_offer):
    done = _job(alice, demo_offer, "done")
    failed = _job(alice, demo_offer, "failed", status=JobStatus.FAILED)
    running = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "running"})
    ids = [done.pk, failed.pk, running.pk]
    confirm = alice_client.post(reverse("creations_bulk"), {"action": "delete", "job": ids})
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert 'name="confirm"' in body and "Delete 3 creations?" in body
    assert Job.objects.count() == 3  # nothing deleted yet
    response = alice_client.post(reverse("creations_bulk"), {"action": "delete", "confirm": "1", "job": ids})
    assert response.status_code == 302
    assert list(Job.objects.values_list("pk", flat=True)) == [running.pk]
    assert Wallet.objects.get(user=alice).held == 2  # the running job's hold is untouched


def test_select_all_on_this_page_works_without_javascript(alice_client, alice, demo_offer):
    jobs = [_job(alice, demo_offer, f"j{i}") for i in range(3)]
    project = Project.objects.create(user=alice, name="p")
    alice_client.post(
        reverse("creations_bulk"),
        {"action": "move", "target": project.pk, "all_on_page": "1", "page_job": [j.pk for j in jobs]},
    )
    assert Job.objects.filter(project=project).count() == 3


def test_more_than_the_bulk_limit_is_refused(alice_client, alice, demo_offer, settings):
    settings.MIRSAM_LIBRARY_BULK_MAX = 2
    jobs = [_job(alice, demo_offer, f"j{i}") for i in range(3)]
    response = alice_client.post(
        reverse("creations_bulk"), {"action": "delete", "confirm": "1", "job": [j.pk for j in jobs]}, follow=True
    )
    assert "Select at most 2 creations at once" in response.content.decode()
    assert Job.objects.count() == 3


@pytest.mark.parametrize("data", [{"action": "delete"}, {"action": "explode", "job": ["1"]}, {"job": ["x", "-1"]}])
def test_a_bulk_request_without_a_selection_or_action_does_nothing(alice_client, alice, demo_offer, data):
    job = _job(alice, demo_offer, "kept")
    data = {k: ([str(job.pk)] if k == "job" and v == ["1"] else v) for k, v in data.items()}
    response = alice_client.post(reverse("creations_bulk"), data)
    assert response.status_code == 302
    assert Job.objects.filter(pk=job.pk).exists()


def test_bulk_actions_need_a_post_and_a_sign_in(client, alice_client):
    assert alice_client.get(reverse("creations_bulk")).status_code == 405
    assert client.post(reverse("creations_bulk"), {"action": "delete"}).status_code == 302  # to the login page


# --- tiles --------------------------------------------------------------------------


def test_tiles_show_sound_as_a_player_and_never_point_an_img_at_a_video(alice_client, alice, demo_offer):
    sound = _job(alice, demo_offer, "a song", service="audio", asset="audio/mpeg")
    clip = _job(alice, demo_offer, "a clip", service="video", asset="video/mp4")
    poster = _job(alice, demo_offer, "a clip with poster", service="video", asset="video/mp4", poster=True)
    picture = _job(alice, demo_offer, "a picture", asset="image/png")
    body = alice_client.get(reverse("creations")).content.decode()
    urls = {j: reverse("asset_file", args=[j.assets.get().pk]) for j in (sound, clip, poster, picture)}
    assert f'<audio class="creation__audio" controls preload="none" src="{urls[sound]}">' in body
    assert f'<img src="{urls[clip]}"' not in body and f'<img src="{urls[poster]}"' not in body
    assert f'<img src="{reverse("asset_poster", args=[poster.assets.get().pk])}"' in body
    assert f'<img src="{urls[picture]}"' in body
    assert body.count("data-bulk-item") == 4 and body.count('class="fav-form"') == 4


# --- speed with a large history -----------------------------------------------------


def _history(user, offer, project, n: int) -> None:
    prompts = ["قطة على السطح", "a cat on a roof", "منارة في العاصفة", "a lighthouse"]
    jobs = Job.objects.bulk_create(
        [
            Job(
                user=user,
                offer=offer,
                service="image",
                status=JobStatus.SUCCEEDED,
                params={"prompt": prompts[i % 4], "outputs": 1},
                prompt_text=prompts[i % 4],
                price_credits=2,
                charged_credits=2,
                favourite=i % 3 == 0,
                project=project if i % 2 == 0 else None,
            )
            for i in range(n)
        ],
        batch_size=500,
    )
    Asset.objects.bulk_create(
        [
            Asset(job=j, user=user, file=f"outputs/{user.pk}/{j.pk}/x.png", content_type="image/png", size_bytes=1)
            for j in jobs
        ],
        batch_size=500,
    )


def _queries(client, url: str) -> int:
    caches["pages"].clear()  # count a page rendered, not a kept one
    caches["fragments"].clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


LIBRARY_URLS = [
    "",
    "?q=%D8%B3%D8%B7%D8%AD",  # سطح
    "?q=cat&service=image&status=succeeded&favourites=1",
    "?project={project}&date_from=2020-01-01&date_to=2100-01-01&page=2",
]


def test_a_library_page_runs_as_many_queries_with_2000_jobs_as_with_10(alice_client, alice, demo_offer):
    project = Project.objects.create(user=alice, name="p", budget_credits=100_000)
    _history(alice, demo_offer, project, 10)
    urls = [reverse("creations") + u.format(project=project.pk) for u in LIBRARY_URLS]
    alice_client.get(urls[0])  # warm: session, lazy imports
    small = [_queries(alice_client, url) for url in urls]
    _history(alice, demo_offer, project, 1990)
    large = [_queries(alice_client, url) for url in urls]
    print(f"\n[queries] library pages, 10 jobs: {small}, 2,000 jobs: {large}")
    assert large == small, (small, large)
    assert max(large) <= 14


@pytest.mark.skipif(connection.vendor != "sqlite", reason="reads SQLite's query plan")
def test_the_library_page_is_read_through_the_user_and_date_index(alice, demo_offer):
    from generation.selectors import LibraryFilters, library_jobs

    name = "job_user_created_idx"
    # (A status filter may be read through the sweeper's (status, created_at)
    # index on SQLite, which keeps no statistics; PostgreSQL's planner, below, weighs them.)
    for filters in (LibraryFilters(), LibraryFilters(service="image"), LibraryFilters(q="cat", project=0)):
        sql, params = library_jobs(user=alice, filters=filters)[:12].query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert name in plan, plan
        assert "USE TEMP B-TREE FOR ORDER BY" not in plan, plan  # no sort of the whole history


def test_budgets_cost_one_query_whatever_the_number_of_projects(alice, demo_offer, django_assert_num_queries):
    for i in range(5):
        _job(alice, demo_offer, "x", project=Project.objects.create(user=alice, name=f"p{i}", budget_credits=10))
    fund(alice, 1)
    with django_assert_num_queries(1):
        budgets = project_budgets(user=alice)
        assert [b.spent for b in budgets] == [2] * 5


@pytest.mark.services
def test_on_postgresql_the_search_and_the_page_are_read_through_indexes(postgres, alice, charlie, demo_offer):
    """50,000 jobs of ten users (alice 5,000): the page and its count
    through the (user, -created_at) index, a search for a rare word through
    the trigram index (migration 0015), an Arabic search still right."""
    from accounts.models import User
    from generation.selectors import LibraryFilters, library_jobs

    others = User.objects.bulk_create([User(email=f"u{i}@example.com", username=f"u{i}") for i in range(8)])
    for user in (alice, charlie, *others):
        Job.objects.bulk_create(
            [
                Job(
                    user=user,
                    offer=demo_offer,
                    service="image",
                    status=JobStatus.SUCCEEDED if i % 5 else JobStatus.FAILED,
                    params={},
                    prompt_text="zeppelin over a city" if i % 500 == 0 else f"منارة في العاصفة {i}",
                    price_credits=2,
                )
                for i in range(5_000)
            ],
            batch_size=2500,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE generation_job")

    def plan(queryset) -> str:
        sql, params = queryset.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN {sql}", params)
            return "\n".join(row[0] for row in cursor.fetchall())

    name = "job_user_created_idx"
    page = library_jobs(user=alice, filters=LibraryFilters(status="succeeded"))
    assert name in plan(page[:12]), plan(page[:12])
    with CaptureQueriesContext(connection) as counted:
        page.count()  # as Paginator counts it
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {counted[0]['sql']}")
        count_plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Index Cond: (user_id = " in count_plan and "Seq Scan" not in count_plan, count_plan
    # The trigram index matches what icontains compiles to (UPPER(col) LIKE UPPER(%s)):
    # for a rare word over the whole table the planner takes it. (For one user's
    # 5,000 jobs it rightly reads their rows; at 100,000 the index pays.)
    everyone = Job.objects.filter(prompt_text__icontains="Zeppelin")
    assert "job_prompt_text_trgm" in plan(everyone.values("pk")), plan(everyone.values("pk"))
    search = library_jobs(user=alice, filters=LibraryFilters(q="Zeppelin"))
    assert search.count() == 10
    assert library_jobs(user=alice, filters=LibraryFilters(q="العاصفة 4999")).count() == 1


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_jobs_filed_at_once_never_pass_the_budget(postgres, demo_offer):
    """The project's row lock counts jobs filed at the same moment one after
    the other: with room for 3 jobs of 2 credits, 3 are made and 5 refused,
    and only those 3 take credits."""
    from credits.services import credits_grant
    from tests.factories import UserFactory
    from tests.support.concurrency import at_once

    user = UserFactory()
    credits_grant(user=user, amount=100, idempotency_key="fund", reason="test")
    project = Project.objects.create(user=user, name="tight", budget_credits=7)

    def attempt(n: int) -> str:
        try:
            services.job_submit(user=user, offer=demo_offer, params={"prompt": f"x{n}"}, project=project)
        except GenerationError as exc:
            return exc.code
        return "made"

    outcomes = at_once(8, attempt)
    assert sorted(outcomes) == ["made"] * 3 + ["over_budget"] * 5, outcomes
    assert Job.objects.filter(project=project).count() == 3
    wallet = Wallet.objects.get(user=user)  # held, or charged if the demo provider finished them
    assert 100 - wallet.balance + wallet.held == 6


def test_portraits_are_filed_from_the_avatar_form_and_a_full_project_keeps_no_photo(alice_client, alice):
    from generation.consent import CURRENT_VERSION
    from generation.models import Upload
    from tests.support.uploads import photo

    avatar_offer = OfferFactory(
        service="avatar",
        provider_model="demo/avatar",
        price_credits=1,
        options={"params": {}, "max_outputs": 4, "inputs": {"min": 1, "max": 3, "roles": ["photo"]}},
    )
    preset = StylePresetFactory()
    project = Project.objects.create(user=alice, name="Portraits", budget_credits=3)
    assert "Portraits" in alice_client.get(reverse("avatar")).content.decode()

    def post(outputs: int):
        data = {
            "offer": avatar_offer.pk,
            "preset": preset.pk,
            "outputs": outputs,
            "consent": "on",
            "consent_version": CURRENT_VERSION,
            "photos": [photo()],
            "project": project.pk,
        }
        return alice_client.post(reverse("avatar_create"), data, **HX)

    post(2)
    assert Job.objects.get(user=alice).project == project
    uploads = Upload.objects.count()
    response = post(2)  # 2 + 2 > 3
    assert "over its budget" in response.content.decode()
    assert Job.objects.count() == 1
    assert Upload.objects.count() == uploads  # the refused job's photo is not kept
