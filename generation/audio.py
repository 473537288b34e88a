"""Probing and cleaning audio: the recordings people upload (a voice to clone,
a track to put under a video) and the sound files providers send back
(issue 18: voice-over, music, sound effects, talking portraits).

Uploaded audio is personal data like an uploaded photo (docs/product.md,
"Privacy and policy"), so :func:`audio_clean` is to sound what
``generation.uploads.image_clean`` is to pictures: the only door an uploaded
recording goes through before we store it or send it to a provider. It trusts
nothing the client says (name, extension, ``Content-Type``):

1. at most the size limit is read, straight into a private temporary file
   (never the whole upload into memory);
2. the first bytes must be one of the containers we take (MP3, WAV, M4A,
   ADTS AAC, Ogg), and only that container's ffmpeg demuxer is run on it
   (``-f``), with only the decoder of the codec it declares (``-c:a``);
3. the container's own bookkeeping is checked where ffmpeg is lenient: a WAV
   ``data`` chunk that claims more bytes than the file has, an Ogg stream cut
   before its last page;
4. ffmpeg reads the header (:func:`audio_probe`): there must be a sound
   stream in an allowed codec and no picture stream (cover art is not a
   video);
5. the whole stream is decoded once, with ``-xerror`` (a decoding error ends
   the run), and re-encoded as we store it; a stream that decodes to far less
   than its header promised, or that lasts longer or shorter than the
   limits, is refused.

What is stored is a fresh MP3 (LAME, 128 kb/s constant bit rate, 44.1 kHz,
mono or stereo as the source, up to two channels) of the first sound stream
alone: no tags (ID3v1/v2), no cover art, no chapters, no other stream, no
Xing/Info frame (it names the muxer), and the padding bits in which LAME
writes its own name are zeroed (:func:`_scrub_ancillary`; the decoded sound
is bit-for-bit the same). Nothing of the source's metadata survives.

"Truncated", honestly: an MP4 cut before its ``moov`` box, a WAV or Ogg whose
own structure says data is missing, any frame that fails to decode, and an
MP3 whose Xing/VBRI header counts more frames than the file decodes to are
refused. A constant-bit-rate MP3 without such a header cut exactly at a frame
boundary is, byte for byte, a valid shorter file, and is accepted as one.

Every ffmpeg run uses the binary imageio-ffmpeg ships (there is no ffprobe),
a fixed argument list built here, no shell, stdin closed, and a timeout.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from .errors import UploadRejected

log = logging.getLogger(__name__)

MB = 1024 * 1024
DEFAULT_MAX_MB = 20.0
DEFAULT_MAX_SECONDS = 300.0
DEFAULT_MIN_SECONDS = 1.0
#: Reading a header is quick whatever the file; a run this long is a hostile file.
PROBE_TIMEOUT_SECONDS = 20
#: Decoding and encoding the longest allowed recording takes a few seconds.
CLEAN_TIMEOUT_SECONDS = 120
OUTPUT_BITRATE = "128k"
OUTPUT_SAMPLE_RATE = 44100
#: For ``<input type="file" accept>``: the types and extensions browsers give these files.
AUDIO_ACCEPT = (
    "audio/mpeg,audio/mp3,audio/wav,audio/x-wav,audio/wave,audio/mp4,audio/x-m4a,audio/aac,audio/ogg,"
    ".mp3,.wav,.m4a,.aac,.ogg,.oga,.opus"
)

_READ_CHUNK = 1 * MB
_HEAD_BYTES = 64


@dataclass(frozen=True)
class _Container:
    demuxer: str  # ffmpeg's -f name
    codecs: frozenset[str]  # ffmpeg codec (and decoder) names we let through
    content_type: str
    extension: str
    name: str  # as shown to people


_PCM = frozenset({"pcm_u8", "pcm_s16le", "pcm_s24le", "pcm_s32le", "pcm_f32le", "pcm_f64le", "pcm_alaw", "pcm_mulaw"})
CONTAINERS: dict[str, _Container] = {
    "mp3": _Container("mp3", frozenset({"mp3"}), "audio/mpeg", "mp3", "MP3"),
    "wav": _Container("wav", _PCM, "audio/wav", "wav", "WAV"),
    "mp4": _Container("mov", frozenset({"aac", "alac"}), "audio/mp4", "m4a", "M4A"),
    "aac": _Container("aac", frozenset({"aac"}), "audio/aac", "aac", "AAC"),
    "ogg": _Container("ogg", frozenset({"vorbis", "opus"}), "audio/ogg", "ogg", "OGG"),
}
#: ISO BMFF major brands that say "audio only" (iTunes audio, audiobook, protected audio).
M4A_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})


# --- probing ----------------------------------------------------------------------


@dataclass(frozen=True)
class AudioProbe:
    """What ffmpeg read from a file's header.

    ``container`` is ffmpeg's name for the demuxer that opened it ("mp3",
    "wav", "mov,mp4,m4a,3gp,3g2,mj2", "ogg", "aac", "matroska,webm");
    ``audio_codec``, ``channels`` and ``sample_rate`` (Hz) describe the first
    sound stream (``None`` without one, or when ffmpeg does not say);
    ``has_video`` is true for a moving-picture stream, not for cover art
    (an "attached pic"); ``duration_seconds`` is the header's duration,
    ``None`` when unknown, and ``duration_estimated`` is true when ffmpeg only
    guessed it from the bit rate (an MP3 without a Xing header, raw AAC).
    """

    container: str
    audio_codec: str | None
    channels: int | None
    sample_rate: int | None
    has_audio: bool
    has_video: bool
    duration_seconds: float | None
    duration_estimated: bool = False


_INPUT_LINE = re.compile(r"^Input #0, ([\w,]+), from ", re.MULTILINE)
# A metadata value's line breaks are printed as continuation lines that start
# with "<indent>  <padding>: ", so a tag's text cannot begin a line like these.
_DURATION_LINE = re.compile(r"^  Duration: (?:(\d+):(\d{2}):(\d{2}(?:\.\d+)?)|N/A)", re.MULTILINE)
_STREAM_LINE = re.compile(
    r"^  Stream #0:(\d+)(?:\[0x[0-9a-f]+\])?(?:\([^)]*\))?: (Audio|Video|Subtitle|Data|Attachment): (.*)$",
    re.MULTILINE,
)
_ESTIMATED = re.compile(r"^\[in#0/[\w,]+ @ 0x[0-9a-f]+\] Estimating duration from bitrate", re.MULTILINE)
_LAYOUT_CHANNELS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6, "7.1": 8}


def audio_probe(
    path: str | os.PathLike[str], *, demuxer: str | None = None, timeout: float = PROBE_TIMEOUT_SECONDS
) -> AudioProbe | None:
    """Read the header of the file at ``path`` with ``ffmpeg -i`` (and only
    with the ``demuxer`` named, when given: "mp3", "wav", "mov", "ogg",
    "aac", "matroska"). Returns ``None`` when ffmpeg cannot open it as a
    media file at all, or when its report is not one we can read without
    doubt (a stream listed twice or out of order, which only a crafted tag
    produces). Raises ``subprocess.TimeoutExpired`` after ``timeout``
    seconds and ``OSError`` when the ffmpeg binary cannot be run."""
    args = ["-f", demuxer] if demuxer else []
    done = _ffmpeg([*args, "-i", _file_url(path)], timeout=timeout)
    return _parse_probe(done.stderr.decode("utf-8", errors="replace"))


def _parse_probe(report: str) -> AudioProbe | None:
    inputs = _INPUT_LINE.findall(report)
    durations = list(_DURATION_LINE.finditer(report))
    if len(inputs) != 1 or len(durations) > 1:
        return None
    duration: float | None = None
    if durations and durations[0].group(1) is not None:
        hours, minutes, seconds = durations[0].group(1, 2, 3)
        duration = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    audio_codec: str | None = None
    channels = sample_rate = None
    has_audio = has_video = False
    for expected, match in enumerate(_STREAM_LINE.finditer(report)):
        index, kind, details = int(match.group(1)), match.group(2), match.group(3)
        if index != expected:
            return None
        if kind == "Video" and "(attached pic)" not in details:
            has_video = True
        elif kind == "Audio" and not has_audio:
            has_audio = True
            fields = [part.strip() for part in details.split(",")]
            audio_codec = fields[0].split(" ", 1)[0] or None
            sample_rate = next((int(f[:-3]) for f in fields if re.fullmatch(r"\d+ Hz", f)), None)
            channels = next((n for f in fields if (n := _channel_count(f)) is not None), None)
    return AudioProbe(
        container=inputs[0],
        audio_codec=audio_codec,
        channels=channels,
        sample_rate=sample_rate,
        has_audio=has_audio,
        has_video=has_video,
        duration_seconds=duration,
        duration_estimated=bool(_ESTIMATED.search(report)),
    )


def _channel_count(field: str) -> int | None:
    layout = field.split("(", 1)[0]
    if layout in _LAYOUT_CHANNELS:
        return _LAYOUT_CHANNELS[layout]
    match = re.fullmatch(r"(\d+) channels", field)
    return int(match.group(1)) if match else None


def audio_sniff(head: bytes) -> str | None:
    """Which container (a key of :data:`CONTAINERS`: "mp3", "wav", "mp4",
    "aac", "ogg") the first bytes of a file look like, or ``None``. Only a
    first guess: ffmpeg still has to read the file as that container. "mp4"
    is any ISO BMFF file (video too: the caller tells them apart)."""
    if head[:3] == b"ID3" and len(head) >= 4 and head[3] in (2, 3, 4):
        return "mp3"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp":
        return "mp4"
    if head[:4] == b"OggS":
        return "ogg"
    if len(head) >= 4:
        word = struct.unpack(">I", head[:4])[0]
        if word >> 20 == 0xFFF and (word >> 17) & 3 == 0:
            return "aac"  # ADTS: 12 sync bits, then layer 00
        version, layer = (word >> 19) & 3, (word >> 17) & 3
        bitrate, rate = (word >> 12) & 0xF, (word >> 10) & 3
        if word >> 21 == 0x7FF and version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3:
            return "mp3"  # an MPEG audio frame header (11 sync bits), with no ID3 tag before it
    return None


# What else a file may start like, only to word the refusal ("image", "audio"
# in a format we do not take, "video").
_OTHER_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "PNG", "image"),
    (b"\xff\xd8\xff", 0, "JPEG", "image"),
    (b"GIF8", 0, "GIF", "image"),
    (b"WEBP", 8, "WebP", "image"),
    (b"%PDF", 0, "PDF", "document"),
    (b"fLaC", 0, "FLAC", "audio"),
    (b"AIFF", 8, "AIFF", "audio"),
    (b"AIFC", 8, "AIFF", "audio"),
    (b"#!AMR", 0, "AMR", "audio"),
    (b"MThd", 0, "MIDI", "audio"),
    (b"\x30\x26\xb2\x75\x8e\x66\xcf\x11", 0, "WMA", "audio"),
    (b"\x1a\x45\xdf\xa3", 0, "WebM", "audio"),
    (b"AVI ", 8, "AVI", "video"),
)


def _sniff_other(head: bytes) -> tuple[str, str] | None:
    for signature, offset, kind, category in _OTHER_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return kind, category
    return None


# --- limits -----------------------------------------------------------------------


@dataclass(frozen=True)
class AudioLimits:
    """What an uploaded recording may be: ``max_bytes`` in bytes,
    ``max_seconds`` and ``min_seconds`` of sound (decoded, not as the header
    says)."""

    max_bytes: int = int(DEFAULT_MAX_MB * MB)
    max_seconds: float = DEFAULT_MAX_SECONDS
    min_seconds: float = DEFAULT_MIN_SECONDS

    def __post_init__(self) -> None:
        # A misconfigured limit should fail loudly, not let everything (or nothing) through.
        if self.max_bytes < 1 or self.min_seconds <= 0 or self.max_seconds <= self.min_seconds:
            raise ValueError("Audio limits must be positive, with max_seconds above min_seconds.")


def audio_limits_from_settings() -> AudioLimits:
    """Limits from ``MIRSAM_AUDIO_UPLOAD_MAX_MB`` (MiB, default 20),
    ``MIRSAM_AUDIO_MAX_SECONDS`` (default 300) and
    ``MIRSAM_AUDIO_MIN_SECONDS`` (default 1)."""
    return AudioLimits(
        max_bytes=int(float(getattr(settings, "MIRSAM_AUDIO_UPLOAD_MAX_MB", DEFAULT_MAX_MB)) * MB),
        max_seconds=float(getattr(settings, "MIRSAM_AUDIO_MAX_SECONDS", DEFAULT_MAX_SECONDS)),
        min_seconds=float(getattr(settings, "MIRSAM_AUDIO_MIN_SECONDS", DEFAULT_MIN_SECONDS)),
    )


def describe_audio_limits(limits: AudioLimits | None = None) -> str:
    """The help text under an audio upload field, translated: "MP3, WAV, M4A
    or OGG; up to 20 MB and 5 minutes." (``limits`` defaults to the settings)."""
    limits = limits or audio_limits_from_settings()
    return _("MP3, WAV, M4A or OGG; up to %(max_mb)s MB and %(duration)s.") % {
        "max_mb": _human_number(limits.max_bytes / MB),
        "duration": human_duration(limits.max_seconds),
    }


def human_duration(seconds: float) -> str:
    """A length for people: whole minutes as minutes ("5 minutes"), else
    seconds ("90 seconds", "1.5 seconds")."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = int(seconds // 60)
        return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}
    if seconds == int(seconds):
        count = int(seconds)
        return ngettext("%(count)s second", "%(count)s seconds", count) % {"count": count}
    return _("%(seconds)s seconds") % {"seconds": _human_number(seconds)}


# --- cleaning uploads -------------------------------------------------------------


@dataclass(frozen=True)
class CleanAudio:
    """An accepted recording, re-encoded as a bare MP3.

    ``data`` is the whole file; ``size`` is ``len(data)`` in bytes;
    ``duration_seconds`` is the decoded length of the sound;
    ``sha256`` is the hex digest of ``data``. The file is at most about
    ``max_seconds`` × 16 kB (128 kb/s), so it is held as bytes.
    """

    data: bytes
    content_type: str
    extension: str
    duration_seconds: float
    size: int
    sha256: str


def audio_clean(*, file: IO[bytes] | UploadedFile, limits: AudioLimits | None = None) -> CleanAudio:
    """Check an uploaded recording and return a clean MP3 of its sound.

    ``file`` is a Django ``UploadedFile`` or any binary file object; it is
    read from the start (rewound when seekable) and at most
    ``limits.max_bytes + 1`` bytes are ever read from it, in chunks, into a
    private temporary file (removed before returning). ``limits`` defaults to
    :func:`audio_limits_from_settings`.

    Raises :class:`UploadRejected` with its ``code``, checked in this order:

    - ``too_large``: ``file.size`` (when the object has one) or the bytes
      read exceed ``max_bytes`` (refused before reading, or cut off);
    - ``empty``: no bytes at all;
    - ``not_audio``: the bytes are not a sound container (text, an image, a
      PDF…); ``format``: a sound format we do not take (FLAC, AIFF, WMA…) or
      a codec we do not take inside an allowed container (MP2, ADPCM…);
      ``video``: a video file (an MP4, MOV or AVI with a picture track);
      ``no_audio``: an allowed container with no sound stream in it;
    - ``truncated``: incomplete or damaged (see the module docstring);
    - ``unreadable``: ffmpeg did not finish within its timeout;
    - ``too_long`` / ``too_short``: the decoded sound is longer than
      ``max_seconds`` or shorter than ``min_seconds``.

    ``OSError`` passes through when the ffmpeg binary cannot be run (a
    broken installation, not the file's fault).
    """
    limits = limits or audio_limits_from_settings()
    with tempfile.TemporaryDirectory(prefix="mirsam-audio-") as workdir:
        source = Path(workdir) / "source"
        size, head = _copy_bounded(file, source, limits=limits)
        if size == 0:
            raise UploadRejected(_("This file is empty. Please choose a sound file."), code="empty")
        key = audio_sniff(head)
        if key is None:
            raise _not_audio(head)
        container = CONTAINERS[key]
        if key == "wav":
            _check_wav(source, size)
        elif key == "ogg":
            _check_ogg(source, size)
        try:
            probe = audio_probe(source, demuxer=container.demuxer)
        except subprocess.TimeoutExpired as exc:
            raise _unreadable() from exc
        probe = _checked_probe(probe, key=key, limits=limits)
        target = Path(workdir) / "clean.mp3"
        decoded = _encode(source, target, container=container, probe=probe, limits=limits)
        if decoded > limits.max_seconds + 0.1:  # an encoded frame is 26 ms
            raise _too_long(limits)
        header = probe.duration_seconds
        if header and not probe.duration_estimated and decoded + max(0.5, header * 0.05) < header:
            raise _damaged()  # far less sound than the header promised: a cut file
        if decoded < limits.min_seconds:
            raise UploadRejected(
                _("This recording is too short. It must last at least %(min)s.")
                % {"min": human_duration(limits.min_seconds)},
                code="too_short",
            )
        data = _scrub_ancillary(target.read_bytes())
    return CleanAudio(
        data=data,
        content_type="audio/mpeg",
        extension="mp3",
        duration_seconds=round(decoded, 3),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def _copy_bounded(file: IO[bytes] | UploadedFile, dest: Path, *, limits: AudioLimits) -> tuple[int, bytes]:
    """Copy at most ``max_bytes`` of ``file`` to ``dest``; returns the bytes
    copied and the first :data:`_HEAD_BYTES`. As ``uploads._read_bounded``,
    but to disk: ffmpeg reads a path, and a big file never sits in memory."""
    declared = getattr(file, "size", None)
    if isinstance(declared, int) and declared > limits.max_bytes:
        raise _too_large(limits)
    try:
        file.seek(0)
    except (AttributeError, OSError, ValueError):
        pass  # A stream we cannot rewind is read from where it stands.
    head = b""
    remaining = limits.max_bytes + 1
    with dest.open("wb") as out:
        while remaining > 0:
            chunk = file.read(min(_READ_CHUNK, remaining))
            if not chunk:
                break
            if len(head) < _HEAD_BYTES:
                head += chunk[: _HEAD_BYTES - len(head)]
            out.write(chunk)
            remaining -= len(chunk)
    if remaining <= 0:
        raise _too_large(limits)
    return limits.max_bytes + 1 - remaining, head


def _check_wav(path: Path, size: int) -> None:
    """Walk the RIFF chunks up to ``data``: a ``data`` chunk that claims more
    bytes than the file holds is a cut file (ffmpeg would quietly play what
    is there). A size of 0 or 0xFFFFFFFF is a writer that did not know the
    length (streamed); ffmpeg then reads to the end of the file."""
    with path.open("rb") as f:
        f.seek(12)
        for _chunk in range(1000):
            header = f.read(8)
            if len(header) < 8:
                raise _damaged()  # no data chunk
            chunk_id, length = header[:4], struct.unpack("<I", header[4:])[0]
            if chunk_id == b"data":
                if length not in (0, 0xFFFFFFFF) and f.tell() + length > size:
                    raise _damaged()
                return
            f.seek(length + (length & 1), os.SEEK_CUR)  # chunks are padded to even sizes
    raise _damaged()


def _check_ogg(path: Path, size: int) -> None:
    """Walk the Ogg pages (RFC 3533 §6): each must be complete, and every
    logical stream that begins (BOS flag) must end (EOS flag). A cut file
    ends in a partial page or before its last one; ffmpeg would play it as a
    shorter recording."""
    open_streams: set[int] = set()
    offset = 0
    with path.open("rb") as f:
        while offset < size:
            header = f.read(27)
            if len(header) < 27 or header[:4] != b"OggS":
                raise _damaged()
            flags, serial, segments = header[5], struct.unpack("<I", header[14:18])[0], header[26]
            lacing = f.read(segments)
            if len(lacing) < segments:
                raise _damaged()
            offset += 27 + segments + sum(lacing)
            if offset > size:
                raise _damaged()
            if flags & 0x02:
                open_streams.add(serial)
            if flags & 0x04:
                open_streams.discard(serial)
            f.seek(offset)
    if open_streams:
        raise _damaged()


def _checked_probe(probe: AudioProbe | None, *, key: str, limits: AudioLimits) -> AudioProbe:
    container = CONTAINERS[key]
    if probe is None:
        # It starts like a container we take, but ffmpeg cannot open it as one
        # (an MP4 cut before its moov box, text behind an "ID3" …).
        raise _damaged()
    if probe.has_video and not probe.has_audio:
        raise UploadRejected(
            _("This is a video with no sound. Please upload a recording as MP3, WAV, M4A or OGG."), code="no_audio"
        )
    if probe.has_video:
        raise UploadRejected(
            _("This is a video file. Please upload the sound alone, as MP3, WAV, M4A or OGG."), code="video"
        )
    if not probe.has_audio:
        raise UploadRejected(
            _("This file has no sound in it. Please upload a recording as MP3, WAV, M4A or OGG."), code="no_audio"
        )
    if probe.audio_codec not in container.codecs:
        raise UploadRejected(
            _(
                "This %(container)s file holds sound in a form we do not accept (%(codec)s). "
                "Please export it as MP3 and try again."
            )
            % {"container": container.name, "codec": probe.audio_codec or "?"},
            code="format",
        )
    if probe.duration_seconds and not probe.duration_estimated and probe.duration_seconds > limits.max_seconds + 1:
        raise _too_long(limits)  # said by the header; no need to decode it to know
    return probe


def _encode(source: Path, target: Path, *, container: _Container, probe: AudioProbe, limits: AudioLimits) -> float:
    """Decode the whole first sound stream (a decoding error ends the run)
    and write it to ``target`` as a bare MP3. Returns the seconds decoded,
    at most ``max_seconds`` + 1: a file that lies in its header about its
    length is cut off rather than decoded for hours."""
    channels = "1" if probe.channels == 1 else "2"
    args = [
        *("-v", "error", "-xerror"),
        *("-f", container.demuxer, "-c:a", str(probe.audio_codec), "-i", _file_url(source)),
        *("-map", "0:a:0", "-map_metadata", "-1", "-map_chapters", "-1", "-vn", "-sn", "-dn"),
        *("-t", f"{limits.max_seconds + 1:.3f}"),
        *("-c:a", "libmp3lame", "-b:a", OUTPUT_BITRATE, "-ar", str(OUTPUT_SAMPLE_RATE), "-ac", channels),
        # No ID3v2 tag, no ID3v1 tag, no Xing/Info frame (it carries "Lavf"/"LAME").
        *("-id3v2_version", "0", "-write_id3v1", "0", "-write_xing", "0"),
        *("-fflags", "+bitexact", "-flags:a", "+bitexact"),
        *("-progress", "pipe:1", "-nostats", "-f", "mp3", "-y", _file_url(target)),
    ]
    try:
        done = _ffmpeg(args, timeout=CLEAN_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as exc:
        raise _unreadable() from exc
    if done.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        log.info("audio decode refused: %s", done.stderr[-300:].decode("utf-8", errors="replace"))
        raise _damaged()
    times = re.findall(rb"^out_time_us=(\d+)$", done.stdout, re.MULTILINE)
    return int(times[-1]) / 1_000_000 if times else 0.0


# --- zeroing LAME's signature -----------------------------------------------------

# MPEG-1 Layer III bit rates (kb/s) by index, and sample rates (Hz): what
# our own encoder writes (44.1 kHz, so always MPEG-1).
_L3_BITRATES = (0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0)
_L3_RATES = (44100, 48000, 32000)


class _NotOurMP3(ValueError):
    pass


def _scrub_ancillary(data: bytes) -> bytes:
    """``data`` (an MP3 we just encoded) with every bit that is not frame
    header, side information or main (sound) data set to zero.

    LAME writes "LAME<version>" into the bits a frame does not need
    (ISO 11172-3 ancillary data, which decoders skip). Each frame's side
    information says where its main data begins (``main_data_begin``, bytes
    back into the bit reservoir) and how long it is (``part2_3_length`` per
    granule and channel), so the unused bits are exactly what lies between
    one frame's main data and the next. If the bytes are not the MPEG-1
    Layer III stream we expect, they are returned unchanged (and logged):
    the signature names our encoder, never the uploader.
    """
    try:
        return _scrubbed(data)
    except _NotOurMP3 as exc:
        log.warning("MP3 ancillary data left as encoded: %s", exc)
        return data


def _scrubbed(data: bytes) -> bytes:
    buf = bytearray(data)
    areas: list[tuple[int, int]] = []  # (file offset, length) of each frame's main-data area
    used: list[tuple[int, int]] = []  # [start, end) in bits of the joined areas
    pos = logical = 0
    while pos < len(buf):
        if pos + 4 > len(buf):
            raise _NotOurMP3(f"trailing bytes at {pos}")
        word = struct.unpack(">I", buf[pos : pos + 4])[0]
        if word >> 21 != 0x7FF or (word >> 19) & 3 != 3 or (word >> 17) & 3 != 1:
            raise _NotOurMP3(f"no MPEG-1 Layer III header at {pos}")
        bitrate, rate = _L3_BITRATES[(word >> 12) & 0xF], (word >> 10) & 3
        if not bitrate or rate == 3:
            raise _NotOurMP3(f"free-format or reserved frame at {pos}")
        length = 144_000 * bitrate // _L3_RATES[rate] + ((word >> 9) & 1)
        channels = 1 if (word >> 6) & 3 == 3 else 2
        side_start = pos + 4 + (0 if (word >> 16) & 1 else 2)  # a CRC follows when the bit is 0
        side_length = 17 if channels == 1 else 32
        if pos + length > len(buf) or side_start + side_length > pos + length:
            raise _NotOurMP3(f"short frame at {pos}")
        side = int.from_bytes(buf[side_start : side_start + side_length], "big")
        total = side_length * 8

        def bits(offset: int, width: int, side: int = side, total: int = total) -> int:
            return (side >> (total - offset - width)) & ((1 << width) - 1)

        main_data_begin = bits(0, 9)
        offset = 9 + (5 if channels == 1 else 3) + 4 * channels  # private bits, scfsi
        main_bits = 0
        for _granule_channel in range(2 * channels):
            main_bits += bits(offset, 12)  # part2_3_length; 59 bits of side info per granule and channel
            offset += 59
        start = logical - main_data_begin
        if start < 0 or (used and start * 8 < used[-1][1]):
            raise _NotOurMP3(f"main data overlaps at {pos}")
        used.append((start * 8, start * 8 + main_bits))
        area = side_start + side_length
        areas.append((area, pos + length - area))
        logical += pos + length - area
        pos += length
    if used and used[-1][1] > logical * 8:
        raise _NotOurMP3("main data runs past the end")
    main = bytearray().join(buf[a : a + n] for a, n in areas)
    cursor = 0
    for start, end in used:
        _zero_bits(main, cursor, start)
        cursor = end
    _zero_bits(main, cursor, logical * 8)
    offset = 0
    for area, n in areas:
        buf[area : area + n] = main[offset : offset + n]
        offset += n
    return bytes(buf)


def _zero_bits(buf: bytearray, start: int, end: int) -> None:
    """Clear bits [start, end) of ``buf``, most significant bit first."""
    if start >= end:
        return
    first, last = start // 8, (end - 1) // 8
    if first == last:
        mask = ((0xFF >> (start % 8)) & (0xFF << (7 - (end - 1) % 8))) & 0xFF
        buf[first] &= ~mask & 0xFF
        return
    buf[first] &= (0xFF << (8 - start % 8)) & 0xFF if start % 8 else 0
    buf[first + 1 : last] = bytes(last - first - 1)
    buf[last] &= 0xFF >> ((end - 1) % 8 + 1)


# --- running ffmpeg ---------------------------------------------------------------


def _ffmpeg(args: list[str], *, timeout: float) -> subprocess.CompletedProcess[bytes]:
    import imageio_ffmpeg

    return subprocess.run(  # noqa: S603 - fixed binary; arguments built here, no shell
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def _file_url(path: str | os.PathLike[str]) -> str:
    # "file:" so that a path is never read as another protocol ("http:…", "concat:…").
    return "file:" + os.fspath(path)


def probe_file(file: IO[bytes], *, demuxer: str) -> AudioProbe | None:
    """:func:`audio_probe` of a file object (copied to a temporary file,
    then rewound): for provider outputs, which arrive as spooled files.
    Returns ``None`` also when ffmpeg times out or cannot be run (logged):
    a video is still kept then, and a sound file is refused."""
    with tempfile.NamedTemporaryFile(prefix="mirsam-probe-") as tmp:
        file.seek(0)
        shutil.copyfileobj(file, tmp)
        tmp.flush()
        file.seek(0)
        try:
            return audio_probe(tmp.name, demuxer=demuxer)
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("probe of a provider output failed: %s", exc)
            return None


# --- messages ---------------------------------------------------------------------


def _too_large(limits: AudioLimits) -> UploadRejected:
    return UploadRejected(
        _("This file is too large. The maximum is %(max)s MB.") % {"max": _human_number(limits.max_bytes / MB)},
        code="too_large",
    )


def _too_long(limits: AudioLimits) -> UploadRejected:
    return UploadRejected(
        _("This recording is too long. The maximum is %(max)s; please shorten it and try again.")
        % {"max": human_duration(limits.max_seconds)},
        code="too_long",
    )


def _damaged() -> UploadRejected:
    return UploadRejected(
        _("This audio file is incomplete or damaged. Please export it again and upload the new copy."),
        code="truncated",
    )


def _unreadable() -> UploadRejected:
    return UploadRejected(
        _("We could not finish reading this audio file. Please export it again as MP3 and try again."),
        code="unreadable",
    )


def _not_audio(head: bytes) -> UploadRejected:
    other = _sniff_other(head)
    if other is not None:
        kind, category = other
        if category == "audio":
            return UploadRejected(
                _("%(kind)s audio files are not accepted. Please upload MP3, WAV, M4A or OGG.") % {"kind": kind},
                code="format",
            )
        if category == "video":
            return UploadRejected(
                _("This is a video file. Please upload the sound alone, as MP3, WAV, M4A or OGG."), code="video"
            )
        return UploadRejected(
            _("This is a %(kind)s file, not a recording. Please upload MP3, WAV, M4A or OGG.") % {"kind": kind},
            code="not_audio",
        )
    return UploadRejected(
        _("This file is not a recording we can read. Please upload MP3, WAV, M4A or OGG."), code="not_audio"
    )


def _human_number(value: float) -> int | float:
    """20.0 → 20, 2.5 → 2.5, 0.25 → 0.25: whole numbers without a decimal point."""
    rounded = round(value, 1 if value >= 1 else 2)
    return int(rounded) if rounded == int(rounded) else rounded
