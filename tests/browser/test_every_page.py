"""Every page of Mirsam in Debian's Chromium, in English and in Arabic, signed
out and signed in, on a 390×844 phone and a 1366×768 desktop: no page is wider
than the screen, an Arabic page is ``<html dir="rtl" lang="ar">`` and shows no
English sentence of our catalogue, and no ``<img>`` shows a video.

The pages come from the URL conf: every named URL without arguments is
visited, the ones with arguments are filled from real objects (finished demo
image, video and audio jobs, an upload, allauth's key links), and every other
named URL is in ``SKIPPED`` with the reason, so a new URL fails
``test_every_named_url_is_visited_or_skipped`` until someone decides."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.conf import settings as django_settings
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone, translation

from accounts.models import DataExport
from billing.models import CreditPack, Purchase, PurchaseKind
from generation import selectors, services
from generation.models import Asset, Job, JobStatus, Project
from generation.services.uploads import upload_create
from providers.models import Offer
from tests.factories import UserFactory
from tests.support.accounts import fund, with_totp
from tests.support.browser import ARGS, CHROMIUM, sign_in
from tests.support.catalogue import install_seeded_catalogue
from tests.support.env import ROOT, need
from tests.support.uploads import photo

PASSWORD = "pass-word-123"
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1366, "height": 768}}

#: Named URLs that are not pages a person reads, with why. Everything else is visited.
SKIPPED = {
    # Probes, callbacks and webhooks: machines call them, they answer JSON or plain text.
    "healthz": "load-balancer probe (plain text)",
    "readyz": "load-balancer probe (plain text)",
    "provider_callback": "kie.ai posts results here",
    "stripe_webhook": "Stripe posts events here",
    "djstripe:djstripe_webhook_by_uuid": "dj-stripe's webhook route, behind stripe_webhook",
    # POST only (a GET answers 405) or a redirect to Stripe.
    "set_language": "Django's setlang, POST only (our switcher posts to language_set)",
    "language_set": "the switcher's POST target (used below to switch to Arabic)",
    "job_create": "POST only",
    "avatar_create": "POST only",
    "speak_create": "POST only",
    "job_showcase": "POST only (the job page's showcase switch)",
    "job_favourite": "POST only (a card's star)",
    "creations_bulk": "POST only (the library's bulk actions)",
    "project_edit": "POST only (the Projects page's rename and budget form)",
    "job_regenerate": "POST only",
    "job_extend": "POST only",
    "checkout_start": "POST only, answers with a redirect to Stripe Checkout",
    "portal": "POST only, answers with a redirect to Stripe's customer portal",
    "api_key_create": "POST only (the account page's API keys form; answers with the new key's secret)",
    "api_key_revoke": "a key's revoke confirmation (tests/api/test_keys.py); the account page lists the keys",
    "api_webhook_create": "POST only (the account page's webhooks form; answers with the signing secret)",
    "api_webhook_test": "POST only (an endpoint page's test event button)",
    "api_webhook_enable": "POST only (a turned-off endpoint's turn back on button)",
    "data_export_request": "POST only (Settings' Export my data button)",
    # Files: images, videos, sounds and CSV, not HTML.
    "asset_file": "a result's file",
    "asset_poster": "a video result's poster image",
    "asset_preview": "a large image result's preview (tests/generation/test_kie_pipeline.py)",
    "push_events": "a page's push stream, read by EventSource, not a page (tests/generation/test_push.py)",
    "showcase_file": "a showcased result's public file (the landing page shows it)",
    "showcase_poster": "a showcased video's public poster",
    "upload_file": "an upload's file",
    "voice_sample": "an MP3 sample of a voice",
    "staff_export": "a CSV download",
    "data_export_download": "a ZIP download (its expired page, 410: tests/accounts/test_export.py)",
    "mfa_download_recovery_codes": "a text file of recovery codes",
    # Sign in with Google (tests/accounts/test_google.py): off here, so 404; a redirect to Google when on.
    "google_login": "POST starts the redirect to Google (off here: 404)",
    "google_callback": "Google redirects back here (off here: 404)",
    "google_login_by_token": "Google One Tap posts here (off here: 404)",
    "socialaccount_login_error": "allauth's failure page (401), shown after a failed Google sign-in",
    # htmx partials: fragments of the pages above, rendered inside them.
    "balance_badge": "htmx partial (the header's balance)",
    "notifications_badge": "htmx partial (the header's bell and its unread count)",
    "checkout_status": "htmx partial polled by checkout_success",
    "studio_options": "htmx partial of the studio form",
    "reference_results": "htmx partial of the reference picker",
    "avatar_price": "htmx partial of the avatar form",
    "job_card": "htmx partial (a job card, shown on the studio pages)",
    "data_export_status": "htmx partial polled by account_settings while an export is made",
}
#: The Django admin's own screens (staff tooling in Django's translations)
#: are skipped but for its index, our operator dashboard; our admin money
#: pages have their own test (test_admin_money_pages.py).
SKIPPED_NAMESPACES = {
    "admin": "the Django admin's model screens",
    "api_v1": "the public REST API: JSON for programs and ninja's Swagger page (tests/api/)",
}

#: Pages reached only with an argument, or that one URL name shows in more than one state.
EXTRA = [
    "job_detail:image",
    "job_detail:video",
    "job_detail:speech",
    "job_delete",
    "job_tool",
    "upload_delete",
    "account_confirm_email",
    "account_reset_password_from_key",
    "audio?kind=dialogue",
    "audio?kind=music",
    "audio?kind=sound_effect",
    "not_found",
    "project_delete",
    "creations:filtered",
    "image:reuse",
    "video:animate",
    "api_webhook_detail",
    "api_webhook_detail:off",
    "api_webhook_delete",
]
#: Pages seen as the staff member: the operator dashboard, and the pages of an
#: authenticator app that only someone with one can open (staff must have one).
STAFF_PAGES = ["admin:index", "mfa_deactivate_totp", "mfa_view_recovery_codes"]

#: Catalogue msgids that may be shown as they are on an Arabic page: names.
NAMES = {"Mirsam", "Stripe", "kie.ai", "ElevenLabs", "Suno", "Google", "OpenAI"}


def _named_urls() -> dict[str, str]:
    """``{name: route}`` of every named URL (``namespace:name``)."""
    found: dict[str, str] = {}

    def walk(patterns: list[Any], namespace: tuple[str, ...], prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                walk(p.url_patterns, (*namespace, p.namespace) if p.namespace else namespace, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name:
                found.setdefault(":".join((*namespace, p.name)), prefix + str(p.pattern))

    walk(get_resolver().url_patterns, (), "")
    return found


def _takes_no_arguments(route: str) -> bool:
    return "<" not in route and "(?P" not in route


def _plain_pages() -> list[str]:
    """Named URLs without arguments that are pages (not skipped)."""
    return sorted(
        name
        for name, route in _named_urls().items()
        if _takes_no_arguments(route)
        and name not in SKIPPED
        and name not in STAFF_PAGES
        and name.split(":")[0] not in SKIPPED_NAMESPACES
    )


# --- The catalogue ------------------------------------------------------------------


def _po_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of a .po file: ``{"msgid", "msgid_plural", "msgstr": [..], "fuzzy"}``
    (a plain reader: quoted strings, continuation lines, flags)."""
    entries: list[dict[str, Any]] = []
    entry: dict[str, Any] = {}
    key = ""

    def close() -> None:
        nonlocal entry
        if "msgid" in entry:
            entries.append(entry)
        entry = {}

    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line:
            close()
            continue
        if line.startswith("#"):
            if "msgid" in entry:
                close()
            if line.startswith("#,"):
                entry["fuzzy"] = "fuzzy" in line
            continue
        match = re.match(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?)\s+"(.*)"$', line)
        if match:
            key = match.group(1)
            if key == "msgctxt" and "msgid" in entry:
                close()
            if key.startswith("msgstr"):
                entry.setdefault("msgstr", []).append("")
            else:
                entry[key] = ""
            value = match.group(2)
        else:
            value = line[1:-1]
        unescaped = value.encode("raw_unicode_escape").decode("unicode_escape")
        if key.startswith("msgstr"):
            entry["msgstr"][-1] += unescaped
        else:
            entry[key] = entry.get(key, "") + unescaped
    close()
    return entries


def _collapse(text: str) -> str:
    return " ".join(text.split())


def english_leftovers() -> set[str]:
    """English strings of our catalogue that an Arabic page must not show:
    every msgid (and plural) that is a sentence or word with its own Arabic
    (not a placeholder, not a name, not translated as itself)."""
    found: set[str] = set()
    for entry in _po_entries(ROOT / "locale" / "ar" / "LC_MESSAGES" / "django.po"):
        msgstrs = [_collapse(s) for s in entry.get("msgstr", [])]
        for msgid in (entry.get("msgid", ""), entry.get("msgid_plural", "")):
            text = _collapse(msgid)
            if not text or text in NAMES or text in msgstrs:
                continue
            if "%" in text or "{" in text or "<" in text:  # placeholders and markup never show as written
                continue
            if not re.search(r"[A-Za-z]{2,}", text):
                continue
            found.add(text)
    return found


# --- What the page shows ------------------------------------------------------------

#: Runs in the page: its size, the widest elements, its dir/lang, every visible
#: text (text nodes, innerText of small elements, placeholder/title/aria-label/
#: alt, button values) outside an element marked as another language, and its images.
INSPECT = r"""() => {
  // dj-stripe names its models in English only (plain strings, no gettext):
  // their rows in the admin's app list cannot be translated here.
  const LIBRARY = '.app-djstripe';
  const vw = window.innerWidth;
  const name = (el) => {
    let s = el.tagName.toLowerCase();
    if (el.id) s += '#' + el.id;
    if (typeof el.className === 'string' && el.className.trim()) s += '.' + el.className.trim().split(/\s+/).join('.');
    return s;
  };
  const path = (el) => {
    const parts = [];
    for (let e = el; e && e !== document.body && parts.length < 4; e = e.parentElement) parts.unshift(name(e));
    return parts.join(' > ');
  };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.right > vw + 1 || r.left < -1) wide.push([Math.round(Math.max(r.right - vw, -r.left)), path(el)]);
  }
  wide.sort((a, b) => b[0] - a[0]);
  const pageLang = document.documentElement.lang;  // text marked as another language is meant to be so
  const foreign = (el) => { const l = el.closest('[lang]'); return !!l && l.lang !== pageLang; };
  const shown = (el) => el.checkVisibility ? el.checkVisibility({visibilityProperty: true}) : !!el.offsetParent;
  const texts = new Set();
  const add = (t) => { t = (t || '').replace(/\s+/g, ' ').trim(); if (t) texts.add(t); };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || ['SCRIPT', 'STYLE', 'TEMPLATE', 'NOSCRIPT'].includes(el.tagName)) continue;
    if (el.closest('input[type=file]') || foreign(el) || el.closest(LIBRARY)) continue;
    const option = el.tagName === 'OPTION' || el.tagName === 'OPTGROUP';  // shown when its select opens
    if (option ? shown(el.closest('select') || el) : shown(el)) add(n.data);
  }
  for (const el of document.body.querySelectorAll('*')) {
    // Native file inputs draw "Choose file" in the browser's language; drop zones
    // of our own replace them (another change), so they are not checked here.
    if (el.matches('input[type=file]') || foreign(el) || el.closest(LIBRARY) || !shown(el)) continue;
    if (el.children.length && el.innerText && el.innerText.length < 200) add(el.innerText);
    for (const a of ['placeholder', 'title', 'aria-label', 'alt']) add(el.getAttribute(a));
    if (el.matches('input[type=submit], input[type=button], input[type=reset], button[value]')) {
      if (el.tagName === 'INPUT') add(el.value);
    }
  }
  add(document.title);
  return {
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: vw,
    wide: wide.slice(0, 5),
    dir: document.documentElement.getAttribute('dir'),
    lang: document.documentElement.getAttribute('lang'),
    texts: [...texts],
    images: [...document.querySelectorAll('img')].map((i) => i.currentSrc || i.src),
  };
}"""


@dataclass
class Seen:
    """What one run found, page by page."""

    problems: list[str] = field(default_factory=list)
    checked: set[str] = field(default_factory=set)


@dataclass
class World:
    user: Any
    staff: Any
    jobs: dict[str, Job]
    upload: Any
    video_files: set[str]
    project: Any
    webhooks: dict[str, Any]


def _finished(job: Job) -> Job:
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.offer.slug, job.error_message)
    return job


def _world() -> World:
    """A creator with finished demo image, video and audio jobs and a photo,
    and a staff member (with TOTP) for the operator dashboard. Eager Celery
    runs each job to its end inside ``job_submit``."""
    install_seeded_catalogue()
    user = UserFactory(email="every-page@example.com")
    fund(user, 500)
    offer = Offer.objects.get
    jobs = {
        "image": services.job_submit(
            user=user, offer=offer(slug="demo-image"), params={"prompt": "a paper boat on a calm sea", "outputs": 2}
        ),
        "video": services.job_submit(
            user=user, offer=offer(slug="demo-video"), params={"prompt": "a lighthouse beam over the sea"}
        ),
        "speech": services.job_submit(
            user=user,
            offer=offer(slug="demo-speech"),
            params={"prompt": "Welcome to the studio.", "voice": "EkK5I93UQWFDigLMpZcX"},
        ),
        "music": services.job_submit(
            user=user, offer=offer(slug="demo-music"), params={"prompt": "a calm piano over soft rain"}
        ),
    }
    jobs = {kind: _finished(job) for kind, job in jobs.items()}
    with override_settings(DEMO_FAILURE_RATE=1.0):  # a failed card too, with its reason
        failed = services.job_submit(
            user=user, offer=offer(slug="demo-image"), params={"prompt": "a storm", "outputs": 1}
        )
    failed.refresh_from_db()
    assert failed.status == JobStatus.FAILED
    upload = upload_create(user=user, file=photo(), consent_version="1")
    pack = CreditPack.objects.filter(is_active=True).order_by("price_amount").first()
    # A paid pack, as the webhook records it: the billing page's payments table.
    Purchase.objects.create(
        user=user,
        kind=PurchaseKind.PACK,
        pack=pack,
        stripe_id="cs_test_every_page",
        credits=100,
        amount=500,
        currency="usd",
    )
    video_files = {reverse("asset_file", args=[a.pk]) for a in Asset.objects.filter(job__service="video", user=user)}
    # A project whose budget its image used up: the library's and studio's budget warnings show.
    project = Project.objects.create(user=user, name="Summer campaign", budget_credits=jobs["image"].charged_credits)
    Job.objects.filter(pk=jobs["image"].pk).update(project=project, favourite=True)
    # A ready export of their data: Settings shows its download link, size and expiry.
    now = timezone.now()
    DataExport.objects.create(
        user=user,
        status=DataExport.Status.READY,
        file=f"exports/{user.pk}/mirsam-data-every-page.zip",
        size_bytes=48_213_776,
        finished_at=now,
        expires_at=now + timedelta(hours=24),
    )
    staff = with_totp(UserFactory(email="every-page-staff@example.com", is_staff=True, is_superuser=True))
    RecoveryCodes.activate(staff)
    return World(
        user=user,
        staff=staff,
        jobs=jobs,
        upload=upload,
        video_files=video_files,
        project=project,
        webhooks=_webhooks(user, jobs["image"]),
    )


def _webhooks(user: Any, job: Job) -> dict[str, Any]:
    """An endpoint that is on, with deliveries (a long answer among them),
    and one Mirsam turned off: the account page's section and their pages."""
    from django.utils import timezone

    from api.models import WebhookDelivery, WebhookEndpoint, WebhookEvent

    on = WebhookEndpoint.objects.create(
        user=user,
        url="https://hooks.example.com/mirsam/webhooks/receive?source=studio-production-account",
        description="Our render farm",
        secret="mwhsec_every_page",
    )
    off = WebhookEndpoint.objects.create(
        user=user,
        url="https://old.example.com/hook",
        secret="mwhsec_every_page_off",
        consecutive_failures=5,
        disabled_at=timezone.now(),
        disabled_reason="5 events in a row could not be delivered. The last error: The receiver answered HTTP 500.",
    )
    event = WebhookEvent.objects.create(endpoint=on, job=job, type="job.succeeded", status="succeeded", attempts=2)
    WebhookDelivery.objects.create(
        event=event, attempt=1, status_code=500, latency_ms=87, response_excerpt='{"error":"' + "x" * 400 + '"}'
    )
    WebhookDelivery.objects.create(event=event, attempt=2, status_code=200, latency_ms=42, succeeded=True)
    failed = WebhookEvent.objects.create(endpoint=off, type="ping", status="failed", attempts=1)
    WebhookDelivery.objects.create(event=failed, attempt=1, latency_ms=10, error="Could not connect to the receiver.")
    return {"on": on, "off": off}


def _url(name: str, world: World) -> str:
    """The path of page ``name`` (in the active language)."""
    jobs = world.jobs
    if name.startswith("job_detail:"):
        return reverse("job_detail", args=[jobs[name.split(":")[1]].pk])
    if name.startswith("audio?"):
        return reverse("audio") + "?" + name.split("?")[1]
    image = jobs["image"]
    fixed = {
        "job_delete": lambda: reverse("job_delete", args=[jobs["image"].pk]),
        "job_tool": lambda: reverse(
            "job_tool", args=[image.pk, selectors.tools_for_job(job=image, tools=services.tools_available())[0].slug]
        ),
        "upload_delete": lambda: reverse("upload_delete", args=[world.upload.pk]),
        # Links from e-mails that are no longer (or never were) good: the pages that say so.
        "account_confirm_email": lambda: reverse("account_confirm_email", args=["not-a-key"]),
        "account_reset_password_from_key": lambda: reverse("account_reset_password_from_key", args=["1", "bad-key"]),
        "not_found": lambda: reverse("landing") + "no-such-page/",
        "project_delete": lambda: reverse("project_delete", args=[world.project.pk]),
        # The library searched and filtered (a project, favourites), and forms a card's action fills.
        "creations:filtered": lambda: f"{reverse('creations')}?q=boat&favourites=1&project={world.project.pk}",
        "image:reuse": lambda: f"{reverse('image')}?reuse={image.pk}",
        "video:animate": lambda: f"{reverse('video')}?first_frame={image.assets.first().pk}",
        "api_webhook_detail": lambda: reverse("api_webhook_detail", args=[world.webhooks["on"].pk]),
        "api_webhook_detail:off": lambda: reverse("api_webhook_detail", args=[world.webhooks["off"].pk]),
        "api_webhook_delete": lambda: reverse("api_webhook_delete", args=[world.webhooks["on"].pk]),
    }
    return fixed[name]() if name in fixed else reverse(name)


def _check(page: Any, what: str, *, arabic: bool, leftovers: set[str], world: World, seen: Seen) -> None:
    found = page.evaluate(INSPECT)
    if found["scrollWidth"] > found["innerWidth"]:
        widest = "; ".join(f"{px}px past: {sel}" for px, sel in found["wide"])
        seen.problems.append(f"{what}: {found['scrollWidth']}px wide on {found['innerWidth']}px ({widest})")
    if arabic and (found["dir"], found["lang"]) != ("rtl", "ar"):
        seen.problems.append(f"{what}: <html dir={found['dir']!r} lang={found['lang']!r}>")
    if arabic:
        english = sorted(t for t in found["texts"] if t in leftovers)
        if english:
            seen.problems.append(f"{what}: English on an Arabic page: {english}")
    videos = [src for src in found["images"] if any(src.split("?")[0].endswith(v) for v in world.video_files)]
    if videos:
        seen.problems.append(f"{what}: <img> of a video: {videos}")
    if os.environ.get("MIRSAM_PAGES_LATIN"):  # while fixing pages: the other script's words, in the catalogue or not
        other = r"[A-Za-z]{3,}" if arabic else r"[\u0600-\u06ff]{2,}"
        print(f"OTHER SCRIPT {what}: {sorted(t for t in found['texts'] if re.search(other, t))}")
    if os.environ.get("MIRSAM_PAGES_SHOTS"):
        shot = Path(os.environ["MIRSAM_PAGES_SHOTS"]) / (re.sub(r"[^\w]+", "_", what) + ".png")
        page.screenshot(path=str(shot), full_page=True)


def _visit(page: Any, base: str, name: str, path: str, *, tag: str, seen: Seen, **check: Any) -> None:
    response = page.goto(base + path, wait_until="load")
    status = response.status if response else 0
    expected = 404 if name == "not_found" else 200
    if status != expected:
        seen.problems.append(f"{tag} {name} ({path}): answered {status}")
        return
    landed = page.url.split("#")[0]
    if landed in seen.checked:  # a redirect to a page already checked (e.g. to the login page)
        return
    seen.checked.add(landed)
    _check(page, f"{tag} {name} ({path})", **check, seen=seen)


#: Forms sent with mistakes, to see their error lists (Django's and allauth's
#: words, not only ours): (page, {field: value}), signed out and signed in.
WRONG_FORMS = {
    False: [
        ("account_login", {"login": "every-page@example.com", "password": "not-the-password"}),
        ("account_signup", {"email": "every-page@example.com", "password1": "short", "password2": "other"}),
    ],
    True: [
        ("account_change_password", {"oldpassword": "not-the-password", "password1": "x", "password2": "y"}),
        ("account_delete", {"password": "not-the-password"}),
    ],
}


def _send_wrong(page: Any, base: str, name: str, values: dict[str, str], *, tag: str, seen: Seen, **check: Any) -> None:
    page.goto(base + reverse(name))
    for field_name, value in values.items():
        page.fill(f"main form [name={field_name}]", value)
    with page.expect_navigation():
        page.locator("main form [type=submit]").first.click()
    if not page.locator("main .field__error, main .errorlist, main [role=alert]").count():
        seen.problems.append(f"{tag} {name} sent wrong: no error shown")
    _check(page, f"{tag} {name} (sent wrong)", **check, seen=seen)


def _session_cookie(user: Any, base: str) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    return {"name": cookie.key, "value": cookie.value, "url": base, "httpOnly": True, "sameSite": "Lax"}


@pytest.fixture
def browser():
    """A Chromium for each run, started after the test database is set up and
    closed before it is torn down, as tests/browser/conftest.py's ``page``
    does. With one module-scoped browser kept running across pytest-django's
    teardowns, CI saw the next serialized-rollback test's setup fail on
    PostgreSQL (its content types already there)."""
    need(Path(CHROMIUM).exists(), f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("viewport", list(VIEWPORTS))
@pytest.mark.parametrize("signed_in", [False, True], ids=["signed-out", "signed-in"])
@pytest.mark.parametrize("language", ["en", "ar"])
def test_every_page_fits_the_screen_and_speaks_the_language(browser, live_server, language, signed_in, viewport):
    world = _world()
    base = live_server.url
    arabic = language == "ar"
    context = browser.new_context(viewport=VIEWPORTS[viewport])
    page = context.new_page()
    page.set_default_timeout(30_000)
    tag = f"[{language} {'in' if signed_in else 'out'} {viewport}]"
    seen = Seen()
    check = {"arabic": arabic, "leftovers": english_leftovers() if arabic else set(), "world": world}
    try:
        if signed_in:
            sign_in(page, base, world.user.email, PASSWORD)
        else:
            page.goto(base + "/")
        if arabic:  # as a person does: the header's language button
            page.locator(".lang-switch[value=ar]").first.click()
            page.wait_for_url(re.compile(r".*/ar/.*"))
        with translation.override(language):
            for name in [*_plain_pages(), *(EXTRA if signed_in else ["not_found"])]:
                _visit(page, base, name, _url(name, world), tag=tag, seen=seen, **check)
            for name, values in WRONG_FORMS[signed_in]:
                _send_wrong(page, base, name, values, tag=tag, seen=seen, **check)
        if signed_in:
            context.clear_cookies()
            context.add_cookies([_session_cookie(world.staff, base)])
            with translation.override(language):
                for name in STAFF_PAGES:
                    _visit(page, base, name, _url(name, world), tag=tag, seen=seen, **check)
    finally:
        context.close()
    assert not seen.problems, "\n".join(seen.problems)


def test_every_named_url_is_visited_or_skipped():
    """A new URL must be added to the pages above or to SKIPPED, with its reason."""
    pages = set(_plain_pages()) | {n.split(":")[0] for n in EXTRA if not n.startswith("audio?")} | set(STAFF_PAGES)
    pages |= {"job_detail"}
    undecided = [
        name
        for name in _named_urls()
        if name not in pages and name not in SKIPPED and name.split(":")[0] not in SKIPPED_NAMESPACES
    ]
    assert undecided == [], f"visit these pages in test_every_page_fits_the_screen_… or skip them: {undecided}"
    stale = [name for name in SKIPPED if name not in _named_urls()]
    assert stale == [], f"SKIPPED names URLs that are gone: {stale}"
