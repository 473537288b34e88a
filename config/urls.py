from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _

from accounts import legal
from api.v1 import api as api_v1
from billing.webhooks import stripe_webhook
from config import health
from config.pagecache import cached_page
from generation import push
from generation.callbacks import provider_callback
from generation.versions import LANDING
from generation.views import landing
from operators.exports import export_csv

# Staff log in through allauth (and its second factor), not the admin's own form.
# allauth documents wrapping the site's bound method; mypy refuses assigning to a method.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
admin.site.site_header = _("Mirsam operations")
admin.site.site_title = _("Mirsam operations")
admin.site.index_title = _("Operator console")

urlpatterns = [
    # Load-balancer probes (config/health.py): no language prefix, no login; with or without a slash.
    re_path(r"^healthz/?$", health.healthz, name="healthz"),
    re_path(r"^readyz/?$", health.readyz, name="readyz"),
    # Not translated: providers and the language switcher post here.
    path("callbacks/<str:token>/", provider_callback, name="provider_callback"),
    path("events/", push.events, name="push_events"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Stripe posts webhook events to djstripe:djstripe_webhook_by_uuid here.
    # dj-stripe's webhook route, answered by our signature check first (billing/webhooks.py).
    path("stripe/webhook/<uuid:uuid>/", stripe_webhook, name="stripe_webhook"),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    # The public REST API (api/v1.py, docs/api.md): JSON for programs, not translated in its path.
    path("api/v1/", api_v1.urls),
]

urlpatterns += i18n_patterns(
    path("", cached_page(LANDING)(landing), name="landing"),
    path("terms/", legal.terms, name="terms"),
    path("privacy/", legal.privacy, name="privacy"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("account/api-keys/", include("api.urls")),
    path("account/webhooks/", include("api.webhook_urls")),
    path("credits/", include("credits.urls")),
    path("", include("billing.urls")),
    path("", include("generation.urls")),
    path(settings.ADMIN_URL + "exports/<slug:what>.csv", admin.site.admin_view(export_csv), name="staff_export"),
    path(settings.ADMIN_URL, admin.site.urls),
    prefix_default_language=False,
)
