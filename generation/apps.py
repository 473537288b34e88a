from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from credits.describe import describer_register

        from .ledger_lines import job_entries_describe
        from .models import JOB_HOLD_PREFIX

        describer_register(JOB_HOLD_PREFIX, job_entries_describe)
