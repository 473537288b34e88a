from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from generation.callbacks import provider_callback

urlpatterns = [
    # Not translated: providers and the language switcher post here.
    path("callbacks/<str:token>/", provider_callback, name="provider_callback"),
    path("i18n/", include("django.conf.urls.i18n")),
    # Stripe posts webhook events to djstripe:djstripe_webhook_by_uuid here.
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
]

urlpatterns += i18n_patterns(
    path("", TemplateView.as_view(template_name="pages/landing.html"), name="landing"),
    path("terms/", TemplateView.as_view(template_name="pages/terms.html"), name="terms"),
    path("privacy/", TemplateView.as_view(template_name="pages/privacy.html"), name="privacy"),
    path("accounts/", include("allauth.urls")),
    path("account/", include("accounts.urls")),
    path("credits/", include("credits.urls")),
    path("", include("billing.urls")),
    path("", include("generation.urls")),
    path("admin/", admin.site.urls),
    prefix_default_language=False,
)
