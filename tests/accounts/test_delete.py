"""Deleting an account and deleting all uploads (accounts.deletion, issue 19
part 1). Personas: alice deletes, charlie is the outsider whose data must stay."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.contrib.sessions.models import Session
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.deletion import account_delete, deleted_email, storage_files_delete, uploads_delete_all
from accounts.models import StaffAction, User
from api.models import ApiKey
from api.services import api_key_create
from credits.models import Hold, HoldStatus, LedgerEntry, Wallet
from generation import services
from generation.files import asset_download_token
from generation.models import Asset, Consent, Job, JobInput, JobStatus, Project, Upload
from operators.selectors import dashboard_figures
from tests.support.accounts import fund
from tests.support.uploads import photo
from tests.test_storage_s3 import moto_endpoint, s3  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"  # tests.factories.UserFactory's


def _finished_job(user, offer, capture, prompt="a red fox"):
    with capture(execute=True):
        job = services.job_submit(user=user, offer=offer, params={"prompt": prompt, "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    return job


def _data(user, offer, capture):
    """An upload given with consent, a finished job made from it (a result
    with its file) and an API key: what a creator has."""
    upload = services.upload_create(user=user, file=photo(), consent_version="v1")
    job = _finished_job(user, offer, capture)
    JobInput.objects.create(job=job, upload=upload, role="photo")
    project = Project.objects.create(user=user, name="Holiday")
    Job.objects.filter(pk=job.pk).update(project=project)
    api_key_create(user=user, name="script", scopes=["read"])
    return upload, job


def _names(user):
    names = [u.file.name for u in Upload.objects.filter(user=user)]
    for asset in Asset.objects.filter(user=user):
        names += [f.name for f in (asset.file, asset.poster) if f.name]
    return names


def _money_figures(now):
    figures = dashboard_figures(period_days=30, now=now)
    return figures.revenue, figures.finance, figures.top_models, figures.jobs, figures.new_users_period


def test_deleting_removes_every_file_and_row_of_the_user_and_nothing_of_another(
    alice, charlie, demo_offer, django_capture_on_commit_callbacks, client
):
    fund(charlie, 50)
    _data(charlie, demo_offer, django_capture_on_commit_callbacks)
    upload, job = _data(alice, demo_offer, django_capture_on_commit_callbacks)
    asset = job.assets.get()
    mine, theirs = _names(alice), _names(charlie)
    assert len(mine) == 2 and all(default_storage.exists(n) for n in mine + theirs)
    token_url = reverse("asset_file", args=[asset.pk]) + "?token=" + asset_download_token(asset)
    assert client.get(token_url).status_code == 200
    now = timezone.now()
    before = _money_figures(now)

    with django_capture_on_commit_callbacks(execute=True):
        assert account_delete(user=alice) is True

    assert not any(default_storage.exists(n) for n in mine)
    assert all(default_storage.exists(n) for n in theirs)
    assert client.get(token_url).status_code == 404
    assert not Upload.objects.filter(user=alice).exists() and not Asset.objects.filter(user=alice).exists()
    assert not ApiKey.objects.filter(user=alice).exists() and not Project.objects.filter(user=alice).exists()
    assert not JobInput.objects.filter(job__user=alice).exists()
    consent = Consent.objects.get(user=alice)
    assert consent.upload is None and consent.version == "v1"  # the record of consent stays, its photo goes
    kept = Job.objects.get(pk=job.pk)  # the record of what was made and charged
    assert kept.charged_credits == job.charged_credits and kept.params["prompt"] == "" and kept.prompt_text == ""
    # charlie's data is untouched
    assert Upload.objects.filter(user=charlie).count() == 1 and Asset.objects.filter(user=charlie).count() == 1
    assert ApiKey.objects.filter(user=charlie).count() == 1
    assert Job.objects.get(user=charlie).params["prompt"] == "a red fox"
    # the books
    call_command("check_ledger")
    assert _money_figures(now) == before
    assert LedgerEntry.objects.filter(wallet__user=alice).count() >= 2


def test_the_user_row_stays_anonymised_and_cannot_sign_in(alice, client):
    EmailAddress.objects.create(user=alice, email=alice.email, verified=True, primary=True)
    alice.first_name, alice.last_name = "Alice", "Liddell"
    alice.save()
    account_delete(user=alice)
    alice.refresh_from_db()
    assert alice.email == deleted_email(alice.pk) and alice.username == f"deleted-{alice.pk}"
    assert (alice.first_name, alice.last_name, alice.is_active, alice.is_staff) == ("", "", False, False)
    assert not alice.has_usable_password() and alice.deleted_at is not None
    assert not EmailAddress.objects.filter(user=alice).exists()
    assert Wallet.objects.get(user=alice).balance == 100  # the ledger is not touched
    response = client.post(reverse("account_login"), {"login": "alice@example.com", "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_a_running_job_is_canceled_first_and_its_hold_released(alice, demo_offer):
    # Its submit message never runs (no on_commit callbacks executed): queued, credits held.
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "slow", "outputs": 1})
    hold = Hold.objects.get(pk=job.hold_id)
    assert hold.status == HoldStatus.OPEN
    account_delete(user=alice)
    job.refresh_from_db()
    hold.refresh_from_db()
    assert job.status == JobStatus.CANCELED and hold.status != HoldStatus.OPEN
    assert Wallet.objects.get(user=alice).held == 0
    call_command("check_ledger")


def test_deleting_twice_does_nothing_the_second_time(alice, staff):
    assert account_delete(user=alice, actor=staff, reason="asked by e-mail") is True
    stamp = User.objects.get(pk=alice.pk).deleted_at
    assert account_delete(user=alice, actor=staff, reason="again") is False
    assert User.objects.get(pk=alice.pk).deleted_at == stamp
    (action,) = StaffAction.objects.filter(kind=StaffAction.Kind.ACCOUNT_DELETE)
    assert (action.actor, action.user_id, action.reason) == (staff, alice.pk, "asked by e-mail")


def test_every_session_of_the_user_is_deleted(alice, charlie):
    phone, laptop, other = Client(), Client(), Client()
    phone.force_login(alice)
    laptop.force_login(alice)
    other.force_login(charlie)
    assert Session.objects.count() == 3
    account_delete(user=alice)
    assert Session.objects.count() == 1
    assert phone.get(reverse("account_settings")).status_code == 302  # to the sign-in page
    assert other.get(reverse("account_settings")).status_code == 200


def test_the_same_email_can_sign_up_again_as_a_new_account(client, settings):
    data = {"email": "back@example.com", "password1": "a-long-pass-phrase-9", "password2": "a-long-pass-phrase-9"}
    assert client.post(reverse("account_signup"), data).status_code == 302
    first = User.objects.get(email="back@example.com")
    client.logout()
    account_delete(user=first)
    assert client.post(reverse("account_signup"), data).status_code == 302
    second = User.objects.get(email="back@example.com")
    assert second.pk != first.pk and second.is_active
    assert Wallet.objects.get(user=second).balance == settings.MIRSAM_SIGNUP_CREDITS  # its own sign-up bonus


def test_the_page_explains_and_a_wrong_password_deletes_nothing(alice_client, alice):
    page = alice_client.get(reverse("account_delete"))
    body = page.content.decode()
    assert page.status_code == 200 and "What is kept, and why" in body and "unspent credits" in body
    response = alice_client.post(reverse("account_delete"), {"password": "not-my-password"})
    assert response.status_code == 200
    assert "Incorrect password." in response.content.decode()
    alice.refresh_from_db()
    assert alice.is_active and alice.deleted_at is None


def test_the_right_password_deletes_signs_out_and_lands_on_the_landing_page(alice_client, alice):
    response = alice_client.post(reverse("account_delete"), {"password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1][0] == reverse("landing")
    assert "Your account was deleted." in response.content.decode()
    assert "_auth_user_id" not in alice_client.session
    assert User.objects.get(pk=alice.pk).deleted_at is not None


def test_a_forged_user_id_in_the_form_deletes_only_the_signed_in_user(alice_client, alice, charlie):
    alice_client.post(reverse("account_delete"), {"password": PASSWORD, "user": charlie.pk, "user_id": charlie.pk})
    charlie.refresh_from_db()
    assert charlie.is_active and charlie.deleted_at is None and charlie.email == "charlie@example.com"
    assert User.objects.get(pk=alice.pk).deleted_at is not None


def test_an_account_without_a_password_must_sign_in_again(alice_client, alice, settings):
    settings.ACCOUNT_REAUTHENTICATION_TIMEOUT = 0  # the sign-in of the fixture is not recent any more
    alice.set_unusable_password()
    alice.save()
    alice_client.force_login(alice)
    assert "asked to sign in again" in alice_client.get(reverse("account_delete")).content.decode()
    response = alice_client.post(reverse("account_delete"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("account_login") + "?next=")
    assert User.objects.get(pk=alice.pk).deleted_at is None
    assert "_auth_user_id" not in alice_client.session


def test_an_account_without_a_password_deletes_right_after_signing_in(alice_client, alice, rf):
    from allauth.account.internal.flows.login import record_authentication

    alice.set_unusable_password()
    alice.save()
    alice_client.force_login(alice)
    session = alice_client.session
    request = rf.get("/")
    request.session = session
    record_authentication(request, alice, "socialaccount", provider="google")
    session.save()
    response = alice_client.post(reverse("account_delete"))
    assert response.status_code == 302 and response["Location"] == reverse("landing")
    assert User.objects.get(pk=alice.pk).deleted_at is not None


def test_an_active_subscription_is_canceled_at_stripe(alice_client, alice, plan, stripe_env, post_event):
    from djstripe.models import Subscription

    alice_client.post(reverse("checkout_start", args=["plan", plan.slug]))
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    post_event(stripe_env.event("customer.subscription.created", stripe_env.get(session["subscription"])))
    post_event(stripe_env.event("invoice.paid", stripe_env.get(session["invoice"])))
    assert stripe_env.get(session["subscription"])["status"] == "active"

    account_delete(user=alice)

    (cancel,) = stripe_env.requests_to("DELETE", f"/v1/subscriptions/{session['subscription']}")
    assert stripe_env.get(session["subscription"])["status"] == "canceled"
    assert Subscription.objects.get(id=session["subscription"]).stripe_data["status"] == "canceled"
    call_command("check_ledger")


def test_stripe_refusing_the_cancel_deletes_nothing(alice_client, alice, plan, stripe_env, post_event):
    alice_client.post(reverse("checkout_start", args=["plan", plan.slug]))
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    post_event(stripe_env.event("customer.subscription.created", stripe_env.get(session["subscription"])))
    post_event(stripe_env.event("invoice.paid", stripe_env.get(session["invoice"])))
    stripe_env.drop("DELETE", "/v1/subscriptions/")
    response = alice_client.post(reverse("account_delete"), {"password": PASSWORD})
    assert "could not be canceled" in response.content.decode()
    alice.refresh_from_db()
    assert alice.is_active and alice.deleted_at is None


def test_a_file_that_cannot_be_deleted_is_retried(monkeypatch, alice, demo_offer, django_capture_on_commit_callbacks):
    job = _finished_job(alice, demo_offer, django_capture_on_commit_callbacks)
    name = job.assets.get().file.name
    real_delete = type(default_storage._wrapped).delete if default_storage._wrapped else None
    calls = []

    def flaky(self, path):
        calls.append(path)
        if len(calls) == 1:
            raise OSError("storage is down")
        return real_delete(self, path)

    default_storage.exists(name)  # builds the storage
    monkeypatch.setattr(type(default_storage._wrapped), "delete", flaky)
    # Celery runs eagerly in tests: the retry happens at once.
    assert storage_files_delete(names=[name]) == [name]
    assert calls == [name, name] and not default_storage.exists(name)


def test_delete_all_uploads_removes_uploads_but_not_results_or_anothers(
    alice_client, alice, charlie, demo_offer, django_capture_on_commit_callbacks
):
    first = services.upload_create(user=alice, file=photo(), consent_version="v1")
    second = services.upload_create(user=alice, file=photo("two.png", fmt="PNG"))
    job = _finished_job(alice, demo_offer, django_capture_on_commit_callbacks)
    JobInput.objects.create(job=job, upload=first, role="photo")
    theirs = services.upload_create(user=charlie, file=photo())
    result = job.assets.get().file.name
    names = [first.file.name, second.file.name]

    assert "Delete all your 2 uploads?" in alice_client.get(reverse("uploads_delete_all")).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_client.post(reverse("uploads_delete_all"))
    assert response.status_code == 302
    assert not Upload.objects.filter(user=alice).exists()
    assert not any(default_storage.exists(n) for n in names)
    assert default_storage.exists(result) and Asset.objects.filter(job=job).exists()
    assert JobInput.objects.get(job=job).upload is None  # the job stays, its input file gone
    assert Upload.objects.filter(pk=theirs.pk).exists() and default_storage.exists(theirs.file.name)


def test_delete_all_uploads_keeps_one_a_running_job_needs(alice, demo_offer):
    upload = services.upload_create(user=alice, file=photo())
    job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "slow", "outputs": 1})
    JobInput.objects.create(job=job, upload=upload, role="photo")
    assert uploads_delete_all(user=alice) == (0, 1)
    assert Upload.objects.filter(pk=upload.pk).exists()


def test_staff_delete_accounts_from_the_admin_with_a_reason(staff_client, staff, alice, charlie):
    changelist = reverse("admin:accounts_user_changelist")
    data = {"action": "delete_accounts", "_selected_action": [alice.pk, staff.pk]}
    confirm = staff_client.post(changelist, data)
    assert confirm.status_code == 200 and "alice@example.com" in confirm.content.decode()
    assert User.objects.get(pk=alice.pk).deleted_at is None  # nothing before the confirmation
    response = staff_client.post(changelist, {**data, "confirm": "1", "reason": "GDPR request #12"})
    assert response.status_code == 302
    assert User.objects.get(pk=alice.pk).deleted_at is not None
    assert User.objects.get(pk=staff.pk).deleted_at is None  # never their own
    assert User.objects.get(pk=charlie.pk).deleted_at is None
    action = StaffAction.objects.get(kind=StaffAction.Kind.ACCOUNT_DELETE)
    assert (action.actor, action.user_id, action.reason) == (staff, alice.pk, "GDPR request #12")


def test_the_admin_never_hard_deletes_a_user(staff_client, alice):
    assert staff_client.get(reverse("admin:accounts_user_delete", args=[alice.pk])).status_code == 403
    assert "delete_selected" not in staff_client.get(reverse("admin:accounts_user_changelist")).content.decode()


def test_a_paying_users_revenue_and_ledger_are_unchanged(
    alice_client, alice, pack, stripe_env, post_event, demo_offer, django_capture_on_commit_callbacks
):
    from billing.models import Purchase

    alice_client.post(reverse("checkout_start", args=["pack", pack.slug]))
    session = stripe_env.complete_session(stripe_env.of_type("checkout.session")[-1]["id"])
    assert post_event(stripe_env.event("checkout.session.completed", session)).status_code == 200
    _finished_job(alice, demo_offer, django_capture_on_commit_callbacks)  # spends bought credits: revenue
    now = timezone.now()
    before = _money_figures(now)
    assert sum(row.gross for row in before[0]) == 500  # the pack's price, in cents
    balance = Wallet.objects.get(user=alice).balance

    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=alice)

    assert _money_figures(now) == before
    purchase = Purchase.objects.get(user=alice)  # kept, on the anonymised user
    assert purchase.user.email == deleted_email(alice.pk)
    assert Wallet.objects.get(user=alice).balance == balance
    call_command("check_ledger")


def test_on_s3_every_object_of_the_user_is_deleted_and_anothers_stays(
    s3,  # noqa: F811  (the fixture imported above)
    alice,
    charlie,
    demo_offer,
    django_capture_on_commit_callbacks,
):
    fund(charlie, 50)
    _data(charlie, demo_offer, django_capture_on_commit_callbacks)
    _data(alice, demo_offer, django_capture_on_commit_callbacks)

    def keys(user):
        listed = s3.list_objects_v2(Bucket=s3.bucket).get("Contents", [])
        return {o["Key"] for o in listed if o["Key"].split("/")[1] == str(user.pk)}

    mine, theirs = keys(alice), keys(charlie)
    assert len(mine) == 2 and mine == set(_names(alice)) and len(theirs) == 2

    with django_capture_on_commit_callbacks(execute=True):
        account_delete(user=alice)

    assert keys(alice) == set()
    assert keys(charlie) == theirs


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_jobs_sent_while_the_account_is_deleted_are_canceled_or_refused(postgres, demo_offer):
    from generation.errors import GenerationError
    from tests.factories import UserFactory
    from tests.support.concurrency import at_once

    user = UserFactory(email="racing@example.com")
    fund(user, 100)

    def attempt(n: int) -> str:
        if n % 2 == 0:
            return "deleted" if account_delete(user=user) else "already"
        try:
            services.job_submit(user=user, offer=demo_offer, params={"prompt": f"race {n}", "outputs": 1})
        except GenerationError as exc:
            return exc.code
        return "made"

    outcomes = at_once(8, attempt)

    assert outcomes.count("deleted") == 1 and outcomes.count("already") == 3, outcomes
    assert set(outcomes) <= {"deleted", "already", "made", "account_deleted"}, outcomes
    # A job made before the deletion took the wallet's lock was canceled by it; none is left running.
    assert not Job.objects.filter(user=user).exclude(status=JobStatus.CANCELED).exists()
    assert not Hold.objects.filter(wallet__user=user, status=HoldStatus.OPEN).exists()
    call_command("check_ledger")
