from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class GenerationConfig(AppConfig):
    name = "generation"
    # The admin shows it as the app's heading, in the page's language.
    verbose_name = _("Generation")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from credits.describe import describer_register

        from .ledger_lines import job_entries_describe
        from .models import JOB_HOLD_PREFIX

        describer_register(JOB_HOLD_PREFIX, job_entries_describe)
