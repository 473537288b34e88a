"""Mirsam settings: one module, driven by the environment (django-environ).

Every variable read here is listed with its default in README.md and
``.env.example``. The defaults are the embedded setup: SQLite, a filesystem
Celery broker that needs no server, the offline ``demo`` provider.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

INSECURE_SECRET_KEY = "django-insecure-mirsam-development-key-change-me"  # noqa: S105 - refused unless DEBUG

DEBUG = env.bool("DEBUG", default=True)
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_SECRET_KEY)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

if not DEBUG and SECRET_KEY == INSECURE_SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY: the default key is only for DEBUG=True.")

# Where the embedded setup keeps its database, media and broker folders.
VAR_DIR = Path(env.str("MIRSAM_VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

INSTALLED_APPS = [
    # modeltranslation must come before the admin (stack-notes §3).
    "modeltranslation",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "djstripe",
    "allauth",
    "allauth.account",
    "accounts",
    "credits",
    "providers",
    "generation",
    "billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
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
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file (not memory) test database, so a real Celery worker process in the
    # pipeline test can open the same database as the test.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

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

# django-allauth (stack-notes §2)
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = env.str("ACCOUNT_EMAIL_VERIFICATION", default="optional")
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGOUT_ON_GET = False
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"
ACCOUNT_LOGOUT_REDIRECT_URL = "landing"

EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Mirsam <no-reply@mirsam.local>")

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ar", _("Arabic"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
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
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    # Private objects, handed out through short-lived signed URLs only.
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage"}
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default=None)
    AWS_DEFAULT_ACL = "private"
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = env.int("AWS_QUERYSTRING_EXPIRE", default=300)

# Celery (stack-notes §6). The embedded default is kombu's filesystem
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
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_TASK_DEFAULT_QUEUE", default="celery")
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "sweep-stuck-jobs": {
        "task": "generation.tasks.sweep_stuck_jobs_task",
        "schedule": env.float("MIRSAM_SWEEP_INTERVAL_SECONDS", default=60.0),
    },
    "purge-old-uploads": {
        "task": "generation.tasks.purge_uploads_task",
        "schedule": env.float("MIRSAM_UPLOAD_PURGE_INTERVAL_SECONDS", default=3600.0),
    },
}

# Stripe through dj-stripe (stack-notes §1). Without a secret key the pricing
# page still shows packs and plans and buying says payments are off.
STRIPE_LIVE_MODE = env.bool("STRIPE_LIVE_MODE", default=False)
STRIPE_TEST_SECRET_KEY = env.str("STRIPE_TEST_SECRET_KEY", default="")
STRIPE_LIVE_SECRET_KEY = env.str("STRIPE_LIVE_SECRET_KEY", default="")
STRIPE_TEST_PUBLIC_KEY = env.str("STRIPE_TEST_PUBLIC_KEY", default="")
STRIPE_LIVE_PUBLIC_KEY = env.str("STRIPE_LIVE_PUBLIC_KEY", default="")
DJSTRIPE_FOREIGN_KEY_TO_FIELD = "id"
DJSTRIPE_WEBHOOK_VALIDATION = "verify_signature"
MIRSAM_STRIPE_RECONCILE_HOURS = env.int("MIRSAM_STRIPE_RECONCILE_HOURS", default=48)
CELERY_BEAT_SCHEDULE["reconcile-stripe-checkouts"] = {
    "task": "billing.tasks.reconcile_checkouts_task",
    "schedule": env.float("MIRSAM_STRIPE_RECONCILE_INTERVAL_SECONDS", default=3600.0),
}

# Mirsam
MIRSAM_SIGNUP_CREDITS = env.int("MIRSAM_SIGNUP_CREDITS", default=50)
MIRSAM_PROMPT_MAX_LENGTH = env.int("MIRSAM_PROMPT_MAX_LENGTH", default=2000)
MIRSAM_JOB_TIMEOUT_SECONDS = env.int("MIRSAM_JOB_TIMEOUT_SECONDS", default=900)
MIRSAM_OUTPUT_MAX_BYTES = env.int("MIRSAM_OUTPUT_MAX_BYTES", default=50 * 1024 * 1024)
MIRSAM_CREATIONS_PER_PAGE = env.int("MIRSAM_CREATIONS_PER_PAGE", default=12)
MIRSAM_UPLOAD_MAX_BYTES = env.int("MIRSAM_UPLOAD_MAX_BYTES", default=15 * 1024 * 1024)
MIRSAM_UPLOAD_MAX_PIXELS = env.int("MIRSAM_UPLOAD_MAX_PIXELS", default=40_000_000)
MIRSAM_UPLOAD_MIN_SIDE = env.int("MIRSAM_UPLOAD_MIN_SIDE", default=256)
MIRSAM_UPLOAD_RETENTION_DAYS = env.int("MIRSAM_UPLOAD_RETENTION_DAYS", default=7)
# Seconds between polls of a provider task, in order; the last repeats.
MIRSAM_POLL_SCHEDULE = [
    int(s) for s in env.list("MIRSAM_POLL_SCHEDULE", default=["3", "3", "5", "5", "10", "10", "20"])
]
MIRSAM_POLL_MAX_ATTEMPTS = env.int("MIRSAM_POLL_MAX_ATTEMPTS", default=60)

# Providers
DEMO_DELAY_SECONDS = env.float("DEMO_DELAY_SECONDS", default=4.0)
DEMO_FAILURE_RATE = env.float("DEMO_FAILURE_RATE", default=0.0)
KIE_API_KEY = env.str("KIE_API_KEY", default="")
KIE_BASE_URL = env.str("KIE_BASE_URL", default="https://api.kie.ai")
KIE_UPLOAD_BASE_URL = env.str("KIE_UPLOAD_BASE_URL", default="https://kieai.redpandaai.co")
KIE_CALLBACK_BASE_URL = env.str("KIE_CALLBACK_BASE_URL", default="")
KIE_WEBHOOK_HMAC_KEY = env.str("KIE_WEBHOOK_HMAC_KEY", default="")
KIE_TIMEOUT_SECONDS = env.float("KIE_TIMEOUT_SECONDS", default=30.0)
KIE_MAX_RETRIES = env.int("KIE_MAX_RETRIES", default=3)
KIE_RETRY_BACKOFF_SECONDS = env.float("KIE_RETRY_BACKOFF_SECONDS", default=1.0)
PROVIDER_LOG_BODY_CHARS = env.int("PROVIDER_LOG_BODY_CHARS", default=4000)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
