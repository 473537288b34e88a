"""The errors of the generation app: one root, :class:`GenerationError`.

Every refusal a service raises is a :class:`GenerationError` (or a subclass),
so a view catches one type and shows ``message``. Errors of the layers below
pass through unchanged: ``credits.services.InsufficientCredits`` (a short
balance) and ``providers.base.ProviderError`` (inside the pipeline only).
"""

from __future__ import annotations

from django.utils.functional import Promise


class GenerationError(Exception):
    """A refused generation request.

    ``message`` is translated and safe to show the user (a lazy string is
    kept lazy until it is shown); ``code`` is stable, for logs, tests and the
    UI (empty when the message is all there is to say)."""

    def __init__(self, message: str | Promise, *, code: str = "") -> None:
        super().__init__(str(message))
        self.message = message
        self.code = code

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={str(self.message)!r})"


class UploadRejected(GenerationError):
    """An upload we refuse (``generation.uploads.image_clean`` for images,
    ``generation.audio.audio_clean`` for recordings). ``code`` for images:

    - ``too_large``: more bytes than ``UploadLimits.max_bytes``;
    - ``not_an_image``: Pillow does not recognise the bytes as an image
      (text, PDF, video, empty file);
    - ``format``: a recognisable image in a format not in
      ``UploadLimits.allowed_formats`` (GIF, BMP, TIFF, SVG, HEIC, AVIF, …);
    - ``too_many_pixels``: width × height above ``UploadLimits.max_pixels``,
      or above Pillow's own decompression-bomb limit;
    - ``truncated``: an allowed format whose data is incomplete or damaged;
    - ``too_small``: the shorter side is under ``UploadLimits.min_side``.

    For recordings (``AudioLimits``): ``too_large``; ``empty``;
    ``not_audio`` (text, an image, a PDF…); ``format`` (a sound format or
    codec we do not take: FLAC, AIFF, WMA, MP2, ADPCM…); ``video`` (a file
    with a picture track); ``no_audio`` (an allowed container with no sound
    in it); ``truncated`` (cut or damaged); ``unreadable`` (ffmpeg did not
    finish in time); ``too_long`` / ``too_short`` (decoded length outside
    ``min_seconds``..``max_seconds``).
    """

    def __init__(self, message: str | Promise, *, code: str) -> None:
        super().__init__(message, code=code)


class CallbackRejected(GenerationError):
    """A provider callback that is not for this job, cannot be parsed or whose
    signature is wrong; ``code`` says which (the provider's error code, or
    ``unknown_task``). Nothing changes when it is raised."""

    def __init__(self, code: str) -> None:
        super().__init__(code, code=code)
