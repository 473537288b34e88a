"""HTTP load benchmark: gunicorn + PostgreSQL, 20 signed-in clients on loopback.

    .venv/bin/python bench/http_load.py [--duration 30] [--rounds 10] [--clients 20] [--keep-db | --reuse-db]

It creates the PostgreSQL database ``mirsam_bench`` (dropped at the end
unless ``--keep-db``), migrates, seeds 20 users with 1,000 jobs each (bulk),
signs each in (a session made with Django's SessionStore, sent as the
``sessionid`` cookie), starts gunicorn with the repository's gunicorn.conf.py
(``DJANGO_SETTINGS_MODULE=bench.settings``: production settings plus the
``/bench/floor/`` view) on 127.0.0.1, then drives each page for a fixed time
with ``wrk`` (or Python threads when wrk is missing, or ``--client python``):
the landing page, the dashboard, the Image page, My creations and the
job-status poll (the htmx job card of a running job, asked with the
``If-None-Match`` of the newest copy of the card each client has, as the
browser's cache asks: answered 304 while the card is unchanged, 200 with a new
``ETag`` when it changed, e.g. its "… ago" once a minute), in short slices for
``--rounds`` rounds, with the floor measured between every two slices (each
page slice is compared with the floor right before and after it: the host's
CPU steal swings within seconds, and the run prints it). It prints p50/p95 latency, throughput, each
page's p95 over the floor's and the machine. Target (reported, not asserted): every page's p95
≤ 2 × the floor's. Everything it starts is stopped at the end, on Ctrl-C and
after ``--time-limit`` seconds.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    BIN,
    DB_NAME,
    HOST,
    PG_URL,
    Children,
    CpuMeter,
    django_setup,
    drop_database,
    free_port,
    machine,
    machine_line,
    manage,
    percentile,
    production_env,
    recreate_database,
    sign_in,
    time_limit,
    wait_http,
    write_json,
)

FLOOR = "floor"


@dataclass
class Page:
    name: str
    paths: list[str]  # one per user, same order as the sessions
    htmx: bool = False
    etags: list[str] | None = None  # If-None-Match per path (a browser's cached copy), set by preflight


@dataclass
class Result:
    page: str
    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: int
    extra: dict = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


# --- seeding --------------------------------------------------------------------

SERVICE_MIX = ["image"] * 7 + ["video"] * 2 + ["avatar"]  # 70 % images, 20 % videos, 10 % portraits
STATUS_MIX = ["succeeded"] * 45 + ["failed"] * 4 + ["canceled"]  # a finished history


def seed(users: int, jobs_per_user: int) -> tuple[list[str], list[int]]:
    """``users`` users with ``jobs_per_user`` jobs each (bulk; every succeeded
    job with an asset, timestamps one minute apart, the newest one still
    running so the poll has something to poll). Returns their session keys
    and the running job of each."""
    from django.contrib.auth.hashers import make_password
    from django.db import connection, transaction

    from accounts.models import User
    from credits.models import EntryKind
    from credits.services import credits_grant
    from generation.models import Asset, Job, StylePreset
    from providers.models import Offer

    offers = {
        service: Offer.objects.filter(service=service, adapter="demo", is_active=True).first()
        for service in ("image", "video", "avatar")
    }
    missing = [s for s, o in offers.items() if o is None]
    if missing:
        raise RuntimeError(f"the seeded catalogue has no demo model for {missing}")
    presets = list(StylePreset.objects.values_list("slug", flat=True)) or ["none"]
    password = make_password("bench-pass-word-123")
    people = User.objects.bulk_create(
        [
            User(email=f"bench{i}@mirsam.local", username=f"bench{i}", password=password, preferred_language="en")
            for i in range(users)
        ]
    )
    running = []
    for user in people:
        credits_grant(  # bought credits, as a paying creator's (no free-credit job cap)
            user=user, amount=500, idempotency_key=f"bench-grant:{user.pk}", reason="benchmark", kind=EntryKind.PURCHASE
        )
        rows = []
        for i in range(jobs_per_user):
            service = SERVICE_MIX[i % len(SERVICE_MIX)]
            status = "processing" if i == jobs_per_user - 1 else STATUS_MIX[i % len(STATUS_MIX)]
            params = {"prompt": f"benchmark prompt {i}: a lighthouse at dusk", "outputs": 1, "aspect_ratio": "1:1"}
            if service == "avatar":
                params.update({"preset": presets[i % len(presets)], "style": "cartoon", "details": "red scarf"})
            rows.append(
                Job(
                    user=user,
                    offer=offers[service],
                    service=service,
                    status=status,
                    params=params,
                    price_credits=2,
                    charged_credits=2 if status == "succeeded" else 0,
                )
            )
        with transaction.atomic():
            jobs = Job.objects.bulk_create(rows, batch_size=500)
            Asset.objects.bulk_create(
                [
                    Asset(
                        job=job,
                        user=user,
                        index=0,
                        file=f"outputs/{user.pk}/{job.pk}/bench.{'mp4' if job.service == 'video' else 'png'}",
                        poster=f"outputs/{user.pk}/{job.pk}/poster.png" if job.service == "video" else "",
                        content_type="video/mp4" if job.service == "video" else "image/png",
                        size_bytes=50_000,
                        width=1024,
                        height=1024,
                    )
                    for job in jobs
                    if job.status == "succeeded"
                ],
                batch_size=500,
            )
        running.append(jobs[-1].pk)
    with connection.cursor() as cursor:
        # A real history is spread over time: one job a minute, the running one
        # newest, started two minutes ago (a card younger than a minute reads
        # "N seconds ago" and changes, ETag and all, every second).
        cursor.execute(
            "UPDATE generation_job SET created_at = now() - (max_id.m - generation_job.id + 2) * interval '1 minute', "
            "updated_at = now() - (max_id.m - generation_job.id + 2) * interval '1 minute' "
            "FROM (SELECT user_id, max(id) AS m FROM generation_job GROUP BY user_id) AS max_id "
            "WHERE max_id.user_id = generation_job.user_id"
        )
    connection.close()
    # Outside a transaction: VACUUM sets the hint bits and visibility map of the
    # fresh rows (else the first reads write them) and autovacuum has nothing
    # left to do during the measurement; CHECKPOINT flushes the seeding's WAL.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
        cursor.execute("CHECKPOINT")
    connection.close()
    return sign_in(people), running


def reuse(users: int) -> tuple[list[str], list[int]]:
    """The users and running jobs a kept database (``--keep-db``) already holds, signed in anew."""
    from accounts.models import User
    from generation.models import Job

    people = list(User.objects.filter(email__startswith="bench").order_by("pk")[:users])
    running = [
        Job.objects.filter(user=user, status="processing").order_by("-pk").values_list("pk", flat=True).first()
        for user in people
    ]
    if len(people) < users or None in running:
        raise RuntimeError(f"{DB_NAME} holds no seeded history for {users} users: run once without --reuse-db")
    return sign_in(people), running


# --- load generators ------------------------------------------------------------

LUA = """
local targets = %(targets)s
local n = #targets
local i = 0
local threads = 0
local all = {}
local etags = {}
fresh, not_modified = 0, 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
  table.insert(all, thread)
end
function init(args)
  i = ((tid or 0) * 7) %% n
  for _, t in ipairs(targets) do etags[t[1]] = t[4] end
end
function request()
  i = i %% n + 1
  local t = targets[i]
  local headers = {["Cookie"] = t[2], ["Accept"] = "text/html"}
  if t[3] then headers["HX-Request"] = "true" end
  if etags[t[1]] then headers["If-None-Match"] = etags[t[1]] end
  return wrk.format("GET", t[1], headers)
end
%(response)s
function done(summary, latency, requests)
  local e = summary.errors
  local fresh_all, not_modified_all = 0, 0
  for _, thread in ipairs(all) do
    fresh_all = fresh_all + (thread:get("fresh") or 0)
    not_modified_all = not_modified_all + (thread:get("not_modified") or 0)
  end
  io.write(string.format(
    'BENCHJSON {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p95_us": %%d, "p99_us": %%d, "max_us": %%d, '
    .. '"status": %%d, "connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, '
    .. '"fresh": %%d, "not_modified": %%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, e.status, e.connect, e.read, e.write, e.timeout, fresh_all, not_modified_all))
end
"""

# For a page polled with If-None-Match: like the browser's cache, each wrk
# thread keeps the ETag of the newest copy of each card (a 200 carries it; the
# card's own hx-get names its path) and asks with that one next time.
LUA_KEEP_ETAGS = """
function response(status, headers, body)
  if status == 304 then
    not_modified = not_modified + 1
  elseif status == 200 then
    fresh = fresh + 1
    local path = string.match(body, 'hx%-get="(/jobs/%d+/card/)"')
    if path and headers["ETag"] then etags[path] = headers["ETag"] end
  end
end
"""


def _lua_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_wrk(page: Page, cookies: list[str], *, base: str, clients: int, seconds: float, work: Path) -> Result:
    etags = page.etags or [None] * len(page.paths)
    targets = ",\n".join(
        f"  {{{_lua_string(path)}, {_lua_string(cookie)}, {'true' if page.htmx else 'false'}, "
        f"{_lua_string(etag) if etag else 'nil'}}}"
        for path, cookie, etag in zip(page.paths, cookies, etags, strict=True)
    )
    script = work / f"wrk-{re.sub(r'[^a-z0-9]+', '-', page.name.lower())}.lua"
    response = LUA_KEEP_ETAGS if page.etags is not None else ""
    script.write_text(LUA % {"targets": "{\n" + targets + "\n}", "response": response})
    threads = max(1, min(clients, 2))
    out = subprocess.run(  # noqa: S603 - wrk against loopback only
        [
            shutil.which("wrk") or "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCHJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed for {page.name}:\n{out.stdout}\n{out.stderr}")
    data = json.loads(line.removeprefix("BENCHJSON "))
    errors = data["status"] + data["connect"] + data["read"] + data["write"] + data["timeout"]
    return Result(
        page=page.name,
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p95_ms=data["p95_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        errors=errors,
        extra={
            "max_ms": data["max_us"] / 1000,
            "errors": {k: data[k] for k in ("status", "connect", "read", "timeout")},
            **({"fresh": data["fresh"], "not_modified": data["not_modified"]} if page.etags is not None else {}),
        },
    )


def run_python(page: Page, cookies: list[str], *, base: str, clients: int, seconds: float, work: Path) -> Result:
    """Closed loop like wrk: ``clients`` threads, each a requests.Session of
    one signed-in user, one request after another until the time is up."""
    import requests

    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    answers: list[Counter] = [Counter() for _ in range(clients)]
    start = time.perf_counter()
    end = start + seconds

    def client(n: int) -> None:
        k = n % len(cookies)
        with requests.Session() as s:
            s.cookies.set("sessionid", cookies[k].split("=", 1)[1], domain=HOST)
            headers = {"HX-Request": "true"} if page.htmx else {}
            if page.etags:
                headers["If-None-Match"] = page.etags[k]
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                try:
                    r = s.get(base + page.paths[k], headers=headers, timeout=10, allow_redirects=False)
                    ok = r.status_code in (200, 304)
                    answers[n][r.status_code] += 1
                    if page.etags and r.status_code == 200 and "ETag" in r.headers:
                        headers["If-None-Match"] = r.headers["ETag"]  # the browser keeps the newest copy
                except requests.RequestException:
                    ok = False
                latencies[n].append((time.perf_counter() - t0) * 1000)
                errors[n] += not ok

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - start
    flat = [x for lst in latencies for x in lst]
    return Result(
        page=page.name,
        requests=len(flat),
        seconds=elapsed,
        p50_ms=percentile(flat, 50),
        p95_ms=percentile(flat, 95),
        p99_ms=percentile(flat, 99),
        errors=sum(errors),
        extra={
            "max_ms": max(flat) if flat else 0,
            **(
                {"fresh": sum(c[200] for c in answers), "not_modified": sum(c[304] for c in answers)}
                if page.etags is not None
                else {}
            ),
        },
    )


# --- checks before measuring ----------------------------------------------------


def preflight(pages: list[Page], cookies: list[str], base: str, jobs_per_user: int) -> None:
    """Every page answers 200 to every user, signed in (no redirect to the
    login page), and shows what it should: the history's size, a polling card.
    A page with ``etags`` gets the ETag of each answer, and must answer 304
    when asked with it."""
    import requests

    for page in pages:
        etags = []
        for path, cookie in zip(page.paths, cookies, strict=True):
            headers = {"Cookie": cookie, **({"HX-Request": "true"} if page.htmx else {})}
            r = requests.get(base + path, headers=headers, timeout=30, allow_redirects=False)
            if r.status_code != 200:
                raise RuntimeError(f"{page.name} {path}: HTTP {r.status_code} {r.headers.get('Location', '')}")
            if page.etags is not None:
                etags.append(r.headers["ETag"])
                again = requests.get(base + path, headers={**headers, "If-None-Match": etags[-1]}, timeout=30)
                if again.status_code != 304:
                    raise RuntimeError(f"{page.name} {path}: HTTP {again.status_code} to its own ETag, not 304")
            body = r.text
            if page.name == "My creations" and f"{jobs_per_user} creations" not in body:
                raise RuntimeError(f"My creations does not show {jobs_per_user} creations")
            if page.name == "job poll" and 'hx-trigger="every 2s"' not in body:
                raise RuntimeError("the polled job card is not a running one")
            if page.name in {"dashboard", "Image page", "My creations"} and "/accounts/logout/" not in body:
                raise RuntimeError(f"{page.name}: not signed in")
        if page.etags is not None:
            page.etags = etags


# --- main -----------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=30, help="seconds measured per page in all (default 30)")
    parser.add_argument("--rounds", type=int, default=10, help="slices the duration is split into (default 10)")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of unmeasured load per page first")
    parser.add_argument("--clients", type=int, default=20, help="concurrent signed-in clients (default 20)")
    parser.add_argument("--users", type=int, default=20, help="users seeded (default 20)")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in each user's history (default 1000)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (WEB_CONCURRENCY, default 4)")
    parser.add_argument("--threads", type=int, default=2, help="threads per gunicorn worker (default 2)")
    parser.add_argument(
        "--max-requests",
        type=int,
        default=0,
        help="GUNICORN_MAX_REQUESTS (default 0: no worker recycling during the measurement)",
    )
    parser.add_argument(
        "--conn-max-age",
        type=int,
        default=60,
        help="CONN_MAX_AGE through DATABASE_URL (default 60, as deployed; 0: a new connection per request)",
    )
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--keep-db", action="store_true", help="keep the mirsam_bench database afterwards")
    parser.add_argument(
        "--reuse-db",
        action="store_true",
        help="measure the database a --keep-db run left (no migrate, no seeding; implies --keep-db)",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the run's folder (logs, timings) afterwards")
    parser.add_argument("--time-limit", type=float, default=900, help="abort after this many seconds (default 900)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --client python")
    if args.reuse_db:
        args.keep_db = True

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="mirsam-bench-http-"))
    children = Children()

    def cleanup(*, keep_logs: bool = False) -> None:
        children.stop_all()
        if not args.keep_db:
            drop_database()
        if keep_logs or args.keep_logs:
            print(f"logs kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)

    time_limit(args.time_limit, children, cleanup)
    port = free_port()
    env = production_env(
        work=work,
        DATABASE_URL=f"{PG_URL}/{DB_NAME}?conn_max_age={args.conn_max_age}",
        DJANGO_SETTINGS_MODULE="bench.settings",
        PORT=str(port),
        BIND_HOST=HOST,
        WEB_CONCURRENCY=str(args.workers),
        GUNICORN_THREADS=str(args.threads),
        GUNICORN_MAX_REQUESTS=str(args.max_requests),
    )
    info = machine()
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = ["?"]
    print(f"machine: {machine_line(info)}; load average at start {' '.join(load)}", flush=True)
    try:
        if args.reuse_db:
            print(f"database: reusing {DB_NAME}, collecting static files…", flush=True)
            manage(env, "collectstatic", "--noinput")
            django_setup(env, "bench.settings")
            sessions, running = reuse(args.users)
        else:
            print(f"database: creating {DB_NAME}, migrating, collecting static files…", flush=True)
            recreate_database()
            manage(env, "migrate", "--noinput")
            manage(env, "collectstatic", "--noinput")
            django_setup(env, "bench.settings")
            t0 = time.monotonic()
            sessions, running = seed(args.users, args.jobs)
            print(
                f"seeded: {args.users} users × {args.jobs:,} jobs ({args.users * args.jobs:,} jobs) "
                f"in {time.monotonic() - t0:.1f} s",
                flush=True,
            )
        cookies = [f"sessionid={key}" for key in sessions]

        log = work / "gunicorn.log"
        gunicorn = children.start([str(BIN / "gunicorn"), "config.wsgi"], env=env, log=log)
        base = f"http://{HOST}:{port}"
        wait_http(base + "/healthz", proc=gunicorn)
        wait_http(base + "/bench/floor/", proc=gunicorn)
        print(
            f"gunicorn: {args.workers} workers × {args.threads} threads on {base} "
            f"(gunicorn.conf.py, DEBUG=false, max_requests={args.max_requests}, CONN_MAX_AGE={args.conn_max_age}); "
            f"client: {client}, {args.clients} connections; {args.rounds} rounds of "
            f"{args.duration / args.rounds:.0f} s per page after {args.warmup:.0f} s warm-up",
            flush=True,
        )

        n = len(cookies)
        pages = [
            Page(FLOOR, ["/bench/floor/"] * n),
            Page("landing", ["/"] * n),
            Page("dashboard", ["/dashboard/"] * n),
            Page("Image page", ["/image/"] * n),
            Page("My creations", ["/creations/"] * n),
            Page("job poll", [f"/jobs/{job_id}/card/" for job_id in running], htmx=True, etags=[]),
        ]
        preflight(pages, cookies, base, args.jobs)
        run = run_wrk if client == "wrk" else run_python
        if args.warmup > 0:  # every page once, so every worker has run every code path and query
            for page in pages:
                run(page, cookies, base=base, clients=args.clients, seconds=args.warmup, work=work)
        # The host's CPU steal swings between 0 and 50 % within seconds, so a
        # page is compared only with the floor measured right before and right
        # after it: rounds of floor, page, floor, next page, …, floor, in short
        # slices; each page slice's ratio is its p95 over the mean of the two
        # floors around it, and the median of those ratios is reported.
        rounds: dict[str, list[Result]] = {page.name: [] for page in pages}
        ratios: dict[str, list[float]] = {page.name: [] for page in pages}
        whole_run = CpuMeter()
        slice_s = args.duration / args.rounds

        def measure(page: Page, r: int) -> Result:
            steal = CpuMeter()
            result = run(page, cookies, base=base, clients=args.clients, seconds=slice_s, work=work)
            result.extra["steal_percent"] = steal.percent()
            rounds[page.name].append(result)
            answers = (
                f"  304: {result.extra['not_modified']}, 200: {result.extra['fresh']}"
                if "not_modified" in result.extra
                else ""
            )
            print(
                f"  round {r + 1}  {page.name:<14} {result.requests:>6} requests  p50 {result.p50_ms:7.1f} ms  "
                f"p95 {result.p95_ms:7.1f} ms  {result.rps:7.1f} req/s  errors {result.errors}  "
                f"CPU steal {result.extra['steal_percent']:.0f} %{answers}",
                flush=True,
            )
            return result

        floor_page = pages[0]
        before = measure(floor_page, 0)
        for r in range(args.rounds):
            for page in pages[1:]:
                result = measure(page, r)
                after = measure(floor_page, r)
                floor_p95 = (before.p95_ms + after.p95_ms) / 2
                if floor_p95:
                    ratios[page.name].append(result.p95_ms / floor_p95)
                before = after
        steal_percent = whole_run.percent()
        if gunicorn.poll() is not None:
            raise RuntimeError(f"gunicorn exited during the run ({gunicorn.returncode}); see {log}")
        error_lines = [ln for ln in log.read_text(errors="replace").splitlines() if '"level": "ERROR"' in ln]
    except BaseException:
        cleanup(keep_logs=True)
        raise
    children.stop_all()

    ratios[FLOOR] = [1.0]
    print()
    print(
        f"HTTP load — {args.clients} signed-in clients, {args.rounds} rounds × {slice_s:.0f} s per page "
        f"(the floor between every two pages), {client}, "
        f"gunicorn {args.workers} workers × {args.threads} threads, CONN_MAX_AGE={args.conn_max_age}"
    )
    print(f"machine: {machine_line(info)}")
    print(
        "p50 / p95: medians of the slices; p95 / floor: median of each slice's p95 over the mean p95 of the "
        "floor slices right before and after it"
    )
    print("| page | requests | req/s | p50 ms | p95 ms | p95 / floor p95 | ≤ 2× |")
    print("|---|--:|--:|--:|--:|--:|---|")
    table, missed = [], []
    for page in pages:
        results = rounds[page.name]
        ratio = percentile(ratios[page.name], 50) if ratios[page.name] else float("nan")
        requests = sum(res.requests for res in results)
        rps = requests / sum(res.seconds for res in results)
        p50 = percentile([res.p50_ms for res in results], 50)
        p95 = percentile([res.p95_ms for res in results], 50)
        met = "" if page.name == FLOOR else ("yes" if ratio <= 2 else "**no**")
        if met == "**no**":
            missed.append(page.name)
        print(f"| {page.name} | {requests} | {rps:.1f} | {p50:.1f} | {p95:.1f} | {ratio:.2f}× | {met} |")
        table.append(
            {
                "page": page.name,
                "requests": requests,
                "rps": rps,
                "p50_ms": p50,
                "p95_ms": p95,
                "p95_over_floor": ratio,
                "rounds": [{**res.__dict__, "rps": res.rps} for res in results],
            }
        )
    for page in pages:
        if page.etags is not None:
            not_modified = sum(res.extra.get("not_modified", 0) for res in rounds[page.name])
            fresh = sum(res.extra.get("fresh", 0) for res in rounds[page.name])
            share = 100 * not_modified / (not_modified + fresh) if not_modified + fresh else 0
            print(
                f"{page.name}: {not_modified} answered 304 Not Modified ({share:.1f} %), {fresh} answered 200 "
                "(the card changed, e.g. its '… ago'; the client then asks with the new ETag)"
            )
    print("target p95 ≤ 2 × the floor's: " + ("met" if not missed else f"MISSED by {missed}"))
    print(f"CPU steal (time the host gave other guests) during the measurement: {steal_percent:.1f} %")
    failed = sum(res.errors for results in rounds.values() for res in results)
    print(f"errors: {failed} failed requests, {len(error_lines)} ERROR lines in gunicorn's log")
    for line in error_lines[:5]:
        print("  " + line[:300])
    print(f"total time {time.monotonic() - started:.0f} s")
    if args.json:
        write_json(
            args.json,
            {
                "machine": info,
                "client": client,
                "clients": args.clients,
                "duration": args.duration,
                "rounds": args.rounds,
                "steal_percent": steal_percent,
                "results": table,
            },
        )
    cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
