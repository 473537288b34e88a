"""The kie.ai fake: one wire format (docs/kie.md §1, §2.1–§2.3), two
ways to serve it.

* :mod:`.wire` — paths, ids, keys and every body kie.ai sends, as pure
  builders: ``envelope``, ``created``, ``record`` / ``callback_body``
  (Market), ``veo_record`` / ``veo_callback_body``, ``runway_record`` /
  ``runway_callback_body``, ``uploaded``, ``callback_signature`` /
  ``signed_headers``.
* :mod:`.media` — what the CDN serves: ``png_bytes``, ``gradient_png``, ``mp4_bytes``.
* :mod:`.scripted` — kie.ai scripted per test on pytest-httpserver:
  ``kie_configure``, ``serve_png``, ``serve_mp4``, ``requests_to``, ``own_server``.
* :mod:`.server` — :class:`KieFake`, a kie.ai that keeps tasks and answers
  by itself (latency, CDN, callbacks, calls log), in a thread or as
  ``python -m tests.support.kie`` for the benchmarks.

Everything is importable from here: ``from tests.support.kie import CREATE, created, kie_configure``.
"""

from __future__ import annotations

from .media import gradient_png, mp4_bytes, png_bytes
from .scripted import kie_configure, own_server, requests_to, serve_mp4, serve_png
from .server import KieFake
from .wire import (
    CDN,
    CREATE,
    CREDIT,
    HMAC_KEY,
    KIE_KEY,
    MARKET_MODEL,
    MP4_PATH,
    PNG_PATH,
    POSTER_PATH,
    RECORD,
    RUNWAY_EXTEND,
    RUNWAY_GENERATE,
    RUNWAY_RECORD,
    RUNWAY_TASK_ID,
    TASK_ID,
    UPLOAD,
    VEO_EXTEND,
    VEO_GENERATE,
    VEO_RECORD,
    VEO_TASK_ID,
    callback_body,
    callback_signature,
    created,
    envelope,
    record,
    runway_callback_body,
    runway_record,
    signed_headers,
    uploaded,
    veo_callback_body,
    veo_record,
)

__all__ = [
    "CDN",
    "CREATE",
    "CREDIT",
    "HMAC_KEY",
    "KIE_KEY",
    "MARKET_MODEL",
    "MP4_PATH",
    "PNG_PATH",
    "POSTER_PATH",
    "RECORD",
    "RUNWAY_EXTEND",
    "RUNWAY_GENERATE",
    "RUNWAY_RECORD",
    "RUNWAY_TASK_ID",
    "TASK_ID",
    "UPLOAD",
    "VEO_EXTEND",
    "VEO_GENERATE",
    "VEO_RECORD",
    "VEO_TASK_ID",
    "KieFake",
    "callback_body",
    "callback_signature",
    "created",
    "envelope",
    "gradient_png",
    "kie_configure",
    "mp4_bytes",
    "own_server",
    "png_bytes",
    "record",
    "requests_to",
    "runway_callback_body",
    "runway_record",
    "serve_mp4",
    "serve_png",
    "signed_headers",
    "uploaded",
    "veo_callback_body",
    "veo_record",
]
