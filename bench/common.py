"""What both benchmarks share: the production-like environment, the
``mirsam_bench`` database, child processes that always get stopped, a hard
time limit, percentiles and the machine line. Everything stays on 127.0.0.1."""

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


def production_env(*, work: Path, broker_db: int = 4, **extra: str) -> dict[str, str]:
    """The environment of every process a benchmark starts: DEBUG off and the
    production defaults, except what plain HTTP on loopback needs (no HTTPS
    redirect, no secure-only cookies, no HSTS) and limits high enough not to
    interfere (the benchmark measures speed, not our 429s)."""
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": "bench-" + secrets.token_urlsafe(48),
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": f"{PG_URL}/{DB_NAME}",
        "CACHE_URL": f"{REDIS}/3",
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


def recreate_database() -> None:
    """Drop and create ``mirsam_bench`` (PostgreSQL on 127.0.0.1, user postgres)."""
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def drop_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG_URL}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


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
