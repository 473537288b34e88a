"""My creations with 100,000 jobs of one creator (issue 17, "a media library"):
what one library page costs — plain, searched in English and in Arabic,
filtered, favourites — in wall time, SQL queries and SQL time, on
PostgreSQL, with the plan of the search's count.

It makes its own database (``mirsam_bench``, dropped first), migrates it,
bulk-inserts the history (prompts in both languages), then asks each page
``--requests`` times through Django's test client with the page cache
emptied before each request (so every request renders and queries).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import django_setup, machine, machine_line, manage, percentile, production_env, recreate_database

WORDS_EN = "lighthouse storm fox snow boat harbour city night desert rain garden portrait".split()
WORDS_AR = "منارة عاصفة ثعلب ثلج قارب ميناء مدينة ليل صحراء مطر حديقة صورة".split()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=100_000, help="jobs of the one creator (default 100,000)")
    parser.add_argument("--requests", type=int, default=30, help="requests per page (default 30)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mirsam-bench-library-"))
    env = production_env(work=work)
    recreate_database()
    manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput")
    django_setup(env)

    from django.conf import settings
    from django.core.cache import caches
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    from accounts.models import User
    from generation.models import Job, JobStatus
    from providers.models import Offer

    setup_test_environment()  # the test client keeps each response's context (the match count)
    user = User.objects.create_user(email="library@mirsam.local", username="library", password="x" * 16)
    offer = Offer.objects.get(slug="demo-image")
    rng = random.Random(17)
    t0 = time.perf_counter()
    batch = []
    for n in range(args.jobs):
        words = WORDS_AR if n % 2 else WORDS_EN
        prompt = " ".join(rng.choice(words) for _ in range(6)) + f" {n}"
        batch.append(
            Job(
                user=user,
                offer=offer,
                service=offer.service,
                status=JobStatus.SUCCEEDED,
                params={"prompt": prompt, "outputs": 1},
                prompt_text=prompt,
                price_credits=1,
                charged_credits=1,
                favourite=n % 50 == 0,
            )
        )
        if len(batch) == 5000:
            Job.objects.bulk_create(batch)
            batch = []
    Job.objects.bulk_create(batch)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE generation_job")
    print(f"machine: {machine_line(machine())}")
    print(f"{args.jobs:,} jobs of one creator inserted in {time.perf_counter() - t0:.1f} s")

    client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
    client.force_login(user)
    pages = [
        ("first page", "/creations/"),
        ("page 1,000", "/creations/?page=1000"),
        ("search English", "/creations/?q=lighthouse+storm"),
        ("search Arabic", "/creations/?q=منارة+عاصفة"),
        ("search, no match", "/creations/?q=zebra"),
        ("type + status + dates", "/creations/?service=image&status=succeeded&date_from=2026-01-01"),
        ("favourites", "/creations/?favourites=1"),
    ]
    print(f"{args.requests} requests per page, the page cache emptied before each")
    print()
    print("| page | wall p50 ms | wall p95 ms | queries | SQL ms p50 | matches |")
    print("|---|--:|--:|--:|--:|--:|")
    for name, path in pages:
        client.get(path)  # warm
        walls, sql, counts = [], [], []
        for _ in range(args.requests):
            caches["pages"].clear()
            with CaptureQueriesContext(connection) as captured:
                w0 = time.perf_counter()
                response = client.get(path)
                walls.append(time.perf_counter() - w0)
            assert response.status_code == 200, (name, response.status_code)
            counts.append(len(captured.captured_queries))
            sql.append(sum(float(q["time"]) for q in captured.captured_queries))
        matches = response.context["page"].paginator.count if response.context else "?"
        print(
            f"| {name} | {percentile(walls, 50) * 1000:.1f} | {percentile(walls, 95) * 1000:.1f} "
            f"| {max(counts)} | {percentile(sql, 50) * 1000:.1f} | {matches:,} |"
        )
    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN ANALYZE SELECT COUNT(*) FROM generation_job WHERE user_id = %s AND UPPER(prompt_text) LIKE %s",
            [user.pk, "%منارة عاصفة%"],
        )
        plan = [row[0] for row in cursor.fetchall()]
    print("\nplan of the Arabic search's count:")
    print("\n".join(f"    {line}" for line in plan))
    return 0


if __name__ == "__main__":
    sys.exit(main())
