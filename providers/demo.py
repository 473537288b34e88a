"""The offline ``demo`` provider: no key, no network, real files.

A task's id carries its start time, so any process (web, worker, beat) can
answer ``fetch`` without shared state. A task is running for
``DEMO_DELAY_SECONDS`` and then succeeds, or fails for a share
``DEMO_FAILURE_RATE`` (0.0–1.0) of tasks, chosen from the task id so that every
fetch of one task agrees.

Outputs are made here, offline, by :mod:`providers.demo_media`: a request with
a ``duration`` (or ``extend_task_id``) gets a real H.264 MP4 and a PNG poster
(starting from its ``"first_frame"`` input and ending on its ``"last_frame"``
when it has them); one with a ``"photo"`` input gets a PNG avatar variant of
that photo in ``params["style"]``; the demo tools (provider models
``demo/upscale`` and ``demo/remove-background``) turn their ``"source"`` input
into a PNG ``params["factor"]`` times larger, or one with its background
transparent; anything else gets a PNG image drawn from the prompt, with its
``"reference"`` inputs laid on it.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
import uuid
from typing import IO, Any

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageDraw, ImageFilter

from . import demo_media
from .base import Adapter, Download, ProviderError, TaskRequest, TaskResult, TaskState, spooled_file
from .http import log_call

#: Long side of a rendered image, in pixels.
LONG_SIDE = 768


def _size_for(aspect_ratio: str) -> tuple[int, int]:
    try:
        w, h = (int(x) for x in aspect_ratio.split(":"))
    except ValueError:
        w, h = 1, 1
    if w >= h:
        return LONG_SIDE, max(64, round(LONG_SIDE * h / w))
    return max(64, round(LONG_SIDE * w / h)), LONG_SIDE


def _palette(seed: bytes) -> list[tuple[int, int, int]]:
    return [(seed[i], seed[i + 1], seed[i + 2]) for i in range(0, 18, 3)]


def render_png(*, prompt: str, aspect_ratio: str, index: int, references: list[bytes] | None = None) -> bytes:
    """A PNG image drawn from the prompt: a gradient and soft shapes whose
    colours and places come from a hash of the prompt and the output index,
    with the prompt written on it. ``references`` (image bytes) are laid on
    it as framed panels over a tint of their colours
    (:func:`providers.demo_media.with_references`), so the picture really
    shows them. Raises :class:`~providers.demo_media.MediaError` for an
    unreadable reference."""
    seed = hashlib.sha256(f"{prompt}\x00{index}".encode()).digest()
    width, height = _size_for(aspect_ratio)
    colors = _palette(seed)
    img = Image.new("RGB", (width, height))
    top, bottom = colors[0], colors[1]
    draw = ImageDraw.Draw(img)
    for y in range(height):
        t = y / max(1, height - 1)
        draw.line([(0, y), (width, y)], fill=tuple(int(top[c] * (1 - t) + bottom[c] * t) for c in range(3)))
    shapes = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    sd = ImageDraw.Draw(shapes)
    for i in range(6):
        b = seed[18 + i * 2 : 20 + i * 2]
        cx, cy = b[0] / 255 * width, b[1] / 255 * height
        r = (0.1 + seed[i] / 255 * 0.3) * min(width, height)
        sd.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(*colors[2 + i % 4], 150))
    shapes = shapes.filter(ImageFilter.GaussianBlur(radius=min(width, height) / 30))
    img.paste(shapes, (0, 0), shapes)
    if references:
        img = demo_media.with_references(img, references=references, index=index)
    caption = demo_media.text_layer(prompt, (width, height))
    img.paste(caption, (0, 0), caption)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False)
    return out.getvalue()


#: Clip length when a video request's ``duration`` is missing or unreadable, in seconds.
DEFAULT_DURATION_SECONDS = 5


#: The demo tools, by provider model: what their "source" input becomes.
TOOL_KINDS = {"demo/upscale": "upscale", "demo/remove-background": "remove_background"}


def _kind(request: TaskRequest) -> str:
    """What this request makes: "video", "avatar", "image", or a tool's kind
    (:data:`TOOL_KINDS`)."""
    if request.provider_model in TOOL_KINDS:
        return TOOL_KINDS[request.provider_model]
    if "duration" in request.params or request.params.get("extend_task_id"):
        return "video"
    if any(item.role == "photo" for item in request.inputs):
        return "avatar"
    return "image"


def _input(request: TaskRequest, role: str) -> bytes | None:
    """The bytes of the first input with ``role``, or None."""
    found = _inputs(request, role, limit=1)
    return found[0] if found else None


def _inputs(request: TaskRequest, role: str, *, limit: int | None = None) -> list[bytes]:
    """The bytes of the inputs with ``role``, in order (at most ``limit``)."""
    found: list[bytes] = []
    for item in request.inputs:
        if item.role == role and (limit is None or len(found) < limit):
            with item.open() as fh:
                found.append(fh.read())
    return found


def _factor(params: dict[str, Any]) -> int:
    # The catalogue offers "2" and "4"; anything unreadable is 2, anything else is kept within 1…8.
    try:
        factor = int(str(params.get("factor", 2)))
    except ValueError:
        factor = 2
    return min(max(factor, 1), 8)


def _duration(params: dict[str, Any]) -> int:
    # The catalogue keeps durations as strings ("5", maybe "5s"): take the number, clamp it.
    match = re.match(r"\s*(\d+)", str(params.get("duration", DEFAULT_DURATION_SECONDS)))
    seconds = int(match.group(1)) if match else DEFAULT_DURATION_SECONDS
    return min(max(seconds, 1), demo_media.MAX_DURATION_SECONDS)


class DemoAdapter(Adapter):
    name = "demo"

    def submit(self, request: TaskRequest) -> str:
        request.create_starts()
        started = time.monotonic()
        task_id = f"demo-{int(time.time() * 1000)}-{uuid.uuid4().hex[:12]}"
        log_call(
            adapter=self.name,
            operation="create",
            method="POST",
            url="demo://createTask",
            request_body=str({"model": request.provider_model, "input": request.params})[:2000],
            status_code=200,
            response_body=f'{{"taskId": "{task_id}"}}',
            error="",
            latency_ms=int((time.monotonic() - started) * 1000),
            task_id=task_id,
            job_ref=request.job_id,
            secrets=(),
        )
        return task_id

    def _started_at(self, task_id: str) -> float:
        try:
            return int(task_id.split("-")[1]) / 1000
        except (IndexError, ValueError) as exc:
            raise ProviderError(_("Unknown demo task."), code="422", permanent=True) from exc

    def fetch(self, task_id: str, request: TaskRequest) -> TaskResult:
        started = self._started_at(task_id)
        if time.time() - started < settings.DEMO_DELAY_SECONDS:
            return TaskResult(task_id=task_id, state=TaskState.RUNNING)
        draw = int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:4], "big") / 2**32
        if draw < settings.DEMO_FAILURE_RATE:
            return TaskResult(
                task_id=task_id,
                state=TaskState.FAILED,
                error_code="demo_failure",
                error_message=str(_("The demo provider failed this task on purpose (DEMO_FAILURE_RATE).")),
            )
        if _kind(request) == "video":
            return TaskResult(
                task_id=task_id,
                state=TaskState.SUCCEEDED,
                output_urls=[f"demo://{task_id}/0.mp4"],
                poster_urls=[f"demo://{task_id}/0.png"],
            )
        return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=[f"demo://{task_id}/0.png"])

    def download(self, url: str, request: TaskRequest, *, max_bytes: int) -> Download:
        """Render the output ``url`` (``demo://<task id>/0.mp4`` or ``.png``,
        as :meth:`fetch` gave it) for ``request`` into
        :func:`~providers.base.spooled_file`.

        Returns :class:`~providers.base.Download` at position 0: ``video/mp4``
        for a video's ``.mp4``, ``image/png`` for its poster, an avatar variant
        or an image. A clip's colours and motion come from its task id; an
        extension (``extend_task_id``) takes the earlier task's colours and
        carries on its motion, assuming the earlier clip had the same length.

        Raises :class:`ProviderError`: ``"too_large"`` (permanent) past
        ``max_bytes``; ``"bad_output"`` (permanent) for a URL this adapter did
        not give for this request; ``"render_failed"`` (permanent) when an
        input picture cannot be read (or a tool has none) or ffmpeg fails.
        """
        task_id, _sep, name = url.removeprefix("demo://").rpartition("/")
        suffix = name.rpartition(".")[2]
        kind = _kind(request)
        if not url.startswith("demo://") or not task_id or (suffix, kind) not in _CONTENT_TYPES:
            raise ProviderError(_("The demo provider has no such file."), code="bad_output", permanent=True)
        f = spooled_file()
        try:
            self._render(f, request=request, task_id=task_id, kind=kind, suffix=suffix)
        except demo_media.MediaError as exc:
            f.close()
            raise ProviderError(
                _("The demo provider could not make this file."), code="render_failed", permanent=True
            ) from exc
        size = f.tell()
        if size > max_bytes:
            f.close()
            raise ProviderError(_("The result file is too large."), code="too_large", permanent=True)
        f.seek(0)
        return Download(file=f, content_type=_CONTENT_TYPES[suffix, kind], size=size)

    def _render(self, out: IO[bytes], *, request: TaskRequest, task_id: str, kind: str, suffix: str) -> None:
        params = request.params
        prompt = str(params.get("prompt", ""))
        if kind == "video":
            extends = str(params.get("extend_task_id") or "")
            duration = _duration(params)
            aspect_ratio = str(params.get("aspect_ratio", "16:9"))
            first_frame = _input(request, "first_frame")
            last_frame = _input(request, "last_frame")
            seed = extends or task_id
            start = float(duration) if extends else 0.0
            if suffix == "mp4":
                demo_media.render_mp4(
                    prompt=prompt,
                    aspect_ratio=aspect_ratio,
                    duration_seconds=duration,
                    out=out,
                    first_frame=first_frame,
                    last_frame=last_frame,
                    seed=seed,
                    start_seconds=start,
                    audio=str(params.get("sound", "")) == "on",
                )
            else:
                poster = demo_media.render_poster(
                    prompt=prompt, aspect_ratio=aspect_ratio, first_frame=first_frame, seed=seed, start_seconds=start
                )
                out.write(poster)
        elif kind == "avatar":
            photo = _input(request, "photo")
            assert photo is not None  # _kind() said there is one
            out.write(
                demo_media.avatar_variant(photo=photo, style=str(params.get("style", "cartoon")), index=request.index)
            )
        elif kind in ("upscale", "remove_background"):
            source = _input(request, "source")
            if source is None:
                raise demo_media.MediaError("a demo tool needs its source image")
            if kind == "upscale":
                out.write(demo_media.upscale(image=source, factor=_factor(params)))
            else:
                out.write(demo_media.remove_background(image=source))
        else:
            out.write(
                render_png(
                    prompt=prompt,
                    aspect_ratio=str(params.get("aspect_ratio", "1:1")),
                    index=request.index,
                    references=_inputs(request, "reference", limit=demo_media.MAX_REFERENCES),
                )
            )

    def supports_extend(self, provider_model: str) -> bool:
        """The demo's video models ("demo/video") can extend their own clips."""
        return "video" in provider_model


#: (URL suffix, request kind) → MIME type of what :meth:`DemoAdapter.download` renders.
_CONTENT_TYPES = {
    ("mp4", "video"): "video/mp4",
    ("png", "video"): "image/png",
    ("png", "avatar"): "image/png",
    ("png", "image"): "image/png",
    ("png", "upscale"): "image/png",
    ("png", "remove_background"): "image/png",
}
