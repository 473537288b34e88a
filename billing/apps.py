from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import stripe
        from django.conf import settings

        from . import handlers  # noqa: F401 - connects the webhook receivers

        # Every Stripe call of ours and dj-stripe's goes through this client:
        # bounded so a web request answers before gunicorn's timeout.
        stripe.default_http_client = stripe.RequestsClient(timeout=settings.STRIPE_TIMEOUT_SECONDS)
        stripe.max_network_retries = settings.STRIPE_MAX_NETWORK_RETRIES
