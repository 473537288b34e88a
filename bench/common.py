"""What the benchmarks share: the production-like environment, the
``mirsam_bench`` database (another name where a benchmark needs its own),
child processes that always get stopped, a hard time limit, the fake kie.ai
and Celery workers, seeded and signed-in users, percentiles and the machine
line. Everything stays on 127.0.0.1."""

from __future__ import annotations

import atexit
import json
import math
import os
import platform
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
PG_URL = f"postgres://postgres@{HOST}:5432"
DB_NAME = "mirsam_bench"
REDIS = f"redis://{HOST}:6379"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def production_env(
    *, work: Path, broker_db: int = 4, cache_db: int = 3, db_name: str = DB_NAME, **extra: str
) -> dict[str, str]:
    """The environment of every process a benchmark starts: DEBUG off and the
    production defaults, except what plain HTTP on loopback needs (no HTTPS
    redirect, no secure-only cookies, no HSTS) and limits high enough not to
    interfere (the benchmark measures speed, not our 429s)."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": f"{PG_URL}/{db_name}",
        "CACHE_URL": f"{REDIS}/{cache_db}",
        "CELERY_BROKER_URL": f"{REDIS}/{broker_db}",
        "MIRSAM_VAR_DIR": str(work / "var"),
        "MEDIA_ROOT": str(work / "media"),
        "STATIC_ROOT": str(work / "static"),
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "MIRSAM_RATE_LOGIN": "100000/m/ip",
        "MIRSAM_RATE_LOGIN_FAILED": "100000/m/ip",
        "MIRSAM_RATE_SIGNUP": "100000/m/ip",
        "MIRSAM_RATE_RESET_PASSWORD": "100000/m/ip",
        "MIRSAM_RATE_GENERATE": "",
        "MIRSAM_RATE_CALLBACK": "",
        "SENTRY_DSN": "",
        "KIE_API_KEY": "",
        "PYTHONUNBUFFERED": "1",
    }
    env.update(extra)
    return env


def django_setup(env: dict[str, str], settings_module: str = "config.settings") -> None:
    """Configure Django in this process with ``env`` (call once, before any model import)."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def recreate_database(name: str = DB_NAME) -> None:
    """Drop and create the database ``name`` (PostgreSQL on 127.0.0.1, user postgres)."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(name: str = DB_NAME) -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrations_fingerprint() -> str:
    """A hash of every migration file of the repository (names and contents)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def migrated_database(env: dict[str, str], name: str) -> bool:
    """Create the database ``name``, migrated, from ``<name>_template``: a
    database migrated once and kept between runs, made again whenever a
    migration file changed (its comment holds a hash of them all). Migrating
    takes a minute or two on this machine, copying a template a second.
    ``env`` is the benchmark's environment (its DATABASE_URL is replaced for
    the template's migration). Returns whether the template was (re)made."""
    import psycopg

    template, fingerprint = f"{name}_template", _migrations_fingerprint()
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s", [template]
        ).fetchone()
    made = row is None or row[0] != fingerprint
    if made:
        recreate_database(template)
        manage({**env, "DATABASE_URL": f"{PG_URL}/{template}"}, "migrate", "--noinput")
        with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
            conn.execute(f"COMMENT ON DATABASE \"{template}\" IS '{fingerprint}'")
    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return made


def manage(env: dict[str, str], *args: str, quiet: bool = True) -> subprocess.CompletedProcess:
    """``manage.py <args>`` in a child process with ``env``; raises on failure."""
    out = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")
    if not quiet:
        print(out.stdout.strip())
    return out


class Children:
    """Child processes, each in its own session (so its own children go with
    it), stopped on exit, on Ctrl-C, on SIGTERM and by the time limit."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self._lock = threading.Lock()
        atexit.register(self.stop_all)

    def start(self, args: Sequence[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
        with log.open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own interpreter and tools
                list(args), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        with self._lock:
            self.procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen, timeout: float = 20) -> None:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
            except ProcessLookupError:
                pass
        # Whatever its group left behind (a forked child that outlived its parent).
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop_all(self) -> None:
        with self._lock:
            procs, self.procs = self.procs, []
        for proc in reversed(procs):
            self.stop(proc)


def time_limit(seconds: float, children: Children, cleanup: Callable[[], None] | None = None) -> None:
    """Abort the whole benchmark after ``seconds``: stop the children, run
    ``cleanup``, exit with status 3. Also turns SIGTERM into a clean stop."""

    def abort() -> None:
        print(f"\nABORT: the benchmark ran past its limit of {seconds:.0f} s", file=sys.stderr, flush=True)
        children.stop_all()
        if cleanup is not None:
            try:
                cleanup()
            except Exception as exc:  # exiting anyway
                print(f"cleanup failed: {exc}", file=sys.stderr)
        os._exit(3)

    timer = threading.Timer(seconds, abort)
    timer.daemon = True
    timer.start()

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


def wait_http(url: str, *, seconds: float = 60, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the process serving {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def wait_tcp(port: int, seconds: float = 20) -> None:
    """Until something accepts connections on 127.0.0.1:``port``; raises after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on {HOST}:{port}")


def start_kie(
    children: Children, *, env: dict[str, str], port: int, log: Path, key: str, hmac_key: str = "", **options: str
) -> subprocess.Popen:
    """The tests' kie.ai fake as a process (``python -m tests.support.kie``)
    on ``port``, its calls log in ``log``; ``options`` are its command-line
    options without the dashes (``generation="1-3"``, ``image_bytes="1500000"``:
    ``--help`` lists them). Returns once it accepts connections."""
    args = [sys.executable, "-m", "tests.support.kie", "--port", str(port), "--log", str(log), "--key", key]
    args += ["--hmac-key", hmac_key]
    for name, value in options.items():
        args += ["--" + name.replace("_", "-"), value]
    proc = children.start(args, env=env, log=log.with_name(log.stem + "-server.log"))
    wait_tcp(port)
    return proc


def start_workers(
    children: Children, *, env: dict[str, str], queue: str, names: list[str], concurrency: int, work: Path
) -> list[subprocess.Popen]:
    """One ``celery -A bench.worker_app worker`` (prefork, ``concurrency``
    children) per name, consuming ``queue``, logs in ``work/<name>.log``;
    returns once every one answers a ping."""
    workers = [
        children.start(
            [str(BIN / "celery"), "-A", "bench.worker_app", "worker", "-Q", queue, "--concurrency", str(concurrency)]
            + ["--loglevel", "INFO", "-n", f"{name}@%h"],
            env=env,
            log=work / f"{name}.log",
        )
        for name in names
    ]
    wait_workers(names)
    return workers


def wait_workers(names: list[str], seconds: float = 60) -> None:
    """Until a Celery worker of each name answers a ping (Django set up with the broker)."""
    from config.celery import app

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        seen = {name for reply in replies for name in reply}
        if all(any(s.startswith(n + "@") for s in seen) for n in names):
            return
        time.sleep(0.5)
    raise RuntimeError(f"the workers {names} did not answer a ping within {seconds:.0f} s")


def worker_error_lines(logs: Sequence[Path]) -> list[str]:
    """The lines of the workers' logs that report an error or a traceback (first 300 characters)."""
    errors = []
    for log in logs:
        for line in log.read_text(errors="replace").splitlines():
            if '"level": "ERROR"' in line or "Traceback" in line:
                errors.append(line[:300])
    return errors


def forget_queue(queue: str, broker_url: str) -> None:
    """Remove this run's queue and kombu's bindings of it from the broker's Redis."""
    import redis

    try:
        client = redis.Redis.from_url(broker_url, socket_timeout=5)
        client.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        client.close()
    except redis.RedisError as exc:
        print(f"could not remove the queue {queue} from Redis: {exc}", file=sys.stderr)


def seed_users(count: int, credits_each: int, *, prefix: str = "pipe") -> list:
    """``count`` users (``<prefix><n>@mirsam.local``), each granted
    ``credits_each`` bought credits; the users (Django set up)."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import User
    from credits.models import EntryKind
    from credits.services import credits_grant

    password = make_password("bench-pass-word-123")
    users = User.objects.bulk_create(
        [User(email=f"{prefix}{i}@mirsam.local", username=f"{prefix}{i}", password=password) for i in range(count)]
    )
    for user in users:
        # Bought credits: a user on free credits runs only MIRSAM_FREE_CONCURRENT_JOBS jobs at once.
        credits_grant(
            user=user,
            amount=credits_each,
            idempotency_key=f"bench-grant:{user.pk}",
            reason="benchmark",
            kind=EntryKind.PURCHASE,
        )
    return users


def sign_in(people: list) -> list[str]:  # people: accounts.User instances
    """A signed-in session for each user (made with this process's SECRET_KEY); their keys."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    keys = []
    for user in people:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        keys.append(session.session_key)
    return keys


def prove_nothing_lost(
    *,
    jobs: Sequence[dict],
    calls: Sequence[dict],
    task_map: Sequence[tuple[str, int]],
    users: Sequence,
    credits_each: int,
    media_root: Path,
) -> dict:
    """Whether a run lost nothing and charged nothing twice (Django set up):
    every job (dicts with ``id``, ``user_id``, ``status``, ``price_credits``)
    final and succeeded, exactly one hold and one capture in the ledger per
    job, every hold captured at the job's price, every wallet of ``users``
    (granted ``credits_each``) held back to 0 and down by its jobs' prices,
    exactly one stored, non-empty output per job, one createTask call per job
    (``calls``: the fake kie.ai's calls log; ``task_map``: (provider task id,
    job id)). ``proven`` says whether all of it holds."""
    from django.db.models import Count

    from credits.models import Hold, LedgerEntry, Wallet
    from generation.models import Asset

    job_ids = [j["id"] for j in jobs]
    price = {j["id"]: j["price_credits"] for j in jobs}
    statuses = Counter(j["status"] for j in jobs)
    refs = {f"job:{jid}": jid for jid in job_ids}
    kinds: dict[str, Counter] = defaultdict(Counter)
    for row in LedgerEntry.objects.filter(reference__in=refs).values("reference", "kind").annotate(n=Count("id")):
        kinds[row["reference"]][row["kind"]] += row["n"]
    bad_ledger = [ref for ref in refs if kinds.get(ref) != Counter({"hold": 1, "capture": 1})]
    holds = Counter(Hold.objects.filter(reference__in=refs).values_list("status", flat=True))
    holds_short = sum(
        1
        for ref, amount in Hold.objects.filter(reference__in=refs, status="captured").values_list(
            "reference", "captured_amount"
        )
        if amount != price[refs[ref]]
    )
    spent: Counter = Counter()
    for j in jobs:
        spent[j["user_id"]] += j["price_credits"]
    wallets_off = [
        w.user_id
        for w in Wallet.objects.filter(user__in=users)
        if w.held != 0 or w.balance != credits_each - spent[w.user_id]
    ]
    assets = Counter(
        dict(
            Asset.objects.filter(job_id__in=job_ids)
            .values_list("job_id")
            .annotate(n=Count("id"))
            .values_list("job_id", "n")
        )
    )
    missing_assets = [jid for jid in job_ids if assets.get(jid) != 1]
    files = list(Asset.objects.filter(job_id__in=job_ids).values_list("file", flat=True))
    missing_files = [f for f in files if not (media_root / f).is_file() or (media_root / f).stat().st_size == 0]
    by_task = dict(task_map)
    creates: Counter = Counter(by_task.get(c["task"]) for c in calls if c["op"] == "create")
    creates_per_job = Counter(creates.get(jid, 0) for jid in job_ids)
    creates_total = sum(1 for c in calls if c["op"] == "create")
    unmatched = sum(1 for c in calls if c.get("task") and c["task"] not in by_task)
    proven = (
        statuses == Counter({"succeeded": len(jobs)})
        and not bad_ledger
        and holds_short == 0
        and not wallets_off
        and not missing_assets
        and not missing_files
        and creates_per_job == Counter({1: len(jobs)})
        and creates_total == len(jobs)
    )
    return {
        "jobs": len(jobs),
        "statuses": dict(statuses),
        "all_final_and_succeeded": statuses == Counter({"succeeded": len(jobs)}),
        "jobs_with_ledger_other_than_1_hold_1_capture": len(bad_ledger),
        "holds": dict(holds),
        "holds_not_fully_captured": holds_short,
        "wallets_off": len(wallets_off),
        "jobs_without_exactly_one_asset": len(missing_assets),
        "missing_or_empty_files": len(missing_files),
        "creates_per_job": dict(creates_per_job),
        "creates_total": creates_total,
        "provider_calls_unmatched": unmatched,
        "proven": proven,
    }


def read_jsonl(paths: Sequence[Path]) -> list[dict]:
    """Every JSON line of ``paths``, in order (blank lines skipped)."""
    rows = []
    for path in paths:
        for line in path.read_text().splitlines():
            if line.strip():
                rows.append(json.loads(line))
    return rows


def percentile(values: Sequence[float], p: float) -> float:
    """The ``p``-th percentile (0–100) by linear interpolation; NaN when empty."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    low, high = math.floor(k), math.ceil(k)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, OS, Python, Django, PostgreSQL and Redis versions."""
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    mem_kb = next(
        (int(line.split()[1]) for line in _read("/proc/meminfo").splitlines() if line.startswith("MemTotal:")), 0
    )
    info = {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "ram": f"{mem_kb / 1024 / 1024:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
    }
    try:
        import django

        info["django"] = django.get_version()
    except ImportError:
        info["django"] = "?"
    try:
        import psycopg

        with psycopg.connect(f"{PG_URL}/postgres") as conn:
            info["postgresql"] = conn.execute("SHOW server_version").fetchone()[0].split()[0]
    except Exception:  # informative only
        info["postgresql"] = "?"
    try:
        import redis

        info["redis"] = redis.Redis.from_url(REDIS, socket_timeout=2).info("server")["redis_version"]
    except Exception:
        info["redis"] = "?"
    return info


def _ppid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[1])


def process_tree(root: int) -> list[int]:
    """``root`` and every descendant (prefork children, server workers), from /proc."""
    parents: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            ppid = _ppid(int(entry))
            if ppid is not None:
                parents[ppid].append(int(entry))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(parents.get(pid, []))
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_s(pid: int) -> float:
    """The CPU time (user + system, seconds) process ``pid`` has used so far,
    from /proc/<pid>/stat (any user's process); 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def _cpu_ticks() -> tuple[int, int, int]:
    """(all ticks, steal ticks, idle + iowait ticks) of the first line of
    /proc/stat; zeros elsewhere."""
    fields = _read("/proc/stat").split("\n", 1)[0].split()
    if len(fields) < 9 or fields[0] != "cpu":
        return 0, 0, 0
    ticks = [int(x) for x in fields[1:9]]  # user nice system idle iowait irq softirq steal
    return sum(ticks), ticks[7], ticks[3] + ticks[4]


class CpuMeter:
    """The machine's CPU time since the meter was made, from /proc/stat, in
    percent: how much the host gave to someone else ("steal": on a shared host
    it swings from 0 to tens of percent within minutes, and every figure
    measured meanwhile swings with it) and how busy the cores were."""

    def __init__(self) -> None:
        self._start = _cpu_ticks()

    def percent(self) -> float:
        total, steal, _idle = _cpu_ticks()
        elapsed = total - self._start[0]
        return 100.0 * (steal - self._start[1]) / elapsed if elapsed > 0 else 0.0

    def busy_percent(self) -> float:
        """How much of all cores' time went to work (ours and anyone's on
        this machine), not idle or waiting, since the meter was made."""
        total, _steal, idle = _cpu_ticks()
        elapsed = total - self._start[0]
        return 100.0 * (1 - (idle - self._start[2]) / elapsed) if elapsed > 0 else 0.0


def machine_line(info: dict[str, str]) -> str:
    return (
        f"{info['cpu']}, {info['cores']} cores, {info['ram']} RAM, {info['os']}; Python {info['python']}, "
        f"Django {info['django']}, PostgreSQL {info['postgresql']}, Redis {info['redis']}"
    )


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2, default=str))
