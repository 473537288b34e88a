"""Checks of files that providers send back, and poster frames for videos.

Nothing a provider returns is trusted by its headers: images are opened by
Pillow; videos must start like an MP4/MOV (ISO BMFF ``ftyp`` box) or WebM
(EBML header), and their first frame is read by the ffmpeg that
imageio-ffmpeg ships; sound (voice-over, music, effects) must start like an
MP3 (an ID3 tag or an MPEG audio frame), a WAV (RIFF/WAVE), an M4A (ISO BMFF
whose brand is M4A, or that has sound and no picture track), an Ogg or an
ADTS AAC file, and ffmpeg must then read a sound stream of an allowed codec
from it (``generation.audio.audio_probe``).

ffmpeg reads the header of every sound and video output (not the whole
stream: a provider's file is not personal data we re-encode, and a damaged
one fails in the player, not here), which also gives its duration. An ISO
BMFF file ffmpeg cannot open stays a video, as before sound was recognised:
only the ``ftyp`` box is required of a video.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from providers.base import ProviderError

from .audio import CONTAINERS, M4A_BRANDS, AudioProbe, audio_sniff, probe_file

log = logging.getLogger(__name__)

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/webp": "webp",
    "video/mp4": "mp4",
    "video/webm": "webm",
    **{c.content_type: c.extension for c in CONTAINERS.values()},  # mp3, wav, m4a, aac, ogg
}
POSTER_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class CheckedOutput:
    """What an output is: its MIME type, its size in pixels (images; ``None``
    for sound and video) and its length in seconds (sound and video, from the
    container's header; ``None`` for images or when the header does not say)."""

    content_type: str
    width: int | None
    height: int | None
    duration_seconds: float | None = None

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")

    @property
    def is_audio(self) -> bool:
        return self.content_type.startswith("audio/")


def _bad(message: str) -> ProviderError:
    return ProviderError(message, code="bad_output", permanent=True)


def image_check(file: IO[bytes]) -> CheckedOutput:
    """An image's type and size in pixels, checked by Pillow. Raises
    ``ProviderError(code="bad_output")`` for anything but PNG, JPEG, WebP."""
    try:
        with Image.open(file) as img:
            fmt, (width, height) = img.format, img.size
            img.verify()
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise _bad(_("The provider returned a file that is not a valid image.")) from exc
    finally:
        file.seek(0)
    if fmt not in IMAGE_TYPES:
        raise _bad(_("The provider returned an image type we do not accept (%(type)s).") % {"type": fmt})
    return CheckedOutput(IMAGE_TYPES[fmt], width, height)


#: An image preview's longest side, in pixels: a card is at most about 900 CSS
#: pixels wide on a desktop, and a phone's is 360 at 2-3 device pixels per pixel.
PREVIEW_SIDE = 1280


def image_preview(file: IO[bytes]) -> tuple[bytes, str] | None:
    """A smaller copy of a checked image for the cards, at most
    :data:`PREVIEW_SIDE` pixels on its longest side: ``(bytes, extension)``,
    a JPEG (quality 82), or a WebP where the image has transparency (a
    cut-out). ``None`` when the image is no larger than that already: a
    preview exists to send fewer pixels (a 2048 px result is four times the
    pixels a card can show), and the same pixels re-encoded only cost the
    worker time (bench/latency.py measured it). Leaves ``file`` at its start;
    a Pillow error gives ``None`` (the original is shown)."""
    try:
        with Image.open(file) as img:
            if max(img.size) <= PREVIEW_SIDE:
                return None
            img.draft("RGB", (PREVIEW_SIDE, PREVIEW_SIDE))  # JPEG: decode at a smaller scale
            alpha = "A" in img.getbands() or "transparency" in img.info
            small = img.convert("RGBA" if alpha else "RGB")
            small.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.LANCZOS)
            out = io.BytesIO()
            if alpha:
                small.save(out, "WEBP", quality=82, method=2)
            else:
                small.save(out, "JPEG", quality=82, optimize=True)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    finally:
        file.seek(0)
    return out.getvalue(), "webp" if alpha else "jpg"


def video_check(file: IO[bytes]) -> CheckedOutput:
    """A video's type from its first bytes (MP4/MOV ``ftyp`` box, WebM EBML),
    with its duration when ffmpeg can read the header. Raises
    ``ProviderError(code="bad_output")`` otherwise."""
    head = file.read(16)
    file.seek(0)
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return _video("video/mp4", probe_file(file, demuxer="mov"))
    if head.startswith(_EBML):
        return _video("video/webm", probe_file(file, demuxer="matroska"))
    raise _bad(_("The provider returned a file that is not a video we can play."))


def audio_check(file: IO[bytes], *, container: str) -> CheckedOutput:
    """A sound file whose first bytes look like ``container`` (a key of
    ``generation.audio.CONTAINERS``): ffmpeg must read, as that container, a
    sound stream in one of its codecs and no picture track (cover art is
    fine). Returns its type (``audio/mpeg``, ``audio/wav``, ``audio/mp4``,
    ``audio/aac``, ``audio/ogg``) and the header's duration. Raises
    ``ProviderError(code="bad_output")`` otherwise."""
    return _audio(container, probe_file(file, demuxer=CONTAINERS[container].demuxer))


def output_check(file: IO[bytes]) -> CheckedOutput:
    """What an output really is, from its bytes (a CDN's ``Content-Type`` may
    be ``application/octet-stream``): sound or video by its container header
    (an ISO BMFF file is sound when its brand is M4A, or when ffmpeg finds a
    sound stream and no picture track in it; a video otherwise), else an
    image that Pillow accepts; ``ProviderError`` otherwise."""
    head = file.read(16)
    file.seek(0)
    if head[4:8] == b"ftyp":
        probe = probe_file(file, demuxer="mov")
        if head[8:12] in M4A_BRANDS or (probe is not None and probe.has_audio and not probe.has_video):
            return _audio("mp4", probe)
        return _video("video/mp4", probe)
    if head.startswith(_EBML):
        return video_check(file)
    container = audio_sniff(head)
    if container is not None:
        return audio_check(file, container=container)
    return image_check(file)


_EBML = b"\x1a\x45\xdf\xa3"


def _video(content_type: str, probe: AudioProbe | None) -> CheckedOutput:
    return CheckedOutput(content_type, None, None, probe.duration_seconds if probe else None)


def _audio(container: str, probe: AudioProbe | None) -> CheckedOutput:
    spec = CONTAINERS[container]
    if probe is None or not probe.has_audio or probe.has_video or probe.audio_codec not in spec.codecs:
        raise _bad(_("The provider returned a file that is not a sound file we can play."))
    return CheckedOutput(spec.content_type, None, None, probe.duration_seconds)


def video_poster(file: IO[bytes]) -> tuple[bytes, int, int] | None:
    """The first frame of a video as PNG bytes with its width and height, or
    ``None`` when ffmpeg cannot read it (the video is still kept)."""
    import imageio_ffmpeg

    with tempfile.NamedTemporaryFile(suffix=".video") as tmp:
        shutil.copyfileobj(file, tmp)
        tmp.flush()
        file.seek(0)
        try:
            done = subprocess.run(  # noqa: S603 - fixed binary and arguments
                [
                    imageio_ffmpeg.get_ffmpeg_exe(),
                    "-v",
                    "error",
                    "-i",
                    tmp.name,
                    "-frames:v",
                    "1",
                    "-f",
                    "image2pipe",
                    "-c:v",
                    "png",
                    "-",
                ],
                capture_output=True,
                timeout=POSTER_TIMEOUT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("poster frame failed: %s", exc)
            return None
    if done.returncode != 0 or not done.stdout:
        log.warning("poster frame failed: %s", done.stderr[-300:])
        return None
    from io import BytesIO

    with Image.open(BytesIO(done.stdout)) as img:
        width, height = img.size
    return done.stdout, width, height
