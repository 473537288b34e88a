"""What one request to each page costs, without load: serial requests in
this process through Django's full stack (every middleware, the production
settings), timed and counted, optionally profiled.

    .venv/bin/python bench/page_cost.py [--requests 200] [--profile "Image page"]

It needs the database that ``bench/http_load.py --keep-db`` leaves behind
(``mirsam_bench``: 20 users × 1,000 jobs, their sessions). For each page it
prints the mean and p95 wall time and CPU time per request, the queries per
request and the time spent in them, and the response size. Every page is
measured twice: as served while what it shows is unchanged (from the page
cache, generation.pages; the poll answered 304 to the browser's
If-None-Match) and as rendered after a change ("… rendered": the page cache
emptied before each request, the poll asked without If-None-Match; job cards
stay cached, as they do when one job of a page changes). ``--profile NAME``
prints that page's top functions by cumulative time (cProfile). Use it to find
what the load benchmark's ratios come from: under saturation a page's p95
over the floor's is roughly its cost over the floor's.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import DB_NAME, PG_URL, django_setup, machine, machine_line, percentile, production_env

ROUNDS = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=200, help="requests per page (default 200)")
    parser.add_argument("--profile", help="profile this page (its name as printed) and print its top functions")
    parser.add_argument("--top", type=int, default=40, help="functions listed by --profile (default 40)")
    parser.add_argument("--sort", default="cumulative", help="cProfile order for --profile (cumulative, tottime)")
    parser.add_argument("--queries", help="print the SQL of one request to this page (its name as printed)")
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="CONN_MAX_AGE (default 60, as deployed; 0: a new connection per request)",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mirsam-bench-cost-"))
    url = f"{PG_URL}/{DB_NAME}?conn_max_age={args.conn_max_age}"
    env = production_env(work=work, DATABASE_URL=url, STATIC_ROOT=str(work / "static"))
    django_setup(env, "bench.settings")

    from django.conf import settings
    from django.core.cache import caches
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User
    from bench.http_load import sign_in
    from generation.models import Job

    call_command("collectstatic", "--noinput", verbosity=0)
    user = User.objects.filter(email="bench0@mirsam.local").first()
    running = Job.objects.filter(user=user, status="processing").order_by("-id").first()
    if user is None or running is None:
        print(f"no seeded history in {DB_NAME}: run bench/http_load.py --keep-db first", file=sys.stderr)
        return 2
    user_id = user.pk
    (session_key,) = sign_in([user])  # signed with this process's SECRET_KEY
    client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0])
    client.cookies["sessionid"] = session_key
    poll = f"/jobs/{running.pk}/card/"
    client.get("/dashboard/")  # a page with forms sets the CSRF cookie, which the card's ETag covers
    etag = client.get(poll, HTTP_HX_REQUEST="true")["ETag"]
    # (name, path, headers, empty the page cache before each request)
    pages = [("floor", "/bench/floor/", {}, False)]
    for name, path in [("landing", "/"), ("dashboard", "/dashboard/"), ("Image page", "/image/")]:
        pages += [(name, path, {}, False), (f"{name} rendered", path, {}, True)]
    pages += [("My creations", "/creations/", {}, False), ("My creations rendered", "/creations/", {}, True)]
    pages += [
        ("job poll", poll, {"HTTP_HX_REQUEST": "true", "HTTP_IF_NONE_MATCH": etag}, False),
        ("job poll rendered", poll, {"HTTP_HX_REQUEST": "true"}, False),
    ]
    print(f"machine: {machine_line(machine())}")
    print(
        f"{args.requests} serial requests per page in {ROUNDS} interleaved rounds, "
        f"CONN_MAX_AGE={args.conn_max_age}, user {user_id}"
    )
    for name, path, headers, _ in pages:
        for _ in range(5):  # warm: templates compiled, URLs resolved, translations loaded
            response = client.get(path, **headers)
            assert response.status_code == (304 if "HTTP_IF_NONE_MATCH" in headers else 200), (name, response)
    # Every page a slice per round, so drift of the machine (other guests'
    # CPU steal) touches all pages alike; medians, not means, for the same reason.
    walls = {name: [] for name, *_ in pages}
    cpus = {name: [] for name, *_ in pages}
    queries = {name: [] for name, *_ in pages}
    query_s = {name: [] for name, *_ in pages}
    sizes = {}
    profiler = cProfile.Profile() if args.profile else None
    for _ in range(ROUNDS):
        for name, path, headers, fresh in pages:
            for _ in range(max(1, args.requests // ROUNDS)):
                if fresh:
                    caches["pages"].clear()
                reset_queries()
                with CaptureQueriesContext(connection) as captured:
                    w0, c0 = time.perf_counter(), time.process_time()
                    if profiler and name == args.profile:
                        profiler.enable()
                    response = client.get(path, **headers)
                    if profiler and name == args.profile:
                        profiler.disable()
                    walls[name].append(time.perf_counter() - w0)
                    cpus[name].append(time.process_time() - c0)
                queries[name].append(len(captured.captured_queries))
                query_s[name].append(sum(float(q["time"]) for q in captured.captured_queries))
                sizes[name] = len(response.content)
    print()
    print("| page | wall p50 ms | wall p95 ms | CPU p50 ms | CPU / floor | queries | query ms p50 | KiB |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    floor_cpu = percentile(cpus[pages[0][0]], 50)
    for name, *_ in pages:
        cpu = percentile(cpus[name], 50)
        print(
            f"| {name} | {percentile(walls[name], 50) * 1000:.2f} | {percentile(walls[name], 95) * 1000:.2f} "
            f"| {cpu * 1000:.2f} | {cpu / floor_cpu:.1f}× | {max(queries[name])} "
            f"| {percentile(query_s[name], 50) * 1000:.2f} | {sizes[name] / 1024:.1f} |"
        )
    for name, path, headers, fresh in pages:
        if name == args.queries:
            if fresh:
                caches["pages"].clear()
            with CaptureQueriesContext(connection) as captured:
                client.get(path, **headers)
            print(f"\nqueries of one request to {name}:")
            for q in captured.captured_queries:
                print(f"  {float(q['time']) * 1000:6.2f} ms  {q['sql'][:300]}")
    if profiler:
        print(f"\nprofile of {args.profile}:")
        pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
