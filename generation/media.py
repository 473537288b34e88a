"""Checks of files that providers send back, and poster frames for videos.

Nothing a provider returns is trusted by its headers: images are opened by
Pillow, videos must start like an MP4/MOV (ISO BMFF ``ftyp`` box) or WebM
(EBML header), and their first frame is read by the ffmpeg that
imageio-ffmpeg ships.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import IO

from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from providers.base import ProviderError

log = logging.getLogger(__name__)

IMAGE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "video/mp4": "mp4", "video/webm": "webm"}
POSTER_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class CheckedOutput:
    content_type: str
    width: int | None
    height: int | None

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.content_type]

    @property
    def is_video(self) -> bool:
        return self.content_type.startswith("video/")


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


def video_check(file: IO[bytes]) -> CheckedOutput:
    """A video's type from its first bytes (MP4/MOV ``ftyp`` box, WebM EBML).
    Raises ``ProviderError(code="bad_output")`` otherwise."""
    head = file.read(16)
    file.seek(0)
    if len(head) >= 8 and head[4:8] == b"ftyp":
        return CheckedOutput("video/mp4", None, None)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return CheckedOutput("video/webm", None, None)
    raise _bad(_("The provider returned a file that is not a video we can play."))


def output_check(file: IO[bytes]) -> CheckedOutput:
    """What an output really is, from its bytes (a CDN's ``Content-Type`` may
    be ``application/octet-stream``): a video by its container header, else
    an image that Pillow accepts; ``ProviderError`` otherwise."""
    head = file.read(16)
    file.seek(0)
    if head[4:8] == b"ftyp" or head.startswith(b"\x1a\x45\xdf\xa3"):
        return video_check(file)
    return image_check(file)


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
