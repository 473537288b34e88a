"""Checking and normalising the photos people upload (docs/product.md, "Privacy and
policy": uploaded photos are personal data).

:func:`image_clean` is the only door an uploaded image goes through before we
store it or send it to a provider. It trusts nothing the client says (file
name, extension, ``Content-Type``): the bytes are identified by Pillow, the
size is bounded before anything is read into memory, the pixel count is
checked before any pixel is decoded, and what we keep is a fresh encoding of
the pixels alone, so no camera metadata (GPS position, device serial numbers,
capture time, thumbnails, XMP, comments) survives.

Decisions, so callers do not have to rediscover them:

- **ICC profiles.** If the image carries an ICC profile its pixels are
  converted to sRGB with LittleCMS (``PIL.ImageCms``) and the profile is then
  dropped; an untagged image is taken as sRGB, which is what browsers and
  providers assume. A profile LittleCMS cannot use (malformed, or not matching
  the pixel mode) is ignored and the pixels are kept as they are. So the
  stored file never embeds a profile, and wide-gamut (Display P3) phone photos
  and CMYK print files still look right.
- **Animations.** An animated WebP (or APNG) is accepted and only its first
  frame is kept; the result is always a still image. Later frames are never
  decoded.
- **Multi-picture JPEG** (MPO, written by some cameras and phones) is treated
  as JPEG; its first picture is kept.
- **Output format** follows the input: JPEG → JPEG (quality 92), PNG → PNG
  (lossless), WebP → WebP (quality 92). JPEG output is always RGB; PNG and
  WebP output is RGB, or RGBA when the source has transparency.

Pillow's process-wide settings are left alone: ``Image.MAX_IMAGE_PIXELS``
is not changed (our own, lower, limit is checked first) and
``ImageFile.LOAD_TRUNCATED_IMAGES`` is never turned on; truncated-file
detection relies on it staying at Pillow's default, ``False``.
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps

from .errors import UploadRejected

MB = 1024 * 1024
DEFAULT_MAX_BYTES = 15 * MB
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MIN_SIDE = 256
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})

# Pillow format name → (content type, extension, name shown to people).
_OUTPUT = {
    "JPEG": ("image/jpeg", "jpg", "JPEG"),
    "PNG": ("image/png", "png", "PNG"),
    "WEBP": ("image/webp", "webp", "WebP"),
}
# Pillow formats that are a variant of an allowed one rather than a format of
# their own: the JPEG plugin hands multi-picture JPEGs over as "MPO".
_FORMAT_ALIASES = {"MPO": "JPEG"}
_JPEG_QUALITY = 92
_WEBP_QUALITY = 92
_READ_CHUNK = 1 * MB
_SIXTEEN_BIT_MODES = frozenset({"I", "I;16", "I;16L", "I;16B", "I;16N"})
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))

# What Pillow may raise on hostile or damaged input while identifying or
# decoding (it reports damage as OSError, SyntaxError or struct.error
# depending on the plugin and the byte that broke).
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
    IndexError,
    TypeError,
    struct.error,
)
_CMS_ERRORS: tuple[type[BaseException], ...] = (ImageCms.PyCMSError, *_DECODE_ERRORS)


@dataclass(frozen=True)
class CleanImage:
    """An accepted upload, re-encoded from its pixels with no metadata.

    ``data`` is the whole file; ``size`` is ``len(data)`` in bytes;
    ``width``/``height`` are in pixels, as displayed (EXIF orientation
    already applied); ``sha256`` is the hex digest of ``data``.
    """

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    size: int
    sha256: str


@dataclass(frozen=True)
class UploadLimits:
    """What an upload may be. ``max_bytes`` in bytes, ``max_pixels`` as
    width × height in pixels, ``min_side`` in pixels (the shorter side),
    ``allowed_formats`` as Pillow format names, a subset of JPEG, PNG, WEBP."""

    max_bytes: int = DEFAULT_MAX_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    min_side: int = DEFAULT_MIN_SIDE
    allowed_formats: frozenset[str] = field(default=SUPPORTED_FORMATS)

    def __post_init__(self) -> None:
        # A misconfigured limit should fail loudly at start-up, not let
        # everything (or nothing) through.
        if min(self.max_bytes, self.max_pixels, self.min_side) < 1:
            raise ValueError("Upload limits must be positive integers.")
        unknown = set(self.allowed_formats) - SUPPORTED_FORMATS
        if unknown or not self.allowed_formats:
            raise ValueError(f"allowed_formats must be a non-empty subset of {sorted(SUPPORTED_FORMATS)}.")


def limits_from_settings() -> UploadLimits:
    """Limits from ``MIRSAM_UPLOAD_MAX_BYTES`` (bytes, default 15 MiB),
    ``MIRSAM_UPLOAD_MAX_PIXELS`` (width × height, default 40 000 000) and
    ``MIRSAM_UPLOAD_MIN_SIDE`` (pixels, default 256)."""
    return UploadLimits(
        max_bytes=int(getattr(settings, "MIRSAM_UPLOAD_MAX_BYTES", DEFAULT_MAX_BYTES)),
        max_pixels=int(getattr(settings, "MIRSAM_UPLOAD_MAX_PIXELS", DEFAULT_MAX_PIXELS)),
        min_side=int(getattr(settings, "MIRSAM_UPLOAD_MIN_SIDE", DEFAULT_MIN_SIDE)),
    )


def describe_limits(limits: UploadLimits) -> dict[str, Any]:
    """Human values for help text: ``max_mb`` (MiB, shown to people as "MB";
    an int when whole, else rounded to one decimal, two below 1),
    ``max_megapixels`` (likewise), ``min_side_px`` (int),
    ``allowed_formats`` (display names in a fixed order, e.g. ``["JPEG",
    "PNG", "WebP"]``) and ``accept`` (MIME types for ``<input accept>``)."""
    return {
        "max_mb": _human_number(limits.max_bytes / MB),
        "max_megapixels": _human_number(limits.max_pixels / 1_000_000),
        "min_side_px": limits.min_side,
        "allowed_formats": [_OUTPUT[fmt][2] for fmt in _ordered(limits.allowed_formats)],
        "accept": ",".join(_OUTPUT[fmt][0] for fmt in _ordered(limits.allowed_formats)),
    }


def image_clean(*, file: IO[bytes] | UploadedFile, limits: UploadLimits | None = None) -> CleanImage:
    """Check an uploaded image and return a clean re-encoding of it.

    ``file`` is a Django ``UploadedFile`` or any binary file object; it is
    read from the start (rewound when seekable) and at most
    ``limits.max_bytes + 1`` bytes are ever read from it. ``limits`` defaults
    to :func:`limits_from_settings`.

    Checks, in order, each raising :class:`UploadRejected` with its ``code``:

    1. ``too_large`` — ``file.size`` (when the object has one) or the bytes
       actually read exceed ``max_bytes``; an oversized file is refused before
       it is read, and a file that under-reports its size is still cut off.
    2. ``not_an_image`` / ``format`` — only Pillow's JPEG, PNG and WebP
       parsers (those in ``allowed_formats``) are run on the bytes, which
       keeps the other plugins' parsers away from untrusted input; other
       image types (GIF, BMP, TIFF, SVG, HEIC/HEIF, AVIF, ICO, PSD,
       JPEG 2000/XL) are recognised by their signature to name them in the
       message. An allowed signature Pillow cannot parse is ``truncated``.
    3. ``too_many_pixels`` — width × height from the header, before any pixel
       is decoded, against ``max_pixels``; Pillow's own
       ``DecompressionBombError``/``DecompressionBombWarning`` are refused the
       same way.
    4. ``too_small`` — the shorter side under ``min_side`` (rotation does not
       change the shorter side, so this is checked from the header too).
    5. ``truncated`` — the first frame is fully decoded; incomplete or
       damaged pixel data is refused.

    Then the EXIF orientation is applied, colour is normalised (see the
    module docstring for ICC; CMYK → RGB; palette, grey and 1-bit → RGB or
    RGBA; 16-bit → 8-bit, scaled, not clipped) and the pixels are copied into
    a new image and encoded. Stripped: EXIF (GPS included), XMP, IPTC, ICC
    profiles, PNG text chunks, JPEG comments, DPI, thumbnails, every frame
    after the first. Nothing from Pillow's ``info`` dict is written out.

    Memory: the upload is held once as bytes (≤ ``max_bytes``) and the decoded
    image at most twice at a time (about 4 bytes × ``max_pixels`` each).
    """
    limits = limits or limits_from_settings()
    raw = _read_bounded(file, limits=limits)
    img = _open_checked(raw, limits=limits)
    fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "")
    img = _oriented(img)
    img = _output_mode(img, keep_alpha=fmt != "JPEG")
    return _encode(img, fmt=fmt)


# --- steps ------------------------------------------------------------------------


def _read_bounded(file: IO[bytes] | UploadedFile, *, limits: UploadLimits) -> bytes:
    declared = getattr(file, "size", None)
    if isinstance(declared, int) and declared > limits.max_bytes:
        raise _too_large(limits)
    try:
        file.seek(0)
    except (AttributeError, OSError, ValueError):
        pass  # A stream we cannot rewind is read from where it stands.
    chunks: list[bytes] = []
    remaining = limits.max_bytes + 1
    while remaining > 0:
        chunk = file.read(min(_READ_CHUNK, remaining))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    if remaining <= 0:
        raise _too_large(limits)
    return b"".join(chunks)


def _open_checked(raw: bytes, *, limits: UploadLimits) -> Image.Image:
    """Identify, check the header and decode the first frame."""
    formats = _ordered(limits.allowed_formats)
    # The warning becomes an error only inside this block; Pillow's
    # MAX_IMAGE_PIXELS is untouched. catch_warnings swaps the interpreter's
    # filter list, which another thread's catch_warnings could interleave
    # with; that can only lose this belt-and-braces filter, never our own
    # pixel check below, which is what actually guards memory.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(raw), formats=formats)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(limits) from exc
        except _DECODE_ERRORS as exc:
            raise _unidentified(raw, limits=limits) from exc

        fmt = _FORMAT_ALIASES.get(img.format or "", img.format or "")
        if fmt not in limits.allowed_formats:  # Only reachable if Pillow ignores `formats`.
            raise _refused_format(_OUTPUT[fmt][2] if fmt in _OUTPUT else img.format or "?", limits)
        width, height = img.size
        if width * height > limits.max_pixels:
            raise _too_many_pixels(limits)
        if min(width, height) < limits.min_side:
            raise UploadRejected(
                _("This image is too small: each side must be at least %(min)s pixels (this one is %(w)s × %(h)s).")
                % {"min": limits.min_side, "w": width, "h": height},
                code="too_small",
            )
        try:
            img.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(limits) from exc
        except _DECODE_ERRORS as exc:
            raise _damaged() from exc
    return img


def _oriented(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation to the pixels. Unreadable EXIF is not a
    reason to refuse a photo (we drop EXIF anyway): it is shown unrotated."""
    try:
        ImageOps.exif_transpose(img, in_place=True)
    except _DECODE_ERRORS + (KeyError,):
        pass
    return img


def _output_mode(img: Image.Image, *, keep_alpha: bool) -> Image.Image:
    """8-bit RGB, or RGBA when ``keep_alpha`` and the source has transparency,
    in sRGB when the source carried a usable ICC profile."""
    icc = img.info.get("icc_profile")
    target = "RGBA" if keep_alpha and img.has_transparency_data else "RGB"
    if img.mode in _SIXTEEN_BIT_MODES:
        # Pillow's I;16 → L conversion clips at 255 instead of scaling;
        # 65535 / 257 = 255 maps the full range.
        img = img.convert("I").point(lambda value: value / 257).convert("L")
    if img.mode == "CMYK" and icc:
        # CMYK needs its profile before it becomes RGB; Pillow's own
        # conversion (used when there is no usable profile) is a rough one.
        return _to_srgb(img, icc=icc, mode="RGB").convert("RGB")
    if img.mode != target:
        img = img.convert(target)
    return _to_srgb(img, icc=icc, mode=target) if icc else img


def _to_srgb(img: Image.Image, *, icc: bytes, mode: str) -> Image.Image:
    """``img`` converted from its embedded profile to sRGB, or ``img`` itself
    when LittleCMS cannot use the profile (malformed, or for another colour
    space, such as a grey profile on pixels now RGB)."""
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(img, source, _SRGB, outputMode=mode)
    except _CMS_ERRORS:
        return img
    return converted if converted is not None else img


def _encode(img: Image.Image, *, fmt: str) -> CleanImage:
    # A fresh image holds the pixels and nothing else: encoders fall back to
    # `img.info` for some fields (PNG takes `icc_profile` from it), so the
    # decoded image is never the one we save.
    pixels = Image.new(img.mode, img.size)
    pixels.paste(img)
    width, height = pixels.size
    del img
    out = io.BytesIO()
    if fmt == "JPEG":
        pixels.save(out, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    elif fmt == "PNG":
        pixels.save(out, format="PNG")
    else:
        pixels.save(out, format="WEBP", quality=_WEBP_QUALITY)
    data = out.getvalue()
    content_type, extension, _name = _OUTPUT[fmt]
    return CleanImage(
        data=data,
        content_type=content_type,
        extension=extension,
        width=width,
        height=height,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


# --- recognising what Pillow was not allowed to open -----------------------------

_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}


def _sniff(raw: bytes) -> str | None:
    """The name of the image type ``raw`` starts like, or None. Used only to
    word the refusal; never to accept anything."""
    head = raw[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:2] == b"BM" and len(head) >= 18 and struct.unpack("<I", head[14:18])[0] in _BMP_HEADER_SIZES:
        return "BMP"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "TIFF"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AVIF_BRANDS:
            return "AVIF"
        if brand in _HEIF_BRANDS:
            return "HEIC"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ICO"
    if head[:4] == b"8BPS":
        return "PSD"
    if head.startswith(b"\x00\x00\x00\x0cjP  ") or head.startswith(b"\xff\x4f\xff\x51"):
        return "JPEG 2000"
    if head.startswith(b"\xff\x0a") or head.startswith(b"\x00\x00\x00\x0cJXL "):
        return "JPEG XL"
    text = raw[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<") and b"<svg" in text:
        return "SVG"
    return None


def _unidentified(raw: bytes, *, limits: UploadLimits) -> UploadRejected:
    kind = _sniff(raw)
    allowed_names = {_OUTPUT[fmt][2] for fmt in limits.allowed_formats}
    if kind in allowed_names:
        # It starts like a format we take but Pillow could not read its header.
        return _damaged()
    if kind is not None:
        return _refused_format(kind, limits)
    return UploadRejected(
        _("This file is not an image we can read. Please upload a photo in one of these formats: %(formats)s.")
        % {"formats": _format_list(limits)},
        code="not_an_image",
    )


# --- messages ---------------------------------------------------------------------


def _too_large(limits: UploadLimits) -> UploadRejected:
    return UploadRejected(
        _("This file is too large. The maximum is %(max)s MB.") % {"max": _human_number(limits.max_bytes / MB)},
        code="too_large",
    )


def _too_many_pixels(limits: UploadLimits) -> UploadRejected:
    return UploadRejected(
        _("This image has too many pixels. The maximum is %(max)s megapixels; please resize it and try again.")
        % {"max": _human_number(limits.max_pixels / 1_000_000)},
        code="too_many_pixels",
    )


def _refused_format(kind: str, limits: UploadLimits) -> UploadRejected:
    return UploadRejected(
        _("%(kind)s images are not accepted. Please upload a photo in one of these formats: %(formats)s.")
        % {"kind": kind, "formats": _format_list(limits)},
        code="format",
    )


def _damaged() -> UploadRejected:
    return UploadRejected(
        _("This image file is incomplete or damaged. Please export it again and upload the new copy."),
        code="truncated",
    )


def _ordered(formats: frozenset[str]) -> list[str]:
    return [fmt for fmt in ("JPEG", "PNG", "WEBP") if fmt in formats]


def _format_list(limits: UploadLimits) -> str:
    return ", ".join(_OUTPUT[fmt][2] for fmt in _ordered(limits.allowed_formats))


def _human_number(value: float) -> int | float:
    """15.0 → 15, 2.5 → 2.5, 0.25 → 0.25: whole numbers without a decimal point."""
    rounded = round(value, 1 if value >= 1 else 2)
    return int(rounded) if rounded == int(rounded) else rounded
