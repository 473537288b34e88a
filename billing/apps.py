from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    # The admin shows it as the app's heading, in the page's language.
    verbose_name = _("Billing")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import stripe
        from django.conf import settings

        from . import handlers  # noqa: F401 - connects the webhook receivers

        # Every Stripe call of ours and dj-stripe's goes through this client:
        # bounded so a web request answers before gunicorn's timeout.
        stripe.default_http_client = stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)
        stripe.max_network_retries = settings.STRIPE_MAX_NETWORK_RETRIES
