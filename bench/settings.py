"""Settings of the benchmarks' gunicorn: the production settings from the
environment (config.settings) plus ``bench.urls``, which adds the "floor"
view. Used only by bench/http_load.py (DJANGO_SETTINGS_MODULE=bench.settings)."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
