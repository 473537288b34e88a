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

The sound models (issue 18, :data:`AUDIO_KINDS`) are chosen by provider model
before any of that: ``demo/speech`` speaks ``params["prompt"]`` as an MP3 in
``params["voice"]`` (about 14 characters a second, times ``params["speed"]``);
``demo/dialogue`` speaks each line of the prompt in turn in ``voice`` and
``voice_2``; ``demo/music`` makes two MP3 tracks of 8–12 s per task (as Suno
does); ``demo/sound-effect`` one MP3 of ``params["duration"]`` seconds ("auto"
is 4 s), seamless when ``params["loop"]`` is "on"; ``demo/talking-portrait``
makes an MP4 (and poster) of its ``"portrait"`` input speaking its ``"speech"``
input, and ``demo/lip-sync`` one of its ``"video"`` input's frames, a mouth
moving with the ``"speech"`` input, which replaces the video's sound. They are
tones, not words; their metadata says "Mirsam demo" (:data:`demo_media.LABEL`).

With ``DEMO_CALLBACKS`` on (the embedded default) the demo also calls back as
kie.ai does, so the default setup runs the deployed path: a task whose request
has a ``callback_url`` is POSTed there once it is done (Celery's
:func:`providers.tasks.demo_callback_task`, counting down the delay) in
kie.ai's Market callback shape (docs/kie.md §2.1 Callback body), signed as
kie.ai signs (§1 Callbacks) with a key derived from ``SECRET_KEY``
(:func:`callback_key`). Polling stays the fallback; the pipeline stores and
charges a task once whichever comes first.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import logging
import re
import time
import uuid
from typing import IO, Any

from django.conf import settings
from django.db import transaction
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy as _
from PIL import Image, ImageDraw, ImageFilter

from . import demo_media
from .base import Adapter, Download, ProviderError, TaskRequest, TaskResult, TaskState, spooled_file
from .http import log_call, provider_request
from .kie.adapter import BAD_CALLBACK_MESSAGE, BAD_SIGNATURE_MESSAGE, SIGNATURE_MAX_SKEW_SECONDS
from .kie.client import callback_signature

log = logging.getLogger(__name__)

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

#: The demo's sound models (issue 18), by provider model: MP3s from text, and
#: videos that speak a "speech" input.
AUDIO_KINDS = {
    "demo/speech": "speech",
    "demo/dialogue": "dialogue",
    "demo/music": "music",
    "demo/sound-effect": "sound_effect",
    "demo/talking-portrait": "talking_portrait",
    "demo/lip-sync": "lip_sync",
}

#: Tracks one demo music task makes (as Suno does: two takes of one prompt).
MUSIC_TRACKS = 2
#: Length of a sound effect whose ``duration`` is "auto" or unreadable, in seconds.
DEFAULT_SOUND_EFFECT_SECONDS = 4.0


def _kind(request: TaskRequest) -> str:
    """What this request makes: "video", "avatar", "image", a tool's kind
    (:data:`TOOL_KINDS`) or a sound model's (:data:`AUDIO_KINDS`). The provider
    model decides first: a sound effect has a ``duration`` but is no video."""
    if request.provider_model in TOOL_KINDS:
        return TOOL_KINDS[request.provider_model]
    if request.provider_model in AUDIO_KINDS:
        return AUDIO_KINDS[request.provider_model]
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


def _number(params: dict[str, Any], name: str, default: float) -> float:
    # The catalogue keeps numbers as strings ("0.8", maybe "5s"): take the number, or the default.
    match = re.match(r"\s*(\d+(?:\.\d+)?)", str(params.get(name, "")))
    return float(match.group(1)) if match else default


def _turns(params: dict[str, Any]) -> list[tuple[str, str]]:
    """A dialogue's turns as (voice, text): one a non-empty line of the prompt,
    the voices alternating ``voice``, ``voice_2``."""
    voices = (str(params.get("voice", "")), str(params.get("voice_2") or f"{params.get('voice', '')}/2"))
    lines = [line.strip() for line in str(params.get("prompt", "")).splitlines() if line.strip()]
    return [(voices[i % 2], line) for i, line in enumerate(lines)]


def _duration(params: dict[str, Any]) -> int:
    # The catalogue keeps durations as strings ("5", maybe "5s"): take the number, clamp it.
    match = re.match(r"\s*(\d+)", str(params.get("duration", DEFAULT_DURATION_SECONDS)))
    seconds = int(match.group(1)) if match else DEFAULT_DURATION_SECONDS
    return min(max(seconds, 1), demo_media.MAX_DURATION_SECONDS)


FAILURE_CODE = "demo_failure"
FAILURE_MESSAGE = _("The demo provider failed this on purpose, to show what a failure looks like.")

#: How long the demo waits for our callback endpoint's answer, in seconds (as kie.ai: docs/kie.md §1 Callbacks).
CALLBACK_TIMEOUT_SECONDS = 15.0


def _posters(output_urls: list[str]) -> list[str]:
    """The poster of each video output (``…/0.mp4`` → ``…/0.png``), in order."""
    return [url.removesuffix(".mp4") + ".png" for url in output_urls if url.endswith(".mp4")]


def callback_key() -> str:
    """The demo's webhook HMAC key: derived from ``SECRET_KEY``, so the worker
    that signs and the web process that checks share it with nothing to set."""
    return salted_hmac("providers.demo.callback", "webhook-hmac-key").hexdigest()


def callback_body(result: TaskResult, *, provider_model: str, params: dict[str, Any]) -> dict[str, Any]:
    """The callback the demo POSTs for a final ``result``, in kie.ai's Market
    shape (docs/kie.md §2.1 Callback body): ``{"code": 200 | 501, "msg",
    "data": {taskId, model, state: "success" | "fail", param, resultJson,
    failCode, failMsg, costTime (seconds), completeTime, createTime,
    updateTime (ms epoch), creditsConsumed}}``; ``resultJson`` is a JSON
    string ``{"resultUrls": [...]}`` and ``param`` one of the create request.
    The start time comes from the task id (:meth:`DemoAdapter.submit`)."""
    created_ms = int(result.task_id.split("-")[1])
    done_ms = created_ms + int(settings.DEMO_DELAY_SECONDS * 1000)
    succeeded = result.state is TaskState.SUCCEEDED
    return {
        "code": 200 if succeeded else 501,
        "msg": "Playground task completed successfully." if succeeded else "Playground task failed.",
        "data": {
            "taskId": result.task_id,
            "model": provider_model,
            "state": "success" if succeeded else "fail",
            "param": json.dumps({"model": provider_model, "input": params}, ensure_ascii=False),
            "resultJson": json.dumps({"resultUrls": result.output_urls}) if succeeded else None,
            "failCode": None if succeeded else result.error_code,
            "failMsg": None if succeeded else result.error_message,
            "costTime": round(settings.DEMO_DELAY_SECONDS),
            "completeTime": done_ms,
            "createTime": created_ms,
            "updateTime": int(time.time() * 1000),
            "creditsConsumed": 0,
        },
    }


def callback_headers(task_id: str, *, timestamp: int | None = None) -> dict[str, str]:
    """kie.ai's signature headers (docs/kie.md §1 Callbacks) for ``task_id``:
    ``X-Webhook-Timestamp`` (unix seconds, now unless given) and
    ``X-Webhook-Signature`` = :func:`~providers.kie.client.callback_signature`
    with :func:`callback_key`."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return {
        "Content-Type": "application/json",
        "X-Webhook-Timestamp": stamp,
        "X-Webhook-Signature": callback_signature(key=callback_key(), task_id=task_id, timestamp=stamp),
    }


def callback_send(*, url: str, result: TaskResult, provider_model: str, params: dict[str, Any], job_ref: int) -> int:
    """POST the signed callback of ``result`` to ``url`` (our own endpoint)
    through :func:`~providers.http.provider_request`, logged as the demo's
    ``callback`` call; returns the answer's HTTP status. One attempt: raises
    ``requests.ConnectionError`` or ``requests.Timeout`` when there is no
    answer (the Celery task retries those)."""
    response = provider_request(
        adapter=DemoAdapter.name,
        operation="callback",
        method="POST",
        url=url,
        json_body=callback_body(result, provider_model=provider_model, params=params),
        headers=callback_headers(result.task_id),
        timeout=CALLBACK_TIMEOUT_SECONDS,
        task_id=result.task_id,
        job_ref=job_ref,
        # The URL's job token lets anyone post to the job's endpoint: kept out of the log.
        secrets=(url.rstrip("/").rsplit("/", 1)[-1],),
    )
    if response.status_code != 200:
        log.warning("demo callback for task %s answered %s: %s", result.task_id, response.status_code, response.text)
    return response.status_code


class DemoAdapter(Adapter):
    name = "demo"
    supports_callbacks = True

    def callback_base_url(self) -> str:
        """``MIRSAM_SITE_URL`` when ``DEMO_CALLBACKS`` is on, else empty (polled only)."""
        return str(settings.MIRSAM_SITE_URL) if settings.DEMO_CALLBACKS else ""

    def submit(self, request: TaskRequest) -> str:
        """Start a task (its id carries the start time, ms) and, when the
        request has a ``callback_url``, send :func:`providers.tasks.demo_callback_task`
        after commit, due when the task is done (``DEMO_DELAY_SECONDS``)."""
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
        if request.callback_url:
            self._call_back_later(task_id, request, callback_url=request.callback_url)
        return task_id

    def _call_back_later(self, task_id: str, request: TaskRequest, *, callback_url: str) -> None:
        from .tasks import demo_callback_task

        result = self._outcome(task_id, request)
        countdown = max(0.0, self._started_at(task_id) + settings.DEMO_DELAY_SECONDS - time.time())
        kwargs = {"provider_model": request.provider_model, "params": request.params, "job_ref": request.job_id}
        transaction.on_commit(
            lambda: demo_callback_task.apply_async((callback_url, result.as_dict()), kwargs, countdown=countdown)
        )

    def _started_at(self, task_id: str) -> float:
        try:
            return int(task_id.split("-")[1]) / 1000
        except (IndexError, ValueError) as exc:
            raise ProviderError(_("Unknown demo task."), code="422", permanent=True) from exc

    def fetch(self, task_id: str, request: TaskRequest) -> TaskResult:
        started = self._started_at(task_id)
        if time.time() - started < settings.DEMO_DELAY_SECONDS:
            return TaskResult(task_id=task_id, state=TaskState.RUNNING)
        return self._outcome(task_id, request)

    def _outcome(self, task_id: str, request: TaskRequest) -> TaskResult:
        """What the task ends as, once done: the same for every fetch and the callback."""
        draw = int.from_bytes(hashlib.sha256(task_id.encode()).digest()[:4], "big") / 2**32
        if draw < settings.DEMO_FAILURE_RATE:
            return TaskResult(
                task_id=task_id, state=TaskState.FAILED, error_code=FAILURE_CODE, error_message=str(FAILURE_MESSAGE)
            )
        kind = _kind(request)
        if kind in ("video", "talking_portrait", "lip_sync"):
            outputs = [f"demo://{task_id}/0.mp4"]
            return TaskResult(
                task_id=task_id, state=TaskState.SUCCEEDED, output_urls=outputs, poster_urls=_posters(outputs)
            )
        if kind == "music":
            tracks = [f"demo://{task_id}/{track}.mp3" for track in range(MUSIC_TRACKS)]
            return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=tracks)
        if kind in ("speech", "dialogue", "sound_effect"):
            return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=[f"demo://{task_id}/0.mp3"])
        return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=[f"demo://{task_id}/0.png"])

    # --- callbacks --------------------------------------------------------------

    def verify_callback(self, body: bytes, headers: dict[str, str]) -> None:
        """Check a demo callback's signature as kie.ai's are checked
        (:meth:`providers.kie.adapter.KieAdapter.verify_callback`), always:
        ``headers`` (lower-case names) ``x-webhook-timestamp`` within
        ``SIGNATURE_MAX_SKEW_SECONDS`` of now and ``x-webhook-signature`` =
        :func:`callback_headers`' for ``data.taskId`` of the body. Raises
        ``ProviderError(code="bad_signature", permanent=True)`` on any mismatch."""

        def reject(why: str) -> ProviderError:
            log.warning("demo callback signature rejected: %s", why)
            return ProviderError(BAD_SIGNATURE_MESSAGE, code="bad_signature", permanent=True)

        timestamp = headers.get("x-webhook-timestamp", "").strip()
        signature = headers.get("x-webhook-signature", "").strip()
        if not timestamp.isdigit() or not signature:
            raise reject("missing or malformed headers")
        if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_SKEW_SECONDS:
            raise reject("timestamp out of range")
        try:
            task_id = json.loads(body)["data"]["taskId"]
        except (ValueError, KeyError, TypeError) as exc:
            raise reject("no task id") from exc
        expected = callback_signature(key=callback_key(), task_id=str(task_id), timestamp=timestamp)
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace")):
            raise reject("signature mismatch")

    def parse_callback(self, body: bytes, *, provider_model: str = "") -> TaskResult:
        """A :class:`TaskResult` from a body of :func:`callback_body`: state
        ``success`` → SUCCEEDED with ``resultJson.resultUrls`` (``demo://``
        URLs) and a poster per video, as :meth:`fetch` gives them; ``fail`` →
        FAILED with ``failCode`` and, for the demo's own failure, its message
        in the active language (the owner's). Raises
        ``ProviderError(code="bad_callback", permanent=True)`` for anything else."""
        try:
            data = json.loads(body)["data"]
            task_id, state = data["taskId"], data["state"]
            if not isinstance(task_id, str) or not task_id.startswith("demo-"):
                raise ValueError("not a demo task id")
            if state == "fail":
                code = str(data.get("failCode") or "failed")
                message = str(FAILURE_MESSAGE) if code == FAILURE_CODE else str(data.get("failMsg") or "")
                return TaskResult(task_id=task_id, state=TaskState.FAILED, error_code=code, error_message=message)
            if state != "success":
                raise ValueError(f"unknown state {state!r}")
            urls = json.loads(data["resultJson"])["resultUrls"]
            if not urls or not all(isinstance(url, str) and url.startswith(f"demo://{task_id}/") for url in urls):
                raise ValueError("result URLs are not this task's")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("demo callback unreadable: %s", exc)
            raise ProviderError(BAD_CALLBACK_MESSAGE, code="bad_callback", permanent=True) from exc
        return TaskResult(task_id=task_id, state=TaskState.SUCCEEDED, output_urls=urls, poster_urls=_posters(urls))

    def download(self, url: str, request: TaskRequest, *, max_bytes: int) -> Download:
        """Render the output ``url`` (``demo://<task id>/0.mp4``, ``.png`` or
        ``.mp3``; a music task's ``0.mp3`` and ``1.mp3``, as :meth:`fetch` gave
        it) for ``request`` into :func:`~providers.base.spooled_file`.

        Returns :class:`~providers.base.Download` at position 0: ``video/mp4``
        for a video's, a talking portrait's or a lip-sync's ``.mp4``,
        ``image/png`` for their posters, an avatar variant or an image,
        ``audio/mpeg`` for a sound model's ``.mp3`` (:data:`_CONTENT_TYPES`). A
        clip's colours and motion come from its task id; an extension
        (``extend_task_id``) takes the earlier task's colours and carries on its
        motion, assuming the earlier clip had the same length. Sounds come from
        their parameters (the same text and voice, the same speech).

        Raises :class:`ProviderError`: ``"too_large"`` (permanent) past
        ``max_bytes``; ``"bad_output"`` (permanent) for a URL this adapter did
        not give for this request; ``"render_failed"`` (permanent) when an
        input picture, video or speech cannot be read (or a tool, a talking
        portrait or a lip-sync lacks one) or ffmpeg fails.
        """
        task_id, _sep, name = url.removeprefix("demo://").rpartition("/")
        stem, _dot, suffix = name.rpartition(".")
        kind = _kind(request)
        tracks = [str(track) for track in range(MUSIC_TRACKS)] if kind == "music" else None
        if (
            not url.startswith("demo://")
            or not task_id
            or (suffix, kind) not in _CONTENT_TYPES
            or (tracks is not None and stem not in tracks)
        ):
            raise ProviderError(_("The demo provider has no such file."), code="bad_output", permanent=True)
        f = spooled_file()
        try:
            track = int(stem) if tracks is not None else 0
            self._render(f, request=request, task_id=task_id, kind=kind, suffix=suffix, track=track)
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

    def _render(
        self, out: IO[bytes], *, request: TaskRequest, task_id: str, kind: str, suffix: str, track: int = 0
    ) -> None:
        params = request.params
        prompt = str(params.get("prompt", ""))
        if kind in AUDIO_KINDS.values():
            self._render_sound(out, request=request, kind=kind, suffix=suffix, track=track)
        elif kind == "video":
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

    def _render_sound(self, out: IO[bytes], *, request: TaskRequest, kind: str, suffix: str, track: int) -> None:
        """Render an output of a sound model (:data:`AUDIO_KINDS`) into ``out``."""
        params = request.params
        prompt = str(params.get("prompt", ""))
        speed = _number(params, "speed", 1.0)
        if kind == "speech":
            demo_media.render_speech(
                text=prompt,
                voice=str(params.get("voice", "")),
                speed=speed,
                stability=_number(params, "stability", 0.5),
                out=out,
            )
        elif kind == "dialogue":
            demo_media.render_dialogue(turns=_turns(params), speed=speed, out=out)
        elif kind == "music":
            demo_media.render_music(
                prompt=prompt,
                style=str(params.get("style", "")),
                title=str(params.get("title", "")),
                vocals=str(params.get("instrumental", "off")) != "on",
                # Each output of a job makes its own pair of tracks.
                index=request.index * MUSIC_TRACKS + track,
                out=out,
            )
        elif kind == "sound_effect":
            seconds = _number(params, "duration", DEFAULT_SOUND_EFFECT_SECONDS)
            demo_media.render_sound_effect(
                prompt=prompt, duration_seconds=seconds, loop=str(params.get("loop", "off")) == "on", out=out
            )
        else:
            speech = _input(request, "speech")
            picture_role = "portrait" if kind == "talking_portrait" else "video"
            picture = _input(request, picture_role)
            if speech is None or picture is None:
                raise demo_media.MediaError(f"a {kind} needs a {picture_role!r} and a 'speech' input")
            if kind == "talking_portrait" and suffix == "mp4":
                demo_media.render_talking_portrait(portrait=picture, speech=speech, out=out)
            elif kind == "talking_portrait":
                out.write(demo_media.talking_portrait_poster(portrait=picture, speech=speech))
            elif suffix == "mp4":
                demo_media.render_lip_sync(video=picture, speech=speech, out=out)
            else:
                out.write(demo_media.lip_sync_poster(video=picture, speech=speech))

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
    ("mp3", "speech"): "audio/mpeg",
    ("mp3", "dialogue"): "audio/mpeg",
    ("mp3", "music"): "audio/mpeg",
    ("mp3", "sound_effect"): "audio/mpeg",
    ("mp4", "talking_portrait"): "video/mp4",
    ("png", "talking_portrait"): "image/png",
    ("mp4", "lip_sync"): "video/mp4",
    ("png", "lip_sync"): "image/png",
}
