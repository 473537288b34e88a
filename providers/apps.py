from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvidersConfig(AppConfig):
    name = "providers"
    # The admin shows it as the app's heading, in the page's language.
    verbose_name = _("Providers")
    default_auto_field = "django.db.models.BigAutoField"
