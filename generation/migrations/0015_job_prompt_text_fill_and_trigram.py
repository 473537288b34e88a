"""Fill ``Job.prompt_text`` for the jobs made before it existed, and on
PostgreSQL index it for My creations' substring search: a GIN index of
``pg_trgm`` trigrams on ``UPPER(prompt_text)``, which is what Django's
``icontains`` compares there (``UPPER(col::text) LIKE UPPER(%s)``). SQLite,
the embedded default, has neither: the search scans the user's rows there."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEX = "job_prompt_text_trgm"
BATCH = 2000


def _search_text(service, params, preset_names):
    # A copy of generation.models.search_text as it was when this ran.
    if service == "avatar" and "preset" in params:
        parts = [*preset_names, str(params.get("details") or "")]
    else:
        parts = [str(params.get(name) or "") for name in ("prompt", "title", "style")]
    return "\n".join(p.strip() for p in parts if p and p.strip())


def fill(apps, schema_editor):
    Job = apps.get_model("generation", "Job")
    StylePreset = apps.get_model("generation", "StylePreset")
    names = {
        p.slug: tuple(n for n in dict.fromkeys((p.name_en, p.name_ar)) if n)
        for p in StylePreset.objects.all()
    }
    batch = []
    for job in Job.objects.filter(prompt_text="").only("id", "service", "params").iterator(chunk_size=BATCH):
        params = job.params if isinstance(job.params, dict) else {}
        text = _search_text(job.service, params, names.get(str(params.get("preset", "")), ()))
        if text:
            job.prompt_text = text
            batch.append(job)
        if len(batch) >= BATCH:
            Job.objects.bulk_update(batch, ["prompt_text"])
            batch = []
    if batch:
        Job.objects.bulk_update(batch, ["prompt_text"])


# Written out: Django renders GinIndex(OpClass(Upper(...))) as
# ((UPPER(col) gin_trgm_ops)), which PostgreSQL refuses; the expression
# needs its own parentheses before the operator class.
CREATE = f'CREATE INDEX IF NOT EXISTS "{INDEX}" ON "generation_job" USING gin ((UPPER("prompt_text")) gin_trgm_ops)'
DROP = f'DROP INDEX IF EXISTS "{INDEX}"'


def index_forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def index_backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("generation", "0014_library")]

    operations = [
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        TrigramExtension(),  # does nothing on another database
        migrations.RunPython(index_forwards, index_backwards),
    ]
