from __future__ import annotations

import time
from urllib.parse import urlencode

from allauth.account import app_settings as allauth_settings
from allauth.account.decorators import reauthentication_required
from allauth.account.forms import ReauthenticateForm
from allauth.core import ratelimit
from allauth.socialaccount.models import SocialAccount
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, translate_url
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language_from_path, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from api.models import Scope
from api.selectors import api_keys_for_user, webhook_endpoints_for_user

from .deletion import AccountDeletionError, uploads_delete_all
from .deletion import account_delete as account_delete_service
from .export import ExportRefused, export_is_expired, export_latest, export_request
from .http import AuthedRequest
from .notifications import notifications_for, notifications_mark_read, shown, unread_count
from .services import user_language_set, user_notifications_set


def _translate_path(path: str, language: str) -> str:
    """``path`` in ``language``, whatever language its own prefix is in
    (``translate_url`` alone only resolves paths of the active language)."""
    with translation.override(get_language_from_path(path) or settings.LANGUAGE_CODE):
        return translate_url(path, language)


@require_POST
def language_set(request: HttpRequest) -> HttpResponse:
    """Switch the interface language, remember it on the signed-in user, and
    go back to the same page in that language."""
    language = request.POST.get("language", "")
    next_url = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = "/"
    if language not in dict(settings.LANGUAGES):
        return redirect(next_url)
    if request.user.is_authenticated:
        user_language_set(user=request.user, language=language)
    response = redirect(_translate_path(next_url, language))
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite="Lax",
    )
    return response


@login_required
def account_settings(request: AuthedRequest) -> HttpResponse:
    if request.method == "POST":
        user_language_set(user=request.user, language=request.POST.get("language", ""))
        threshold = request.POST.get("low_balance_threshold", "").strip()
        user_notifications_set(
            user=request.user,
            email_job_updates=request.POST.get("email_job_updates") == "on",
            low_balance_threshold=int(threshold) if threshold.isdigit() else None,
        )
        language = request.user.preferred_language
        with translation.override(language):
            messages.success(request, _("Your settings were saved."))
        return redirect(_translate_path(request.path, language))
    return render(
        request,
        "accounts/settings.html",
        {
            "languages": settings.LANGUAGES,
            "api_keys": api_keys_for_user(user=request.user),
            "google_enabled": bool(settings.GOOGLE_CLIENT_ID and settings.GOOGLE_CLIENT_SECRET),
            "social_accounts": list(SocialAccount.objects.filter(user=request.user)),
            "api_scopes": Scope.choices,
            "webhook_endpoints": webhook_endpoints_for_user(user=request.user),
            "webhook_limit": settings.MIRSAM_WEBHOOK_MAX_ENDPOINTS,
            **_export_context(request),
        },
    )


def _signs_in_without_password(request: HttpRequest) -> bool:
    """A fresh sign-in (allauth's reauthentication) guards deleting an account
    that has no password to type (made by staff, or a social sign-in)."""
    return request.user.is_authenticated and not request.user.has_usable_password()


def _signed_in_recently(request: HttpRequest) -> bool:
    """Whether this session signed in (by any method) within
    ``ACCOUNT_REAUTHENTICATION_TIMEOUT`` seconds. allauth counts a user with no
    way to reauthenticate (no password, no second factor: a social sign-in)
    as recently reauthenticated; for deleting an account we ask for a new
    sign-in then."""
    from allauth.account.internal.flows.login import get_authentication_records

    records = get_authentication_records(request, request.user)
    latest = max((float(r.get("at", 0)) for r in records), default=0.0)
    return time.time() - latest < allauth_settings.REAUTHENTICATION_TIMEOUT


@login_required
@require_http_methods(["GET", "POST"])
@reauthentication_required(allow_get=True, enabled=_signs_in_without_password)
def account_delete(request: AuthedRequest) -> HttpResponse:
    """GET explains what deleting the account removes and keeps; POST, with
    the current password (allauth's check, rate-limited as its own
    reauthentication is) or after a fresh sign-in (allauth's reauthentication
    with a second factor, else a new sign-in), deletes the account of
    ``request.user`` (never anyone else's: nothing in the form names a user),
    signs out and goes to the landing page."""
    user = request.user
    form = ReauthenticateForm(user=user, data=request.POST or None) if user.has_usable_password() else None
    if request.method == "POST":
        limited = ratelimit.consume_or_429(request, action="reauthenticate", user=user)
        if limited:
            return limited
        if form is None and not _signed_in_recently(request):
            path = request.path
            logout(request)
            messages.info(request, _("Sign in again to delete your account."))
            return redirect(f"{reverse('account_login')}?{urlencode({'next': path})}")
        if form is None or form.is_valid():
            language = user.preferred_language
            try:
                account_delete_service(user=user)
            except AccountDeletionError as exc:
                messages.error(request, exc.message)
            else:
                logout(request)
                with translation.override(language):
                    messages.success(request, _("Your account was deleted. Thank you for using Mirsam."))
                    return redirect("landing")
    return render(request, "accounts/delete.html", {"form": form})


@login_required
@require_http_methods(["GET", "POST"])
def uploads_delete(request: AuthedRequest) -> HttpResponse:
    """GET asks to confirm; POST deletes every photo and recording the user
    uploaded (the results made from them stay)."""
    from generation.models import Upload

    if request.method == "POST":
        deleted, kept = uploads_delete_all(user=request.user)
        messages.success(request, _("Your uploads were deleted.") if deleted or not kept else _("Nothing was deleted."))
        if kept:
            messages.warning(
                request,
                ngettext(
                    "%(count)d upload is still used by a running job; delete it when the job has finished.",
                    "%(count)d uploads are still used by running jobs; delete them when the jobs have finished.",
                    kept,
                )
                % {"count": kept},
            )
        return redirect("account_settings")
    return render(
        request, "accounts/uploads_delete.html", {"uploads": Upload.objects.filter(user=request.user).count()}
    )


@login_required
def notifications(request: AuthedRequest) -> HttpResponse:
    """The user's notifications, newest first, ``MIRSAM_NOTIFICATIONS_PER_PAGE``
    a page; the ones shown are marked read (they are shown as new this once)."""
    page = Paginator(notifications_for(user=request.user), settings.MIRSAM_NOTIFICATIONS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    items = [shown(n) for n in page.object_list]
    response = render(request, "accounts/notifications.html", {"page": page, "items": items})
    notifications_mark_read(user=request.user, ids=[item.notification.pk for item in items])
    return response


@login_required
def notifications_badge(request: AuthedRequest) -> HttpResponse:
    """htmx partial: the bell's unread count (the bell is loaded after the
    page, so cached pages stay the same for everyone)."""
    return render(request, "accounts/partials/bell.html", {"unread": unread_count(user=request.user)})


def _export_context(request: AuthedRequest) -> dict[str, object]:
    """The "Your data" export panel: the newest export and whether its link ran out."""
    export = export_latest(user=request.user)
    return {
        "data_export": export,
        "data_export_expired": export is not None and export_is_expired(export),
        "export_hours": settings.MIRSAM_EXPORT_HOURS,
    }


@login_required
@require_POST
def data_export_request(request: AuthedRequest) -> HttpResponse:
    """Start an export of the user's own data (refused while one is in progress)."""
    try:
        export_request(user=request.user)
    except ExportRefused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your export is being prepared. We will e-mail you a link when it is ready."))
    return redirect(reverse("account_settings") + "#your-data")


@login_required
@require_GET
def data_export_status(request: AuthedRequest) -> HttpResponse:
    """The export panel alone, polled by htmx while an export is in progress."""
    return render(request, "accounts/partials/export.html", _export_context(request))


@login_required
@require_GET
def data_export_download(request: AuthedRequest, export_id: int) -> HttpResponseBase:
    """The ZIP of one of the user's own ready exports (another user's, or one
    not ready, is 404). After ``expires_at``, or when its file is gone, a page
    says so (410) and offers a new export. Served as results are
    (``generation.files.serve``: streamed locally, a signed redirect on S3)."""
    from generation.files import serve

    from .models import DataExport

    export = get_object_or_404(DataExport, pk=export_id, user=request.user)
    if export.status != DataExport.Status.READY or not export.file:
        raise Http404
    if export_is_expired(export) or not export.file.storage.exists(export.file.name or ""):
        return render(
            request,
            "accounts/export_expired.html",
            {"data_export": export, "export_hours": settings.MIRSAM_EXPORT_HOURS},
            status=410,
        )
    filename = f"mirsam-data-{timezone.localtime(export.finished_at):%Y-%m-%d}.zip"
    return serve(request, export.file, "application/zip", filename, attachment=True, cache_control="private, no-store")
