"""Mirsam settings: one module, driven by the environment (django-environ).

Every variable read here is listed with its default in README.md and
``.env.example``. The defaults are the embedded setup: SQLite, a filesystem
Celery broker that needs no server, the offline ``demo`` provider.
"""

from __future__ import annotations

import importlib.util
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

# Lets classes that django-stubs types as generic take their type arguments
# at run time too (``admin.ModelAdmin[Wallet]``); Django itself does not.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

INSECURE_SECRET_KEY = "django-insecure-mirsam-development-key-change-me"  # noqa: S105 - refused unless DEBUG

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
DEVELOPMENT_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=DEVELOPMENT_HOSTS)
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# Production (DEBUG off) refuses to start half-configured rather than run insecurely.
if not DEBUG:
    if SECRET_KEY == INSECURE_SECRET_KEY or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("Set SECRET_KEY: the default key is only for DEBUG=True.")
    if not [host for host in ALLOWED_HOSTS if host.strip()]:
        raise ImproperlyConfigured("Set ALLOWED_HOSTS to the site's host names: it is empty.")
    if "ALLOWED_HOSTS" not in env.ENVIRON or set(ALLOWED_HOSTS) == set(DEVELOPMENT_HOSTS):
        raise ImproperlyConfigured(
            "Set ALLOWED_HOSTS to the site's host names: the development defaults are only for DEBUG=True."
        )

# HTTPS. Every default is the safe one when DEBUG is off (check --deploy is clean).
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe over plain HTTP; the health endpoints answer them directly.
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$", r"^readyz/?$"]
# Behind a TLS-terminating proxy, name the header it sets (X-Forwarded-Proto).
# Only set this when the proxy always overwrites that header: a client could forge it otherwise.
TRUSTED_PROXY_SSL_HEADER = env.str("TRUSTED_PROXY_SSL_HEADER", default="")
if TRUSTED_PROXY_SSL_HEADER:
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + TRUSTED_PROXY_SSL_HEADER.upper().replace("-", "_"), "https")
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
# The language choice (accounts.views.language_set): over HTTPS when the session is, never read by scripts.
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = env.str("SECURE_REFERRER_POLICY", default="same-origin")
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Where the embedded setup keeps its database, media and broker folders.
VAR_DIR = Path(env.str("MIRSAM_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    # modeltranslation must come before the admin (docs/stack.md §3).
    "modeltranslation",
    # Before the admin, so operators/templates/admin/index.html overrides its index.
    "operators",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    # Its system checks refuse a cache that per-user counts cannot live in.
    "django_ratelimit",
    "csp",
    "djstripe",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.google",
    "accounts",
    "credits",
    "providers",
    "generation",
    "billing",
    "api",
    # django-ninja: the API's docs page with its Swagger UI served from our static files (no CDN).
    "ninja",
]

MIDDLEWARE = [
    # First, so every response (redirects and errors too) carries X-Request-ID.
    "config.observability.RequestIdMiddleware",
    # /healthz and /readyz answered here: a probe sending the instance's address as Host is not refused.
    "config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Right after SecurityMiddleware (WhiteNoise's docs): static files skip the rest.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "accounts.middleware.StaffSecondFactorMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.studio",
                "credits.context_processors.wallet",
                "config.pagecache.markers",  # after Django's csrf processor, which it overrides
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Persistent connections: a new PostgreSQL connection per request costs a
    # backend process and cold catalogue caches for every table a page reads
    # (bench/README.md measured it). Checked before reuse, so a restarted
    # database costs one reconnect, not an error. ?conn_max_age= in the URL wins.
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DB_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not memory) test database, so a real Celery worker process in the
    # pipeline test can open the same database as the test.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    "default": env.cache("CACHE_URL", default="locmemcache://"),
    # Rendered job cards and tiles (generation.fragments). Per process on purpose:
    # entries are keyed by the job's version, so there is nothing to invalidate
    # or share, and a hit costs no network round trip. About 3 KB an entry.
    "fragments": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "mirsam-fragments",
        "TIMEOUT": 24 * 3600,
        "OPTIONS": {"MAX_ENTRIES": env.int("MIRSAM_FRAGMENT_CACHE_ENTRIES", default=5000)},
    },
    # Whole studio pages (config.pagecache), keyed by the version of what they
    # show: per process for the same reasons. 15-30 KB an entry.
    "pages": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "mirsam-pages",
        "TIMEOUT": 3600,
        "OPTIONS": {"MAX_ENTRIES": env.int("MIRSAM_PAGE_CACHE_ENTRIES", default=1000)},
    },
}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# django-allauth (docs/stack.md §2)
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
# Staff sign in through allauth and must have a TOTP second factor
# (accounts.middleware.StaffSecondFactorMiddleware); the admin lives at ADMIN_URL.
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Mirsam"
ADMIN_URL = env.str("ADMIN_URL", default="admin/").strip("/") + "/"
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "landing"

# Sign in with Google (allauth's social accounts; README "Production"). Off, and
# its button hidden, until both are set; the OAuth client is made in Google
# Cloud console with the redirect URI <site>/accounts/google/login/callback/.
GOOGLE_CLIENT_ID = env.str("GOOGLE_CLIENT_ID", default="")
GOOGLE_CLIENT_SECRET = env.str("GOOGLE_CLIENT_SECRET", default="")
SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_PROVIDERS = {
    "google": {
        "APPS": (
            [{"client_id": GOOGLE_CLIENT_ID, "secret": GOOGLE_CLIENT_SECRET}]
            if GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET
            else []
        ),
        "SCOPE": ["openid", "profile", "email"],
        "AUTH_PARAMS": {"prompt": "select_account"},
        "OAUTH_PKCE_ENABLED": True,
    }
}
# Google verifies the addresses it reports (the id token's email_verified):
# signing in with a verified Google address opens the account that has it and
# links the two. allauth wipes the password of a matched account whose own
# address was never verified, so whoever registered someone else's address
# beforehand is locked out.
SOCIALACCOUNT_EMAIL_AUTHENTICATION = True
SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT = True
SOCIALACCOUNT_STORE_TOKENS = False

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Mirsam <no-reply@mirsam.local>")
# The address the terms and the privacy policy give for questions and data requests.
MIRSAM_CONTACT_EMAIL = env.str("MIRSAM_CONTACT_EMAIL", default="privacy@mirsam.local")
# django-anymail: ANYMAIL_ESP names an e-mail service (a module of anymail.backends:
# mailgun, postmark, sendgrid, brevo, resend, amazon_ses, ...) and ANYMAIL_API_KEY
# its key. Any other ANYMAIL_<NAME> variable becomes ANYMAIL["<NAME>"] (e.g.
# ANYMAIL_MAILGUN_SENDER_DOMAIN). Without ANYMAIL_ESP, EMAIL_URL decides (console).
ANYMAIL_ESP = env.str("ANYMAIL_ESP", default="").strip().lower()
if ANYMAIL_ESP:
    if importlib.util.find_spec(f"anymail.backends.{ANYMAIL_ESP}") is None:
        raise ImproperlyConfigured(f"ANYMAIL_ESP={ANYMAIL_ESP!r} is not one of django-anymail's backends.")
    INSTALLED_APPS.append("anymail")
    EMAIL_BACKEND = f"anymail.backends.{ANYMAIL_ESP}.EmailBackend"
    ANYMAIL = {
        name.removeprefix("ANYMAIL_"): value
        for name, value in env.ENVIRON.items()
        if name.startswith("ANYMAIL_") and name not in {"ANYMAIL_ESP", "ANYMAIL_API_KEY"}
    }
    # The setting that holds the key, where the ESP does not call it <ESP>_API_KEY.
    _anymail_key_names = {
        "postmark": "POSTMARK_SERVER_TOKEN",
        "mailersend": "MAILERSEND_API_TOKEN",
        "mailtrap": "MAILTRAP_API_TOKEN",
        "scaleway": "SCALEWAY_SECRET_KEY",
    }
    if env.str("ANYMAIL_API_KEY", default=""):
        ANYMAIL.setdefault(
            _anymail_key_names.get(ANYMAIL_ESP, f"{ANYMAIL_ESP.upper()}_API_KEY"), env.str("ANYMAIL_API_KEY")
        )
SERVER_EMAIL = env.str("SERVER_EMAIL", default=DEFAULT_FROM_EMAIL)
# E-mails leave from Celery after commit (accounts.mail); a failing server is
# tried again this many times, after MIRSAM_MAIL_RETRY_SECONDS × 2ⁿ seconds.
MIRSAM_MAIL_RETRIES = env.int("MIRSAM_MAIL_RETRIES", default=5)
MIRSAM_MAIL_RETRY_SECONDS = env.int("MIRSAM_MAIL_RETRY_SECONDS", default=30)
# A creator whose job card polled this recently is watching and is not e-mailed
# when that job ends (accounts.notifications); the bell's page shows this many a page.
MIRSAM_NOTIFY_WATCHING_SECONDS = env.int("MIRSAM_NOTIFY_WATCHING_SECONDS", default=60)
MIRSAM_NOTIFICATIONS_PER_PAGE = env.int("MIRSAM_NOTIFICATIONS_PER_PAGE", default=20)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ar", _("Arabic"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our formats first, Django's for the rest (config/formats/: Arabic has no DATETIME_FORMAT of its own).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
MODELTRANSLATION_DEFAULT_LANGUAGE = "en"
MODELTRANSLATION_LANGUAGES = ("en", "ar")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# No MEDIA_URL route exists: every file is served by an ownership-checked view.
MEDIA_URL = "/media-not-served/"

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Production: WhiteNoise serves hashed, compressed names (collectstatic writes
    # them and the manifest). DEBUG and the tests keep plain names: no collectstatic.
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG

# Files on S3-compatible storage (django-storages) when a bucket is named:
# private objects, handed out only through short-lived signed URLs.
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
# Empty keys: boto3's own chain (AWS_* environment, instance or task role).
AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
AWS_S3_ADDRESSING_STYLE = env.str("AWS_S3_ADDRESSING_STYLE", default="") or None
AWS_LOCATION = env.str("AWS_LOCATION", default="")
AWS_S3_SIGNATURE_VERSION = "s3v4"
AWS_S3_FILE_OVERWRITE = False
# "private" (no grants but the owner's); empty sends no ACL, for buckets whose
# ACLs are disabled (S3 Object Ownership "bucket owner enforced", R2), private anyway.
AWS_DEFAULT_ACL = env.str("AWS_DEFAULT_ACL", default="private") or None
AWS_QUERYSTRING_AUTH = True
AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=300)
if AWS_STORAGE_BUCKET_NAME:
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}

# Content Security Policy (django-csp 4), also in DEBUG so breakage shows early.
# Nothing inline: every script and style is a file of ours (htmx is vendored by
# django-htmx), so no 'unsafe-inline' and no 'unsafe-eval'.
_storage_origins: list[str] = []
if AWS_STORAGE_BUCKET_NAME and AWS_S3_ENDPOINT_URL:
    _endpoint = urlsplit(AWS_S3_ENDPOINT_URL)
    _storage_origins = [
        f"{_endpoint.scheme}://{_endpoint.netloc}",  # path-style URLs
        f"{_endpoint.scheme}://{AWS_STORAGE_BUCKET_NAME}.{_endpoint.netloc}",  # virtual-hosted
    ]
elif AWS_STORAGE_BUCKET_NAME:
    _storage_origins = [f"https://{AWS_STORAGE_BUCKET_NAME}.s3.amazonaws.com"]
    if AWS_S3_REGION_NAME:
        _storage_origins.append(f"https://{AWS_STORAGE_BUCKET_NAME}.s3.{AWS_S3_REGION_NAME}.amazonaws.com")
# Where /files/<id>/ redirects (signed S3 URLs), for <img> and <video>.
CSP_STORAGE_ORIGINS = env.list("CSP_STORAGE_ORIGINS", default=_storage_origins)
# Our buy and portal forms POST to us and we answer 303 to Stripe's hosted pages;
# Chromium checks form-action against every redirect of a form submission.
CSP_FORM_ACTION_ORIGINS = env.list(
    "CSP_FORM_ACTION_ORIGINS", default=["https://checkout.stripe.com", "https://billing.stripe.com"]
)
# kie.ai's preview of each ElevenLabs voice (docs/kie.md §2.9: the voice
# field's description names this address); "{id}" is the voice id. Played on
# the Audio page for a kie.ai model; empty = no samples for them.
KIE_VOICE_PREVIEW_URL = env.str(
    "KIE_VOICE_PREVIEW_URL", default="https://static.aiquickdraw.com/elevenlabs/voice/{id}.mp3"
)
_preview = urlsplit(KIE_VOICE_PREVIEW_URL)
_PREVIEW_ORIGINS = [f"{_preview.scheme}://{_preview.netloc}"] if _preview.netloc else []
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:", *CSP_STORAGE_ORIGINS],
        # blob: for a drop zone's preview of a chosen recording (mirsam.js), as img-src has for images.
        "media-src": [SELF, "blob:", *CSP_STORAGE_ORIGINS, *_PREVIEW_ORIGINS],
        "connect-src": [SELF],
        "object-src": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF, *CSP_FORM_ACTION_ORIGINS],
        "base-uri": [SELF],
    },
}

# Celery (docs/stack.md §6). The embedded default is kombu's filesystem
# transport: a real worker process, no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _queue_dir = VAR_DIR / "celery" / "queue"
    _control_dir = VAR_DIR / "celery" / "control"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    _control_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "control_folder": str(_control_dir),
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # A message a worker took but never acknowledged (the worker was killed) is
    # given to another worker after this many seconds (kombu's default: 3600).
    # It must exceed the longest countdown we schedule (60 s: submit retries)
    # and the longest task (a download, bounded by its timeouts), or a task
    # would also run twice while the first run is alive (harmless, but waste).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=600),
    }
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
# The pipeline's tasks go to a queue by the job's service (generation/queues.py),
# so slow video jobs cannot starve image jobs; housekeeping stays on the default queue.
MIRSAM_QUEUE_IMAGES = env.str("MIRSAM_QUEUE_IMAGES", default="images")  # image and avatar jobs
MIRSAM_QUEUE_VIDEOS = env.str("MIRSAM_QUEUE_VIDEOS", default="videos")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A worker keeps its database connections across tasks (config/celery.py):
# Celery's Django fixup then closes them only every this many tasks, not
# before and after every task; DB_CONN_MAX_AGE still bounds their age.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
# Workers log through LOGGING below (JSON lines with the job id), not Celery's own handlers.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-jobs": {
        "task": "generation.tasks.sweep_stuck_jobs_task",
        "schedule": env.float("MIRSAM_SWEEP_INTERVAL_SECONDS", default=60.0),
    },
    "revive-stalled-jobs": {
        "task": "generation.tasks.revive_stalled_jobs_task",
        "schedule": env.float("MIRSAM_SWEEP_INTERVAL_SECONDS", default=60.0),
    },
    "purge-old-uploads": {
        "task": "generation.tasks.purge_uploads_task",
        "schedule": env.float("MIRSAM_UPLOAD_PURGE_INTERVAL_SECONDS", default=3600.0),
    },
    "purge-old-provider-calls": {
        "task": "providers.tasks.purge_provider_calls_task",
        "schedule": env.float("PROVIDER_CALL_PURGE_INTERVAL_SECONDS", default=3600.0),
    },
}

# Stripe through dj-stripe (docs/stack.md §1). Without a secret key the pricing
# page still shows packs and plans and buying says payments are off.
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_TEST_SECRET_KEY = env.str("STRIPE_TEST_SECRET_KEY", default="")
STRIPE_LIVE_SECRET_KEY = env.str("STRIPE_LIVE_SECRET_KEY", default="")
STRIPE_TEST_PUBLIC_KEY = env.str("STRIPE_TEST_PUBLIC_KEY", default="")
STRIPE_LIVE_PUBLIC_KEY = env.str("STRIPE_LIVE_PUBLIC_KEY", default="")
# One Stripe request waits at most this long, and is retried this often on a
# network error (the stripe library's defaults, 80 s and 2, outlast a web
# request: GUNICORN_TIMEOUT is 30 s). Set by billing.apps.
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=10.0)
STRIPE_MAX_NETWORK_RETRIES = env.int("STRIPE_MAX_NETWORK_RETRIES", default=1)
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
MIRSAM_STRIPE_RECONCILE_HOURS = env.int("MIRSAM_STRIPE_RECONCILE_HOURS", default=48)
CELERY_BEAT_SCHEDULE["expire-credits"] = {
    "task": "credits.tasks.expire_credits_task",
    "schedule": env.float("MIRSAM_CREDIT_EXPIRY_INTERVAL_SECONDS", default=3600.0),
}
# Days before a lot expires that its owner is told (the dashboard shows it).
MIRSAM_CREDIT_EXPIRY_NOTICE_DAYS = env.int("MIRSAM_CREDIT_EXPIRY_NOTICE_DAYS", default=7)
CELERY_BEAT_SCHEDULE["purge-api-idempotency"] = {
    "task": "api.tasks.idempotency_purge_task",
    "schedule": 3600.0,
}
# Export my data (accounts/export.py): the ZIP's download link lasts this many
# hours, then the beat task below deletes it (checking every interval).
MIRSAM_EXPORT_HOURS = env.int("MIRSAM_EXPORT_HOURS", default=24)
CELERY_BEAT_SCHEDULE["purge-expired-exports"] = {
    "task": "accounts.tasks.exports_purge_task",
    "schedule": env.float("MIRSAM_EXPORT_PURGE_INTERVAL_SECONDS", default=3600.0),
}
CELERY_BEAT_SCHEDULE["reconcile-stripe-checkouts"] = {
    "task": "billing.tasks.reconcile_checkouts_task",
    "schedule": env.float("MIRSAM_STRIPE_RECONCILE_INTERVAL_SECONDS", default=3600.0),
}

# Mirsam
MIRSAM_SIGNUP_CREDITS = env.int("MIRSAM_SIGNUP_CREDITS", default=50)
# The sign-up bonus waits until the e-mail address is verified (a throwaway
# account gets nothing to spend); by default whenever allauth verifies e-mails.
MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION = env.bool(
    "MIRSAM_SIGNUP_BONUS_AFTER_VERIFICATION", default=ACCOUNT_EMAIL_VERIFICATION != "none"
)
# Jobs a user who never bought credits may run at once (0 = no limit).
MIRSAM_FREE_CONCURRENT_JOBS = env.int("MIRSAM_FREE_CONCURRENT_JOBS", default=2)
# Staff credit adjustments (accounts.services): the credits (either sign) one
# staff member may request in 24 hours, and the size above which one
# adjustment waits for a second staff member's approval.
MIRSAM_ADJUSTMENT_DAILY_LIMIT_CREDITS = env.int("MIRSAM_ADJUSTMENT_DAILY_LIMIT_CREDITS", default=10_000)
MIRSAM_ADJUSTMENT_APPROVAL_CREDITS = env.int("MIRSAM_ADJUSTMENT_APPROVAL_CREDITS", default=1_000)
MIRSAM_PROMPT_MAX_LENGTH = env.int("MIRSAM_PROMPT_MAX_LENGTH", default=2000)


# Prices from costs (providers/pricing.py): a derived price is the provider's
# cost × (1 + MIRSAM_PRICE_MARGIN) ÷ MIRSAM_PRICE_CREDIT_USD, rounded up to a
# whole credit; MIRSAM_PRICE_CREDIT_USD is the cheapest seeded credit (Studio
# pack, 1,500 for $50.00). check_catalogue fails when a price leaves less than
# MIRSAM_MIN_MARGIN over cost at the cheapest credit anyone can buy.
def _decimal_setting(name: str, default: str, *, positive: bool = False) -> Decimal:
    try:
        value = Decimal(env.str(name, default=default))
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name} must be a decimal number, e.g. {default}") from None
    if not value.is_finite() or value < 0 or (positive and value == 0):
        raise ImproperlyConfigured(f"{name} must be a {'positive' if positive else 'non-negative'} number")
    return value


MIRSAM_PRICE_MARGIN = _decimal_setting("MIRSAM_PRICE_MARGIN", "0.30")
MIRSAM_PRICE_CREDIT_USD = _decimal_setting("MIRSAM_PRICE_CREDIT_USD", "0.0333", positive=True)
MIRSAM_MIN_MARGIN = _decimal_setting("MIRSAM_MIN_MARGIN", "0.30")
MIRSAM_JOB_TIMEOUT_SECONDS = env.int("MIRSAM_JOB_TIMEOUT_SECONDS", default=900)
# A job unchanged this long has lost its pipeline message; the watchdog sends it again.
MIRSAM_JOB_STALL_SECONDS = env.int("MIRSAM_JOB_STALL_SECONDS", default=240)
MIRSAM_OUTPUT_MAX_BYTES = env.int("MIRSAM_OUTPUT_MAX_BYTES", default=50 * 1024 * 1024)
MIRSAM_CREATIONS_PER_PAGE = env.int("MIRSAM_CREATIONS_PER_PAGE", default=12)
#: Most jobs one bulk action of My creations (delete, move, download as a ZIP) takes at once.
MIRSAM_LIBRARY_BULK_MAX = env.int("MIRSAM_LIBRARY_BULK_MAX", default=100)
MIRSAM_UPLOAD_MAX_BYTES = env.int("MIRSAM_UPLOAD_MAX_BYTES", default=15 * 1024 * 1024)
MIRSAM_UPLOAD_MAX_PIXELS = env.int("MIRSAM_UPLOAD_MAX_PIXELS", default=40_000_000)
MIRSAM_UPLOAD_MIN_SIDE = env.int("MIRSAM_UPLOAD_MIN_SIDE", default=256)
MIRSAM_UPLOAD_RETENTION_DAYS = env.int("MIRSAM_UPLOAD_RETENTION_DAYS", default=7)
# Uploaded recordings (generation.audio): size in MiB, decoded length in seconds.
MIRSAM_AUDIO_UPLOAD_MAX_MB = env.float("MIRSAM_AUDIO_UPLOAD_MAX_MB", default=20.0)
MIRSAM_AUDIO_MAX_SECONDS = env.float("MIRSAM_AUDIO_MAX_SECONDS", default=300.0)
MIRSAM_AUDIO_MIN_SECONDS = env.float("MIRSAM_AUDIO_MIN_SECONDS", default=1.0)
# Polls of a provider task follow its model's typical duration (generation.polling):
# never closer than the floor, never further apart than the cap, in seconds; the
# estimate reads the model's last MIRSAM_POLL_HISTORY succeeded tasks (0 = the
# catalogue's seeded duration only). MIRSAM_POLL_SCHEDULE, when set, replaces
# all that with fixed seconds between polls, in order, the last repeating
# (tests and benches).
MIRSAM_POLL_FLOOR_SECONDS = env.float("MIRSAM_POLL_FLOOR_SECONDS", default=1.5)
MIRSAM_POLL_CAP_SECONDS = env.float("MIRSAM_POLL_CAP_SECONDS", default=30.0)
MIRSAM_POLL_HISTORY = env.int("MIRSAM_POLL_HISTORY", default=50)
MIRSAM_POLL_SCHEDULE = [float(s) for s in env.list("MIRSAM_POLL_SCHEDULE", default=[]) if s.strip()]
MIRSAM_POLL_MAX_ATTEMPTS = env.int("MIRSAM_POLL_MAX_ATTEMPTS", default=60)

# Rate limits of our own endpoints, counted in the default cache (CACHE_URL:
# Redis in production, so every web process shares the counts). allauth's
# (docs/stack.md §2; "<n>/<period>/<ip|key|user>", comma-separated) answer 429
# with templates/429.html; django-ratelimit's are per user for Generate and
# per client IP for the provider callback.
ACCOUNT_RATE_LIMITS = {
    "login": env.str("MIRSAM_RATE_LOGIN", default="30/m/ip"),
    "login_failed": env.str("MIRSAM_RATE_LOGIN_FAILED", default="10/m/ip,5/300s/key"),
    "signup": env.str("MIRSAM_RATE_SIGNUP", default="20/m/ip"),
    "reset_password": env.str("MIRSAM_RATE_RESET_PASSWORD", default="20/m/ip,5/m/key"),
}
MIRSAM_RATE_GENERATE = env.str("MIRSAM_RATE_GENERATE", default="30/m")
MIRSAM_RATE_CALLBACK = env.str("MIRSAM_RATE_CALLBACK", default="600/m")
# The public API (api/, docs/api.md): per personal API key, requests and new
# jobs per minute (django-ratelimit, "<n>/<s|m|h|d>"; empty = no limit),
# answered 429 with Retry-After.
MIRSAM_API_RATE_REQUESTS = env.str("MIRSAM_API_RATE_REQUESTS", default="120/m")
MIRSAM_API_RATE_JOBS = env.str("MIRSAM_API_RATE_JOBS", default="20/m")
# How long a result's download link from the API works (seconds).
MIRSAM_API_DOWNLOAD_URL_SECONDS = env.int("MIRSAM_API_DOWNLOAD_URL_SECONDS", default=600)
# How long an Idempotency-Key's first answer is kept (hours).
MIRSAM_API_IDEMPOTENCY_HOURS = env.int("MIRSAM_API_IDEMPOTENCY_HOURS", default=24)
# The site's address as programs reach it, for links made outside a request:
# the download links of webhook events (api/webhooks.py) and of the MCP server
# over stdio (manage.py mcp_server, api/mcp.py). No trailing slash.
MIRSAM_SITE_URL = env.str("MIRSAM_SITE_URL", default="http://localhost:8000").rstrip("/")
# Webhooks out (api/webhooks.py, docs/api.md "Webhooks"): an event is tried at
# most MIRSAM_WEBHOOK_MAX_ATTEMPTS times, waiting MIRSAM_WEBHOOK_RETRY_SECONDS,
# then twice as long each time (at most 300 s, below the broker's visibility
# timeout); an endpoint whose MIRSAM_WEBHOOK_DISABLE_AFTER events in a row
# failed is turned off. Each POST waits MIRSAM_WEBHOOK_TIMEOUT_SECONDS to
# connect and as long for the answer. A creator may have MIRSAM_WEBHOOK_MAX_ENDPOINTS.
MIRSAM_WEBHOOK_MAX_ATTEMPTS = env.int("MIRSAM_WEBHOOK_MAX_ATTEMPTS", default=6)
MIRSAM_WEBHOOK_RETRY_SECONDS = env.int("MIRSAM_WEBHOOK_RETRY_SECONDS", default=30)
MIRSAM_WEBHOOK_DISABLE_AFTER = env.int("MIRSAM_WEBHOOK_DISABLE_AFTER", default=5)
MIRSAM_WEBHOOK_TIMEOUT_SECONDS = env.float("MIRSAM_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
MIRSAM_WEBHOOK_MAX_ENDPOINTS = env.int("MIRSAM_WEBHOOK_MAX_ENDPOINTS", default=5)
# Only for tests and local development: let webhooks reach this computer
# (127.0.0.0/8, ::1; private ranges stay refused) and use plain http.
MIRSAM_WEBHOOK_ALLOW_LOOPBACK = env.bool("MIRSAM_WEBHOOK_ALLOW_LOOPBACK", default=False)
MIRSAM_WEBHOOK_ALLOW_HTTP = env.bool("MIRSAM_WEBHOOK_ALLOW_HTTP", default=False)
# Behind a proxy every request comes from the proxy's address: without one of
# these, all clients would share one rate-limit bucket. ALLAUTH_TRUSTED_PROXY_COUNT
# is how many proxies append to X-Forwarded-For (the client is that many entries
# from the end); ALLAUTH_TRUSTED_CLIENT_IP_HEADER a header the proxy sets to the
# client's address (X-Real-IP, CF-Connecting-IP), used instead when set.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("ALLAUTH_TRUSTED_PROXY_COUNT", default=0)
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = env.str("ALLAUTH_TRUSTED_CLIENT_IP_HEADER", default="") or None
# The same client IP as allauth's limits (the two settings above).
RATELIMIT_IP_META_KEY = "generation.limits.client_ip"
SILENCED_SYSTEM_CHECKS = [
    # "not officially supported": Django's own RedisCache (CACHE_URL=redis://) increments
    # atomically (Redis INCR), which is all django-ratelimit needs.
    "django_ratelimit.W001",
]
if DEBUG and CACHES["default"]["BACKEND"].endswith(".LocMemCache"):
    # The embedded default serves from one process, whose memory is then the whole count;
    # with DEBUG off a per-process cache stays an error: set CACHE_URL to Redis.
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")

# Providers
DEMO_DELAY_SECONDS = env.float("DEMO_DELAY_SECONDS", default=4.0)
DEMO_FAILURE_RATE = env.float("DEMO_FAILURE_RATE", default=0.0)
# The demo provider calls back as kie.ai does (signed, to MIRSAM_SITE_URL/callbacks/<token>/)
# once a task is done, polling staying the fallback. On by default with the embedded
# broker, where the worker and the web server share this computer and MIRSAM_SITE_URL
# is the local server; off elsewhere unless set.
DEMO_CALLBACKS = env.bool("DEMO_CALLBACKS", default=CELERY_BROKER_URL.startswith("filesystem://"))
KIE_API_KEY = env.str("KIE_API_KEY", default="")
KIE_BASE_URL = env.str("KIE_BASE_URL", default="https://api.kie.ai")
KIE_UPLOAD_BASE_URL = env.str("KIE_UPLOAD_BASE_URL", default="https://kieai.redpandaai.co")
KIE_CALLBACK_BASE_URL = env.str("KIE_CALLBACK_BASE_URL", default="")
KIE_WEBHOOK_HMAC_KEY = env.str("KIE_WEBHOOK_HMAC_KEY", default="")
KIE_TIMEOUT_SECONDS = env.float("KIE_TIMEOUT_SECONDS", default=30.0)
KIE_MAX_RETRIES = env.int("KIE_MAX_RETRIES", default=3)
# USD one kie.ai credit costs us (docs/kie.md §1: $0.005): a task's billed
# credits (creditsConsumed) times this is its real cost in the margin.
KIE_CREDIT_USD = env.str("KIE_CREDIT_USD", default="0.005")
KIE_RETRY_BACKOFF_SECONDS = env.float("KIE_RETRY_BACKOFF_SECONDS", default=1.0)
# kie.ai takes at most 20 new generation requests per 10 s per account (docs/kie.md §1);
# providers/ratelimit.py holds that across every worker through MIRSAM_REDIS_URL.
KIE_RATE_LIMIT = env.int("KIE_RATE_LIMIT", default=20)  # 0 = off
KIE_RATE_LIMIT_WINDOW_SECONDS = env.float("KIE_RATE_LIMIT_WINDOW_SECONDS", default=10.0)
KIE_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("KIE_RATE_LIMIT_MAX_WAIT_SECONDS", default=30.0)
# ... and at most 10 record (poll) requests per second per key, counted apart;
# a poll waits a short while for a slot, then comes back later.
KIE_POLL_RATE_LIMIT = env.int("KIE_POLL_RATE_LIMIT", default=10)  # 0 = off
KIE_POLL_RATE_LIMIT_WINDOW_SECONDS = env.float("KIE_POLL_RATE_LIMIT_WINDOW_SECONDS", default=1.0)
KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS = env.float("KIE_POLL_RATE_LIMIT_MAX_WAIT_SECONDS", default=2.0)
# Redis for state shared by all workers; default: the broker when it is Redis. Empty
# (the embedded default) = an in-process limiter, which only holds with one worker.
MIRSAM_REDIS_URL = env.str(
    "MIRSAM_REDIS_URL", default=CELERY_BROKER_URL if CELERY_BROKER_URL.startswith(("redis://", "rediss://")) else ""
)
# Push (generation/push.py): where pages open their event stream, a path served by
# the ASGI process; empty = the cards poll. Needs Redis, so off without one.
MIRSAM_PUSH_URL = env.str("MIRSAM_PUSH_URL", default="/events/" if MIRSAM_REDIS_URL else "")
MIRSAM_PUSH_HEARTBEAT_SECONDS = env.float("MIRSAM_PUSH_HEARTBEAT_SECONDS", default=15.0)
MIRSAM_PUSH_STREAM_SECONDS = env.float("MIRSAM_PUSH_STREAM_SECONDS", default=300.0)
PROVIDER_LOG_BODY_CHARS = env.int("PROVIDER_LOG_BODY_CHARS", default=4000)
# About three calls per job, each up to twice PROVIDER_LOG_BODY_CHARS: kept for
# support and disputes, then deleted by beat (0 = keep forever).
PROVIDER_CALL_RETENTION_DAYS = env.int("PROVIDER_CALL_RETENTION_DAYS", default=90)
# The admin dashboard warns when kie.ai account credits fall below this.
KIE_CREDITS_WARNING_THRESHOLD = env.int("KIE_CREDITS_WARNING_THRESHOLD", default=1000)

# Logs: JSON lines in production (time, level, logger, message, request_id,
# job_id, exception), readable text in development; config/observability.py.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured("LOG_FORMAT must be json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.observability.ContextFilter"}},
    "formatters": {
        "json": {"()": "config.observability.JsonFormatter"},
        "text": {"()": "config.observability.TextFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "filters": ["context"], "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
}

# Sentry, only when a DSN is set (Django and Celery integrations, no personal data).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
if SENTRY_DSN:
    from config.observability import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)
