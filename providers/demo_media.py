"""Offline media for the ``demo`` provider: real MP4 clips (also from a first
and a last frame), their posters, avatar variants of an uploaded photo,
pictures that show the reference images they were given, the demo tools
(an upscale, a background removal), and sound (issue 18): MP3 speech and
dialogue that sound like voices, short tunes, sound effects, and talking
portraits and lip-syncs whose mouth moves with a speech. All made here with
Pillow and the ffmpeg binary that ships with imageio-ffmpeg (no network, no
models, no numpy: sound is synthesised from wavetables in plain Python).

Pure functions: bytes in, bytes out (or written to an ``out`` file). Every
MP4 is H.264 yuv420p with ``+faststart`` (AAC sound), every sound an MP3, so
browsers play them. Errors are :class:`MediaError` (an input image, video or
sound that cannot be read, an ffmpeg failure or timeout); the adapter turns
them into ``ProviderError``.
"""

from __future__ import annotations

import array
import colorsys
import contextlib
import functools
import hashlib
import io
import math
import os
import random
import re
import shutil
import subprocess  # runs only the bundled ffmpeg with a fixed argument list
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO

import imageio_ffmpeg
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageMath, ImageOps, ImageStat

#: Long side of a video frame, in pixels.
VIDEO_LONG_SIDE = 640
#: Longest clip :func:`render_mp4` makes, in seconds (a demo never needs more).
MAX_DURATION_SECONDS = 60
#: Long side cap of an avatar variant, in pixels.
AVATAR_LONG_SIDE = 1024
#: Styles :func:`avatar_variant` knows; anything else falls back to the first.
AVATAR_STYLES = ("cartoon", "posterise", "duotone", "sketch", "pop")

#: Longest side an upscale makes, in pixels: a ×4 of a large picture stops
#: there (a 768 px demo picture ×4 is 3072 px, within it).
UPSCALE_MAX_SIDE = 4096
#: Most reference images :func:`with_references` lays out (more are ignored).
MAX_REFERENCES = 4

#: How far a first-frame clip zooms in over its duration (1.2 = 20 %).
_ZOOM = 1.2
#: Share of a clip with a last frame spent dissolving into it (the end).
_DISSOLVE = 0.5
#: Seconds ffmpeg may take for one clip before we give up.
_FFMPEG_TIMEOUT_SECONDS = 120
_RGB = tuple[int, int, int]


class MediaError(ValueError):
    """An input image could not be read, or ffmpeg failed to encode."""


# --- video ---------------------------------------------------------------------


def video_size(aspect_ratio: str) -> tuple[int, int]:
    """``(width, height)`` in pixels of a clip for ``aspect_ratio`` ("16:9",
    "9:16", …; anything unreadable is square): the long side is
    :data:`VIDEO_LONG_SIDE`, both sides even (yuv420p needs it) and ≥ 64."""
    try:
        w, h = (int(x) for x in aspect_ratio.split(":"))
        if w <= 0 or h <= 0:
            raise ValueError(aspect_ratio)
    except ValueError:
        w, h = 1, 1
    long_side, short_side = VIDEO_LONG_SIDE, VIDEO_LONG_SIDE * min(w, h) / max(w, h)
    short_even = max(64, 2 * round(short_side / 2))
    return (long_side, short_even) if w >= h else (short_even, long_side)


def render_mp4(
    *,
    prompt: str,
    aspect_ratio: str,
    duration_seconds: int,
    out: IO[bytes],
    fps: int = 12,
    first_frame: bytes | None = None,
    last_frame: bytes | None = None,
    seed: str = "",
    start_seconds: float = 0.0,
    audio: bool = False,
) -> None:
    """Write an H.264 MP4 (yuv420p, ``+faststart``) of ``duration_seconds``
    seconds at ``fps`` frames per second into ``out`` (written from its current
    position, not rewound). Frames are :func:`video_size` (aspect_ratio).

    Without ``first_frame`` the frames are a scrolling gradient with soft blobs
    drifting over it, colours and paths taken from a hash of ``seed`` (the
    prompt when empty), the prompt written at the bottom. With ``first_frame``
    (the bytes of any image Pillow reads) the clip is a slow zoom into that
    picture, cropped to fill the frame, with the prompt on it. With
    ``last_frame`` as well, the second half of the clip dissolves into that
    picture (cropped to fill the frame), and the last frame is it. (Both
    frames carry the prompt's caption, as every frame does.)
    ``start_seconds`` shifts the animation clock, so a clip rendered with the
    same ``seed`` and ``start_seconds`` = the earlier clip's length continues
    it. ``audio`` adds a silent AAC stereo track.

    Raises ``ValueError`` for a duration outside 1…:data:`MAX_DURATION_SECONDS`
    or ``fps`` < 1, :class:`MediaError` for an unreadable ``first_frame`` or
    ``last_frame`` or an ffmpeg failure.
    """
    if not 1 <= duration_seconds <= MAX_DURATION_SECONDS:
        raise ValueError(f"duration_seconds must be 1…{MAX_DURATION_SECONDS}, not {duration_seconds}")
    if fps < 1:
        raise ValueError(f"fps must be ≥ 1, not {fps}")
    scene = _Scene.build(
        prompt=prompt,
        aspect_ratio=aspect_ratio,
        first_frame=first_frame,
        last_frame=last_frame,
        seed=seed,
        start_seconds=start_seconds,
        duration_seconds=duration_seconds,
        fps=fps,
    )
    width, height = scene.size
    frames = duration_seconds * fps
    with tempfile.TemporaryDirectory(prefix="mirsam-demo-") as tmp:
        target = os.path.join(tmp, "out.mp4")
        command = [
            _ffmpeg(),
            "-hide_banner",
            "-loglevel",
            "error",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{width}x{height}",
            "-r",
            str(fps),
            "-i",
            "-",
        ]
        if audio:
            command += ["-f", "lavfi", "-t", str(duration_seconds), "-i", "anullsrc=r=44100:cl=stereo"]
            command += ["-map", "0:v", "-map", "1:a", "-c:a", "aac", "-b:a", "32k", "-shortest"]
        command += [*_H264, "-g", str(fps * 2), "-f", "mp4", "-y", target]  # a keyframe every 2 s keeps seeking cheap
        _encode_frames(command, (scene.frame(i / fps).tobytes() for i in range(frames)))
        with open(target, "rb") as src:
            shutil.copyfileobj(src, out, 256 * 1024)


def render_poster(
    *,
    prompt: str,
    aspect_ratio: str,
    first_frame: bytes | None = None,
    seed: str = "",
    start_seconds: float = 0.0,
) -> bytes:
    """A PNG of the first frame of the clip :func:`render_mp4` makes with the
    same arguments: :func:`video_size` (aspect_ratio) pixels, RGB.

    Raises :class:`MediaError` for an unreadable ``first_frame``."""
    scene = _Scene.build(
        prompt=prompt,
        aspect_ratio=aspect_ratio,
        first_frame=first_frame,
        seed=seed,
        start_seconds=start_seconds,
        duration_seconds=1,  # the first frame does not depend on the length
    )
    return _png(scene.frame(0.0))


@functools.cache
def _ffmpeg() -> str:
    exe: str = imageio_ffmpeg.get_ffmpeg_exe()
    return exe


@dataclass(frozen=True)
class _Blob:
    sprite: Image.Image  # RGBA, already blurred
    freq: tuple[float, float]  # Hz along x and y
    phase: tuple[float, float]  # turns


@dataclass(frozen=True)
class _Scene:
    """Everything about a clip that does not change per frame, drawn once, so
    each frame is a crop and a few pastes (fast enough for 12 fps × 60 s)."""

    size: tuple[int, int]
    start: float
    duration: float
    overlay: Image.Image  # RGBA text layer, frame-sized
    background: Image.Image | None = None  # RGB, twice the frame height, scrolls
    blobs: tuple[_Blob, ...] = ()
    picture: Image.Image | None = None  # RGB, _ZOOM × frame size, for first-frame clips
    pan: tuple[float, float] = (0.0, 0.0)  # where the zoom heads, −1…1 of the free margin
    last: Image.Image | None = None  # RGB, frame-sized: what the clip ends on
    fps: int = 12

    @classmethod
    def build(
        cls,
        *,
        prompt: str,
        aspect_ratio: str,
        first_frame: bytes | None,
        seed: str,
        start_seconds: float,
        duration_seconds: int,
        last_frame: bytes | None = None,
        fps: int = 12,
    ) -> _Scene:
        width, height = video_size(aspect_ratio)
        digest = hashlib.sha256((seed or prompt).encode()).digest()
        overlay = text_layer(prompt, (width, height))
        last = None
        if last_frame is not None:
            last = ImageOps.fit(_open_image(last_frame), (width, height), Image.Resampling.LANCZOS)
        if first_frame is not None:
            picture = ImageOps.fit(
                _open_image(first_frame),
                (math.ceil(width * _ZOOM), math.ceil(height * _ZOOM)),
                Image.Resampling.LANCZOS,
            )
            pan = (digest[0] / 127.5 - 1, digest[1] / 127.5 - 1)
            return cls(
                (width, height),
                start_seconds,
                duration_seconds,
                overlay,
                picture=picture,
                pan=pan,
                last=last,
                fps=fps,
            )
        colors = [(digest[i], digest[i + 1], digest[i + 2]) for i in range(0, 18, 3)]
        # A vertical gradient top→bottom→top, so scrolling it loops without a seam.
        ramp = Image.linear_gradient("L").resize((width, height))
        loop = Image.new("L", (width, 2 * height))
        loop.paste(ramp, (0, 0))
        loop.paste(ImageOps.flip(ramp), (0, height))
        background = ImageOps.colorize(loop, colors[0], colors[1])
        blur = min(width, height) / 30
        blobs = []
        for i in range(6):
            r = round((0.1 + digest[i] / 255 * 0.25) * min(width, height))
            pad = round(blur * 3)
            color = colors[2 + i % 4]
            # Transparent pixels carry the blob's colour, so the blur fades it out without a dark rim.
            sprite = Image.new("RGBA", (2 * (r + pad), 2 * (r + pad)), (*color, 0))
            ImageDraw.Draw(sprite).ellipse([pad, pad, pad + 2 * r, pad + 2 * r], fill=(*color, 150))
            b = digest[18 + i * 2 : 20 + i * 2]
            blobs.append(
                _Blob(
                    sprite=sprite.filter(ImageFilter.GaussianBlur(radius=blur)),
                    freq=(0.04 + b[0] / 255 * 0.16, 0.04 + b[1] / 255 * 0.16),
                    phase=(digest[6 + i] / 255, digest[12 + i] / 255),
                )
            )
        return cls(
            (width, height),
            start_seconds,
            duration_seconds,
            overlay,
            background=background,
            blobs=tuple(blobs),
            last=last,
            fps=fps,
        )

    def frame(self, t: float) -> Image.Image:
        """The RGB frame ``t`` seconds into this clip."""
        width, height = self.size
        if self.picture is not None:
            img = self._zoom(min(1.0, max(0.0, t / self.duration)))
        else:
            assert self.background is not None
            clock = self.start + t
            # One full scroll of the gradient every 8 s.
            offset = round((clock / 8.0) % 1.0 * height)
            img = self.background.crop((0, offset, width, offset + height))
            for blob in self.blobs:
                cx = width * (0.5 + 0.4 * math.sin(2 * math.pi * (clock * blob.freq[0] + blob.phase[0])))
                cy = height * (0.5 + 0.4 * math.cos(2 * math.pi * (clock * blob.freq[1] + blob.phase[1])))
                sw, sh = blob.sprite.size
                img.paste(blob.sprite, (round(cx - sw / 2), round(cy - sh / 2)), blob.sprite)
        if self.last is not None:
            # The clip's last frame is at duration − 1/fps: the dissolve ends exactly there.
            end = max(self.duration - 1 / self.fps, 1e-6)
            q = min(1.0, max(0.0, (t / end - (1 - _DISSOLVE)) / _DISSOLVE))
            if q > 0:
                img = Image.blend(img, self.last, (1 - math.cos(math.pi * q)) / 2)
        img.paste(self.overlay, (0, 0), self.overlay)
        return img

    def _zoom(self, progress: float) -> Image.Image:
        assert self.picture is not None
        pw, ph = self.picture.size
        # Ease in and out, so the move starts and ends gently.
        p = (1 - math.cos(math.pi * progress)) / 2
        scale = 1 - (1 - 1 / _ZOOM) * p
        ww, wh = pw * scale, ph * scale
        cx = pw / 2 + self.pan[0] * (pw - ww) / 2
        cy = ph / 2 + self.pan[1] * (ph - wh) / 2
        box = (cx - ww / 2, cy - wh / 2, cx + ww / 2, cy + wh / 2)
        return self.picture.resize(self.size, Image.Resampling.BILINEAR, box=box)


def text_layer(prompt: str, size: tuple[int, int]) -> Image.Image:
    """The prompt, wrapped to 85 % of the width, white with a shadow, at the
    bottom of a transparent frame-sized layer."""
    width, height = size
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(12, min(width, height) // 18))
    # Given a size, Pillow loads its bundled scalable font; only a Pillow built
    # without FreeType falls back to the fixed bitmap font, which has no size.
    assert isinstance(font, ImageFont.FreeTypeFont)
    lines: list[str] = []
    line = ""
    for word in prompt.strip()[:140].split():
        candidate = f"{line} {word}".strip()
        if draw.textlength(candidate, font=font) > width * 0.85 and line:
            lines.append(line)
            line = word
        else:
            line = candidate
    if line:
        lines.append(line)
    lines = lines[:4]
    step = font.size + 6
    y = height - (len(lines) + 1) * step
    for ln in lines:
        draw.text((width * 0.075 + 2, y + 2), ln, font=font, fill=(0, 0, 0, 200))
        draw.text((width * 0.075, y), ln, font=font, fill=(255, 255, 255, 255))
        y += step
    return layer


# --- avatars -------------------------------------------------------------------


def avatar_variant(*, photo: bytes, style: str, index: int) -> bytes:
    """A PNG (RGB) that restyles ``photo`` (the bytes of any image Pillow reads).

    ``style`` is one of :data:`AVATAR_STYLES` ("posterize" is taken as
    "posterise"; anything else is "cartoon"). ``index`` (0, 1, …, the output's
    number) turns the palette, so every index of one style looks different;
    index 0 keeps the photo's own colours where the style has any.

    The result has the photo's aspect ratio (after EXIF rotation), its long
    side the photo's but at most :data:`AVATAR_LONG_SIDE` pixels ("pop" tiles
    four half-size copies, so odd sides lose one pixel).

    Raises :class:`MediaError` if ``photo`` is not a readable image.
    """
    img = _open_image(photo)
    img.thumbnail((AVATAR_LONG_SIDE, AVATAR_LONG_SIDE), Image.Resampling.LANCZOS)
    style = style.strip().lower()
    if style == "posterize":
        style = "posterise"
    render = _AVATAR_RENDERERS.get(style, _AVATAR_RENDERERS[AVATAR_STYLES[0]])
    return _png(render(img, index))


def _hue(index: int, base: float) -> float:
    # Steps of the golden ratio spread any number of indexes around the circle.
    return (base + index * 0.618034) % 1.0


def _hsv(h: float, s: float, v: float) -> _RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return round(r * 255), round(g * 255), round(b * 255)


def _turn_hue(img: Image.Image, turn: float) -> Image.Image:
    shift = round(turn * 256) % 256
    if shift == 0:
        return img
    h, s, v = img.convert("HSV").split()
    h = h.point(lambda x: (x + shift) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def _posterise(img: Image.Image, index: int) -> Image.Image:
    vivid = ImageEnhance.Color(ImageOps.autocontrast(img, cutoff=1)).enhance(1.8)
    flat = ImageOps.posterize(vivid, 3 if index % 2 == 0 else 2)
    return _turn_hue(flat, _hue(index, 0.0))


def _cartoon(img: Image.Image, index: int) -> Image.Image:
    smooth = img.filter(ImageFilter.MedianFilter(5))
    colours = 6 + index % 4
    flat = smooth.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).convert("RGB")
    flat = ImageEnhance.Color(_turn_hue(flat, _hue(index, 0.0))).enhance(1.4)
    edges = ImageOps.grayscale(smooth).filter(ImageFilter.FIND_EDGES)
    # Strong edges become black ink lines, thickened one pixel.
    ink = edges.point(lambda x: 0 if x > 40 else 255).filter(ImageFilter.MinFilter(3))
    return ImageChops.multiply(flat, ink.convert("RGB"))


def _duotone(img: Image.Image, index: int) -> Image.Image:
    gray = ImageOps.autocontrast(ImageOps.grayscale(img), cutoff=1)
    h = _hue(index, 0.62)
    return ImageOps.colorize(gray, black=_hsv(h, 0.9, 0.18), white=_hsv(h + 0.45, 0.45, 1.0))


def _sketch(img: Image.Image, index: int) -> Image.Image:
    gray = ImageOps.grayscale(img)
    blur = ImageOps.invert(gray).filter(ImageFilter.GaussianBlur(radius=max(2.0, max(img.size) / 120)))
    # Colour dodge (gray / (1 − blurred negative)): flat areas go white, edges stay as pencil strokes.
    dodge = ImageMath.lambda_eval(
        lambda a: a["convert"](a["min"](a["g"] * 255 / (256 - a["b"]), 255), "L"), g=gray, b=blur
    )
    h = _hue(index, 0.08)
    return ImageOps.colorize(dodge, black=_hsv(h, 0.6, 0.18), white=_hsv(h, 0.06, 1.0))


def _pop(img: Image.Image, index: int) -> Image.Image:
    w, h = max(1, img.width // 2), max(1, img.height // 2)
    tile = ImageOps.autocontrast(ImageOps.grayscale(img.resize((w, h), Image.Resampling.LANCZOS)), cutoff=2)
    # Three flat tones, like screen printing.
    tones = tile.point(lambda x: 0 if x < 85 else (128 if x < 170 else 255))
    grid = Image.new("RGB", (2 * w, 2 * h))
    base = _hue(index, 0.95)
    for q, (x, y) in enumerate(((0, 0), (w, 0), (0, h), (w, h))):
        hq = base + q * 0.25
        grid.paste(
            ImageOps.colorize(
                tones, black=_hsv(hq + 0.5, 0.9, 0.3), mid=_hsv(hq, 0.9, 0.95), white=_hsv(hq + 0.15, 0.35, 1.0)
            ),
            (x, y),
        )
    return grid


_AVATAR_RENDERERS = {
    "cartoon": _cartoon,
    "posterise": _posterise,
    "duotone": _duotone,
    "sketch": _sketch,
    "pop": _pop,
}


# --- pictures with references ------------------------------------------------------


def with_references(picture: Image.Image, *, references: list[bytes], index: int = 0) -> Image.Image:
    """``picture`` (RGB) with ``references`` (the bytes of images Pillow
    reads; the first :data:`MAX_REFERENCES`) laid on it as framed panels:
    one large panel in the middle, two side by side (stacked in a portrait
    picture), three or four in a 2 × 2 grid, each reference cropped to fill
    its panel, transparency over white. The picture under them is tinted
    towards the references' average colour. ``index`` (the output's number)
    turns the order, so each output of one request differs. Returns a new
    RGB image of ``picture``'s size; a reference's own pixels show unchanged
    in the middle of its panel.

    Raises :class:`MediaError` for an unreadable reference."""
    refs = [_open_image_rgba(data) for data in references[:MAX_REFERENCES]]
    if not refs:
        return picture.copy()
    turn = index % len(refs)
    refs = refs[turn:] + refs[:turn]
    width, height = picture.size
    mean = [sum(ImageStat.Stat(r.convert("RGB")).mean[c] for r in refs) / len(refs) for c in range(3)]
    tint = Image.new("RGB", picture.size, tuple(round(v) for v in mean))
    out = Image.blend(picture.convert("RGB"), tint, 0.35)
    # The panels sit in the upper 80 %: the caption goes along the bottom.
    left, top, right, bottom = width * 0.08, height * 0.07, width * 0.92, height * 0.78
    if len(refs) == 1:
        cols, rows = 1, 1
    elif len(refs) == 2:
        cols, rows = (2, 1) if width >= height else (1, 2)
    else:
        cols, rows = 2, 2
    gap = min(width, height) * 0.03
    cell_w = (right - left - gap * (cols - 1)) / cols
    cell_h = (bottom - top - gap * (rows - 1)) / rows
    border = max(2, round(min(width, height) / 160))
    shadow = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    boxes = []
    for i, _ref in enumerate(refs):
        x0 = round(left + (i % cols) * (cell_w + gap))
        y0 = round(top + (i // cols) * (cell_h + gap))
        boxes.append((x0, y0, round(x0 + cell_w), round(y0 + cell_h)))
        ImageDraw.Draw(shadow).rectangle(
            [x0 + border * 2, y0 + border * 3, round(x0 + cell_w) + border * 2, round(y0 + cell_h) + border * 3],
            fill=(0, 0, 0, 140),
        )
    shadow = shadow.filter(ImageFilter.GaussianBlur(radius=border * 3))
    out.paste(shadow, (0, 0), shadow)
    for ref, (x0, y0, x1, y1) in zip(refs, boxes, strict=True):
        frame = Image.new("RGB", (x1 - x0, y1 - y0), (255, 255, 255))
        inner = (max(1, x1 - x0 - 2 * border), max(1, y1 - y0 - 2 * border))
        fitted = ImageOps.fit(ref, inner, Image.Resampling.LANCZOS)
        frame.paste(fitted, (border, border), fitted)
        out.paste(frame, (x0, y0))
    return out


# --- tools -----------------------------------------------------------------------


def upscale(*, image: bytes, factor: int) -> bytes:
    """A PNG of ``image`` (the bytes of any image Pillow reads) resampled with
    Lanczos to ``factor`` × its width and height (2 or 4 for the demo tool;
    1–8 accepted), but never past :data:`UPSCALE_MAX_SIDE` pixels on the
    long side (the scale is then what fits, never below 1). Transparency is
    kept (RGBA in, RGBA out); anything else becomes RGB.

    Raises ``ValueError`` for a factor outside 1–8, :class:`MediaError` for
    an unreadable image."""
    if not 1 <= factor <= 8:
        raise ValueError(f"factor must be 1…8, not {factor}")
    img = _open_image_rgba(image)
    if not _has_alpha(img):
        img = img.convert("RGB")
    width, height = img.size
    scale = max(1.0, min(float(factor), UPSCALE_MAX_SIDE / max(width, height)))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return _png(img.resize(size, Image.Resampling.LANCZOS))


#: Colour distance (largest channel difference, 0–255) under which a pixel is
#: background, and over which it is kept whole; between the two it fades.
_BACKGROUND_NEAR = 28
_BACKGROUND_FAR = 72


def remove_background(*, image: bytes) -> bytes:
    """A PNG (RGBA) of ``image`` (the bytes of any image Pillow reads) whose
    background is transparent.

    The background is estimated from the picture's border: each row is
    modelled as a blend from its left edge colour to its right edge colour,
    each column from its top to its bottom (so flat backdrops and smooth
    gradients both count). A pixel close to either model (largest channel
    difference under 28) becomes transparent, one far from both (over 72)
    stays opaque, and the alpha fades in between; speckles are smoothed
    away. The colours are kept as they are. The picture's size is kept.

    Raises :class:`MediaError` for an unreadable image."""
    img = _open_image_rgba(image).convert("RGB")
    width, height = img.size
    band = max(1, min(width, height) // 100)

    def edge(box: tuple[int, int, int, int], size: tuple[int, int]) -> Image.Image:
        return img.crop(box).resize(size, Image.Resampling.BOX)

    rows = Image.new("RGB", (2, height))
    rows.paste(edge((0, 0, band, height), (1, height)), (0, 0))
    rows.paste(edge((width - band, 0, width, height), (1, height)), (1, 0))
    cols = Image.new("RGB", (width, 2))
    cols.paste(edge((0, 0, width, band), (width, 1)), (0, 0))
    cols.paste(edge((0, height - band, width, height), (width, 1)), (0, 1))
    near = None
    for model in (rows, cols):
        diff = ImageChops.difference(img, model.resize((width, height), Image.Resampling.BILINEAR))
        r, g, b = diff.split()
        distance = ImageChops.lighter(ImageChops.lighter(r, g), b)
        near = distance if near is None else ImageChops.darker(near, distance)
    assert near is not None
    span = _BACKGROUND_FAR - _BACKGROUND_NEAR
    ramp = [min(255, max(0, (d - _BACKGROUND_NEAR) * 255 // span)) for d in range(256)]
    alpha = near.point(ramp)
    alpha = alpha.filter(ImageFilter.MedianFilter(3))
    out = img.convert("RGBA")
    out.putalpha(alpha)
    return _png(out)


# --- audio ---------------------------------------------------------------------

#: What every sound and talking clip says it is, in its metadata (ID3 artist, MP4 comment).
LABEL = "Mirsam demo"
#: Sample rate of speech and dialogue, in Hz (wideband telephony: a voice
#: needs no more, and it keeps a five-minute text quick to make).
SPEECH_SAMPLE_RATE = 16000
#: Sample rate of music and sound effects, in Hz.
MUSIC_SAMPLE_RATE = 44100
#: Characters of text spoken per second at speed 1.0.
SPEECH_CHARS_PER_SECOND = 14
#: Shortest and longest speech :func:`render_speech` makes, in seconds.
MIN_SPEECH_SECONDS = 1.0
MAX_SPEECH_SECONDS = 300.0
#: Speeds :func:`render_speech` accepts (1.0 = :data:`SPEECH_CHARS_PER_SECOND`); others are clamped.
SPEED_RANGE = (0.5, 2.0)
#: Shortest and longest track :func:`render_music` makes, in seconds.
MUSIC_SECONDS = (8.0, 12.0)
#: Lengths :func:`render_sound_effect` accepts, in seconds; others are clamped.
SOUND_EFFECT_SECONDS = (0.5, 30.0)

#: Samples in one period of a wavetable (a power of two, so a phase wraps with ``&``).
_TABLE = 1024
_MASK = _TABLE - 1
#: Peak of a full-scale 16-bit sample.
_FULL = 32767
#: Formants (F1, F2, F3) of five vowels, in Hz: what makes a tone sound like "a", "e", …
_VOWELS = {
    "a": (730.0, 1090.0, 2440.0),
    "e": (530.0, 1840.0, 2480.0),
    "i": (270.0, 2290.0, 3010.0),
    "o": (570.0, 840.0, 2410.0),
    "u": (300.0, 870.0, 2240.0),
}
#: Letters (Latin and Arabic) read as a vowel, so a word's syllables follow its spelling.
_VOWEL_LETTERS = {
    **{c: c for c in "aeiou"},
    "y": "i",
    **{c: "a" for c in "اآأىة"},
    "إ": "i",
    "ي": "i",
    "و": "u",
}
#: Characters after which a voice pauses longer (Latin and Arabic punctuation).
_STOPS = frozenset(".,;:!?…،؛؟")
_QUESTIONS = frozenset("?؟")
#: A text's tokens: words (anything but spaces and stops: letters with their
#: Arabic vowel marks, digits, quotes), runs of spaces, runs of stops.
_STOP_CLASS = re.escape("".join(sorted(_STOPS)))
_TOKENS = re.compile(rf"\s+|[{_STOP_CLASS}]+|[^\s{_STOP_CLASS}]+")


def speech_duration_seconds(text: str, *, speed: float = 1.0) -> float:
    """How long :func:`render_speech` speaks ``text``, in seconds: its length
    in characters (runs of white space count as one) over
    :data:`SPEECH_CHARS_PER_SECOND` × ``speed``, within
    :data:`MIN_SPEECH_SECONDS`…:data:`MAX_SPEECH_SECONDS` (a longer text is cut
    there). ``speed`` is clamped to :data:`SPEED_RANGE`."""
    seconds = len(" ".join(text.split())) / (SPEECH_CHARS_PER_SECOND * _speed(speed))
    return min(max(seconds, MIN_SPEECH_SECONDS), MAX_SPEECH_SECONDS)


def render_speech(*, text: str, voice: str, out: IO[bytes], speed: float = 1.0, stability: float = 0.5) -> None:
    """Write a mono MP3 (:data:`SPEECH_SAMPLE_RATE` Hz) that "speaks" ``text``
    (any script) in ``voice`` into ``out`` (from its current position).

    It is not words but sounds like a voice: each word becomes syllables (tone
    bursts shaped like a vowel taken from the word's letters, some with a
    consonant's hiss in front), with a short pause at every space and a longer
    one at punctuation; the pitch falls over a phrase (rises to a question
    mark). ``voice`` (any id) picks, by hash, the pitch (85–255 Hz) and the
    colour of the voice, so two voices sound different. ``stability``
    (0.0–1.0) is how steady the pitch is. The length is
    :func:`speech_duration_seconds` (text, speed=speed).

    Raises :class:`MediaError` if ffmpeg fails."""
    samples = _speech_samples(text, voice=voice, speed=speed, stability=stability)
    _encode_mp3(samples, sample_rate=SPEECH_SAMPLE_RATE, channels=1, bitrate="64k", out=out)


def render_dialogue(*, turns: list[tuple[str, str]], out: IO[bytes], speed: float = 1.0) -> None:
    """Write a mono MP3 of ``turns`` (``(voice, text)`` pairs) spoken one after
    the other into ``out``, each as :func:`render_speech` speaks it, so the
    length is the sum of their :func:`speech_duration_seconds` — but at most
    :data:`MAX_SPEECH_SECONDS` (the turn that crosses it is cut, later ones
    left out). No turns at all is one second of a voice saying nothing.

    Raises :class:`MediaError` if ffmpeg fails."""
    samples = array.array("h")
    limit = round(MAX_SPEECH_SECONDS * SPEECH_SAMPLE_RATE)
    for voice, text in turns or [("", "")]:
        if len(samples) >= limit:
            break
        samples.extend(_speech_samples(text, voice=voice, speed=speed, stability=0.5))
    _encode_mp3(samples[:limit], sample_rate=SPEECH_SAMPLE_RATE, channels=1, bitrate="64k", out=out)


def render_music(
    *, prompt: str, out: IO[bytes], style: str = "", title: str = "", vocals: bool = True, index: int = 0
) -> None:
    """Write a stereo MP3 (:data:`MUSIC_SAMPLE_RATE` Hz) of a short tune into
    ``out``: a melody of plucked notes on a pentatonic scale over a bass line
    that follows a four-chord loop, soft off-beat ticks, and with ``vocals`` a
    vowel-like voice humming the tune. Tempo, key, scale, instrument and notes
    come from a hash of ``prompt``, ``style``, ``title`` and ``index`` (every
    index of one prompt is another tune); words in the prompt or style such as
    "sad" or "calm" (:data:`_MINOR_WORDS`, :data:`_SLOW_WORDS`,
    :data:`_FAST_WORDS`) take a minor scale or a slower or faster tempo. The
    length is within :data:`MUSIC_SECONDS` (8–12 s), ending on a fade; the
    ID3 tag carries ``title``.

    Raises :class:`MediaError` if ffmpeg fails."""
    left, right = _music_samples(prompt=prompt, style=style, title=title, vocals=vocals, index=index)
    stereo = array.array("h", bytes(4 * len(left)))
    stereo[0::2] = left
    stereo[1::2] = right
    _encode_mp3(stereo, sample_rate=MUSIC_SAMPLE_RATE, channels=2, bitrate="128k", out=out, title=title)


def render_sound_effect(*, prompt: str, duration_seconds: float, out: IO[bytes], loop: bool = False) -> None:
    """Write a mono MP3 (:data:`MUSIC_SAMPLE_RATE` Hz) of a sound effect of
    ``duration_seconds`` seconds (clamped to :data:`SOUND_EFFECT_SECONDS`)
    into ``out``: noise through a low-pass filter whose cutoff sweeps, over a
    tone that glides, shaped as an impact, a whoosh, an ambience or a chirp —
    picked by words in ``prompt`` (:data:`_EFFECT_WORDS`: "explosion", "wind",
    "laser", …) or else by its hash, which also seeds the noise and the
    sweeps. A ``loop`` neither fades in nor out: its end is cross-faded into
    its start, so played on repeat it goes round without a seam or a click.

    Raises :class:`MediaError` if ffmpeg fails."""
    seconds = min(max(duration_seconds, SOUND_EFFECT_SECONDS[0]), SOUND_EFFECT_SECONDS[1])
    samples = _sound_effect_samples(prompt=prompt, seconds=seconds, loop=loop)
    _encode_mp3(samples, sample_rate=MUSIC_SAMPLE_RATE, channels=1, bitrate="96k", out=out)


def audio_duration_seconds(data: bytes) -> float:
    """The length in seconds of the sound in ``data`` (any file ffmpeg reads:
    MP3, WAV, M4A, a video's sound track), counted from its decoded samples
    (to 1/16000 s), not taken from a header.

    Raises :class:`MediaError` if ffmpeg cannot decode it or it has no sound."""
    return len(_decode_pcm(data)) / _PCM_RATE


# --- synthesis -------------------------------------------------------------------


def _rng(*parts: object) -> random.Random:
    """A generator seeded by a hash of ``parts``: the same parts, the same sounds."""
    seed = hashlib.sha256("\x00".join(str(p) for p in parts).encode()).digest()
    return random.Random(int.from_bytes(seed[:8], "big"))


#: One period of a sine, :data:`_TABLE` samples: harmonic k of a table is every k-th of them.
_SINE = tuple(math.sin(2 * math.pi * i / _TABLE) for i in range(_TABLE))


@functools.lru_cache(maxsize=256)
def _wavetable(harmonics: tuple[float, ...]) -> tuple[float, ...]:
    """One period (:data:`_TABLE` samples) of a tone whose k-th harmonic has
    amplitude ``harmonics[k - 1]``, scaled to a peak of 1.0."""
    wave = [0.0] * _TABLE
    for k, amplitude in enumerate(harmonics, start=1):
        if amplitude:
            wave = [w + amplitude * _SINE[(k * i) & _MASK] for i, w in enumerate(wave)]
    peak = max(abs(w) for w in wave) or 1.0
    return tuple(w / peak for w in wave)


@functools.lru_cache(maxsize=128)
def _vowel_table(vowel: str, pitch: int, colour: float) -> tuple[float, ...]:
    """The wavetable of ``vowel`` voiced at ``pitch`` Hz: harmonics falling off
    as a voice's do (1/k), lifted near the vowel's formants (:data:`_VOWELS`),
    which ``colour`` (0.85–1.2) moves as a shorter or longer throat would."""
    formants = [f * colour for f in _VOWELS[vowel]]
    harmonics = []
    for k in range(1, max(2, 4000 // pitch) + 1):
        f = k * pitch
        lift = sum(
            gain * math.exp(-(((f - fm) / (90 + 0.08 * fm)) ** 2))
            for fm, gain in zip(formants, (1.0, 0.7, 0.35), strict=True)
        )
        harmonics.append(round(0.25 / k + lift, 3))
    return _wavetable(tuple(harmonics))


def _envelope(attack: float, release: float, *, steps: int = 256) -> tuple[float, ...]:
    """A loudness shape over ``steps`` steps: a rise over the first ``attack``
    share, a fall over the last ``release`` share (both 0–1), smooth ends."""
    shape = []
    for i in range(steps):
        x = i / (steps - 1)
        rise = min(1.0, x / attack) if attack else 1.0
        fall = min(1.0, (1 - x) / release) if release else 1.0
        shape.append(math.sin(math.pi / 2 * rise) * math.sin(math.pi / 2 * fall) ** 2)
    return tuple(shape)


#: A syllable's loudness: a quick rise, a hold, a slower fall.
_SYLLABLE = _envelope(0.15, 0.45)
#: A plucked note: a click-free start and a long decay.
_PLUCK = tuple(min(1.0, i / 3) * math.exp(-i / 70) for i in range(256))
#: A held note (bass, a hummed vowel): soft on both ends.
_HELD = _envelope(0.1, 0.3)


def _tone(
    table: tuple[float, ...],
    *,
    n: int,
    rate: int,
    f0: float,
    f1: float,
    envelope: tuple[float, ...],
    gain: float,
) -> list[int]:
    """``n`` 16-bit samples at ``rate`` Hz of ``table`` played at a pitch
    gliding from ``f0`` to ``f1`` Hz, shaped by ``envelope`` (stretched over
    the ``n`` samples), its peak ``gain`` (0.0–1.0) of full scale."""
    if n <= 0:
        return []
    # Integer arithmetic in fixed point (20 bits of fraction): a third faster
    # than floats, and the samples come out as the ints the encoder takes.
    scaled = [round(gain * _FULL * v) for v in table]
    shape = [round(1024 * v) for v in envelope]
    s0 = round(f0 * _TABLE / rate * (1 << 20))
    k = round((f1 - f0) * _TABLE / rate / (2 * n) * (1 << 20))  # a phase of s0·i + k·i² glides linearly
    e = len(shape)
    return [(scaled[((i * s0 + k * i * i) >> 20) & _MASK] * shape[i * e // n]) >> 10 for i in range(n)]


def _mix(into: list[float], sound: list[int] | list[float], start: int, gain: float = 1.0) -> None:
    """Add ``sound`` × ``gain`` into ``into`` from sample ``start`` (what falls past the end is dropped)."""
    end = min(len(into), start + len(sound))
    if end > start:
        into[start:end] = [a + gain * b for a, b in zip(into[start:end], sound, strict=False)]


def _to_pcm(samples: list[float]) -> array.array[int]:
    """Samples in 16-bit units (louder than full scale is clipped) as 16-bit samples."""
    return array.array("h", [_FULL if s >= _FULL else -_FULL if s <= -_FULL else int(s) for s in samples])


def _speed(speed: float) -> float:
    return min(max(speed, SPEED_RANGE[0]), SPEED_RANGE[1])


@dataclass(frozen=True)
class _Syllable:
    letters: str  # "" for a pause
    weight: float  # its share of the time, in characters
    contour: float  # its pitch relative to the voice's (the phrase's melody)


def _syllables(text: str, rng: random.Random) -> list[_Syllable]:
    """``text`` cut into syllables of 2–3 letters and pauses (a space weighs
    one character, a stop three), each syllable pitched along its phrase:
    falling from 1.1 to 0.9, or rising to 1.25 into a question mark."""
    phrases: list[tuple[list[str], str]] = []  # (a phrase's syllables and spaces, the stop after it)
    current: list[str] = []
    for token in _TOKENS.findall(text):
        if token[0] not in _STOPS and not token.isspace():
            i = 0
            while i < len(token):
                size = 2 + rng.randrange(2)
                current.append(token[i : i + size])
                i += size
        elif token.isspace():
            current.append(" ")
        else:
            phrases.append((current, token))
            current = []
    phrases.append((current, ""))
    units: list[_Syllable] = []
    for spoken, stop in phrases:
        question = any(c in _QUESTIONS for c in stop)
        count = sum(1 for s in spoken if s != " ")
        n = 0
        for s in spoken:
            if s == " ":
                units.append(_Syllable("", 1.0, 1.0))
                continue
            p = n / max(1, count - 1)
            units.append(_Syllable(s, float(len(s)), 0.95 + 0.3 * p * p if question else 1.1 - 0.2 * p))
            n += 1
        if stop:
            units.append(_Syllable("", 3.0 * len(stop), 1.0))
    return units


def _speech_samples(text: str, *, voice: str, speed: float, stability: float) -> array.array[int]:
    """The PCM (16-bit mono, :data:`SPEECH_SAMPLE_RATE` Hz) of :func:`render_speech`."""
    rate = SPEECH_SAMPLE_RATE
    seconds = speech_duration_seconds(text, speed=speed)
    # What fits in MAX_SPEECH_SECONDS is spoken; the rest of a longer text is cut.
    text = " ".join(text.split())[: math.ceil(seconds * SPEECH_CHARS_PER_SECOND * _speed(speed))]
    digest = hashlib.sha256(f"voice\x00{voice}".encode()).digest()
    pitch = 85 + digest[0] / 255 * 170  # Hz
    colour = 0.85 + digest[1] / 255 * 0.35
    hiss = 0.05 + digest[2] / 255 * 0.12
    jitter = 0.12 * (1 - min(max(stability, 0.0), 1.0))
    rng = _rng("speech", voice, text)
    units = _syllables(text, rng) if text.strip() else []
    if not any(u.letters for u in units):
        units = [_Syllable("a", 1.0, 1.0)]  # nothing to say: one long "a", never silence
    noise = [rng.uniform(-1.0, 1.0) for _ in range(4096)]
    total = sum(u.weight for u in units)
    n_total = round(seconds * rate)
    samples = array.array("h", bytes(2 * n_total))
    position = 0.0
    for unit in units:
        start = round(position)
        position += unit.weight / total * n_total
        end = min(round(position), n_total)
        if not unit.letters or end <= start:
            continue
        f = pitch * unit.contour * (1 + rng.uniform(-jitter, jitter))
        vowel = next(
            (_VOWEL_LETTERS[c] for c in unit.letters.lower() if c in _VOWEL_LETTERS), "aeiou"[rng.randrange(5)]
        )
        table = _vowel_table(vowel, max(5, round(f / 5) * 5), round(colour, 2))
        n = end - start
        burst = _tone(table, n=n, rate=rate, f0=f, f1=f * rng.uniform(0.94, 1.02), envelope=_SYLLABLE, gain=0.55)
        if rng.random() < 0.5:  # a consonant in front: a short hiss
            m = min(n, rate // 30)
            offset = rng.randrange(len(noise) - m)
            burst[:m] = [round(b + hiss * _FULL * noise[offset + j] * (1 - j / m)) for j, b in enumerate(burst[:m])]
        samples[start:end] = array.array("h", burst)  # the peak stays under full scale: 0.55 + 0.17
    return samples


#: Words (English and Arabic) that turn a tune to a minor scale, a slow or a fast tempo.
_MINOR_WORDS = ("sad", "dark", "minor", "melanchol", "rain", "night", "حزين", "حزن", "ليل")
_SLOW_WORDS = ("calm", "slow", "lofi", "lo-fi", "ambient", "ballad", "sleep", "هادئ", "هادئة")
_FAST_WORDS = ("fast", "dance", "rock", "energetic", "upbeat", "edm", "pop", "سريع", "حماس")
#: Scale steps in semitones above the key's root.
_MAJOR_PENTATONIC = (0, 2, 4, 7, 9)
_MINOR_PENTATONIC = (0, 3, 5, 7, 10)


def _hz(midi: float) -> float:
    """The frequency in Hz of MIDI note ``midi`` (69 = A4 = 440 Hz)."""
    return 440.0 * 2 ** ((midi - 69) / 12)


def _music_samples(
    *, prompt: str, style: str, title: str, vocals: bool, index: int
) -> tuple[array.array[int], array.array[int]]:
    """The left and right PCM (16-bit, :data:`MUSIC_SAMPLE_RATE` Hz) of :func:`render_music`."""
    rate = MUSIC_SAMPLE_RATE
    rng = _rng("music", prompt, style, title, index)
    words = f"{prompt} {style}".lower()
    minor = any(w in words for w in _MINOR_WORDS) or rng.random() < 0.3
    bpm = rng.randrange(96, 124)
    if any(w in words for w in _SLOW_WORDS):
        bpm = rng.randrange(72, 92)
    elif any(w in words for w in _FAST_WORDS):
        bpm = rng.randrange(124, 140)
    beat = 60 / bpm  # seconds
    scale = _MINOR_PENTATONIC if minor else _MAJOR_PENTATONIC
    root = 57 + rng.randrange(8)  # MIDI: A3…E4
    target = rng.uniform(8.5, 11.0)  # seconds of notes; a 0.6 s release follows
    beats = int(target / beat)
    n = round((beats * beat + 0.6) * rate)
    melody, bass, ticks, voice = ([0.0] * n for _ in range(4))
    # Four chords, one a bar: degrees of the scale under the tune (I–V–vi–IV or i–VI–III–VII alike).
    progression = [0, rng.choice((3, 4)), rng.choice((1, 2, 5)), rng.choice((3, 2))]
    lead = _wavetable(tuple(rng.choice(((1, 0.5, 0.3, 0.2, 0.1), (1, 0, 0.3, 0, 0.15), (1, 0.8, 0.2, 0.4, 0.05)))))
    bass_table = _wavetable((1.0, 0.35, 0.1))
    hum = _vowel_table(rng.choice("aou"), 220, 1.0)
    hat = _rng("hat", index)
    tick = [_FULL * hat.uniform(-1, 1) * math.exp(-j / 250) for j in range(rate // 25)]
    step = rng.randrange(len(scale))
    t = 0.0  # in beats
    while t < beats:
        length = rng.choice((0.5, 0.5, 1.0, 1.0, 1.5, 2.0))
        length = min(length, beats - t)
        step = max(-2, min(len(scale) * 2, step + rng.choice((-2, -1, -1, 1, 1, 2, 0))))
        octave, degree = divmod(step, len(scale))
        note = root + 12 + 12 * octave + scale[degree]
        start = round(t * beat * rate)
        count = round((length * beat + 0.25) * rate)
        _mix(melody, _tone(lead, n=count, rate=rate, f0=_hz(note), f1=_hz(note), envelope=_PLUCK, gain=0.32), start)
        if vocals and length >= 1.0:
            f = _hz(note - 12)
            sung = _tone(hum, n=round(length * beat * rate), rate=rate, f0=f, f1=f * 1.006, envelope=_HELD, gain=0.22)
            _mix(voice, sung, start)
        t += length
    for b in range(beats):
        chord = progression[(b // 4) % 4]
        f = _hz(root - 12 + scale[chord % len(scale)])
        start = round(b * beat * rate)
        _mix(
            bass, _tone(bass_table, n=round(beat * 0.9 * rate), rate=rate, f0=f, f1=f, envelope=_HELD, gain=0.3), start
        )
        _mix(ticks, tick, round((b + 0.5) * beat * rate), 0.06)
    pan = rng.uniform(0.25, 0.75)  # the melody's place, 0 = left
    fade = round(0.6 * rate)
    gain = [1.0] * (n - fade) + [1 - j / fade for j in range(fade)]
    left = [
        g * (m * (1 - pan) * 1.4 + b + v + h * 0.6)
        for g, m, b, v, h in zip(gain, melody, bass, voice, ticks, strict=True)
    ]
    right = [
        g * (m * pan * 1.4 + b + v + h * 1.4) for g, m, b, v, h in zip(gain, melody, bass, voice, ticks, strict=True)
    ]
    return _to_pcm(left), _to_pcm(right)


#: Words (English and Arabic) that pick a sound effect's shape; any other prompt is hashed to one.
_EFFECT_WORDS = {
    "impact": ("explosion", "boom", "hit", "crash", "door", "slam", "thunder", "punch", "انفجار", "ضربة", "باب"),
    "ambience": ("wind", "rain", "ocean", "sea", "wave", "river", "crowd", "fire", "ريح", "مطر", "بحر", "موج"),
    "chirp": ("laser", "beep", "alarm", "bird", "notification", "ring", "zap", "ليزر", "جرس", "طائر"),
    "whoosh": ("whoosh", "swoosh", "swipe", "transition", "car", "pass", "سرعة", "سيارة"),
}


def _sound_effect_samples(*, prompt: str, seconds: float, loop: bool) -> array.array[int]:
    """The PCM (16-bit mono, :data:`MUSIC_SAMPLE_RATE` Hz) of :func:`render_sound_effect`."""
    rate = MUSIC_SAMPLE_RATE
    rng = _rng("sound effect", prompt)
    words = prompt.lower()
    shape = next((k for k, ws in _EFFECT_WORDS.items() if any(w in words for w in ws)), None)
    shape = shape or rng.choice(tuple(_EFFECT_WORDS))
    n = round(seconds * rate)
    # A loop is made longer by the cross-fade, whose end is then laid over its start.
    fade = min(round(0.5 * rate), n // 4) if loop else 0
    total = n + fade
    # Three seconds of noise, read round and round: long enough that no one hears it repeat.
    noise = [rng.uniform(-1.0, 1.0) for _ in range(1 << 17)]
    wobble = rng.uniform(0.1, 0.6)  # Hz: how fast an ambience breathes
    low, high = rng.uniform(200, 900), rng.uniform(2500, 9000)  # Hz: the filter's sweep
    f0, f1 = rng.uniform(60, 300), rng.uniform(300, 2500)  # Hz: the tone's glide
    if shape == "impact":
        f0, f1 = rng.uniform(40, 90), rng.uniform(25, 45)
    tone_table = _wavetable((1.0, 0.5, 0.25, 0.12))
    chirps = max(1, round(seconds * rng.uniform(1.5, 4)))
    samples = [0.0] * total
    y = 0.0
    phase = 0.0
    block = 256  # the filter and loudness change every block of samples (5.8 ms)
    for b0 in range(0, total, block):
        x = b0 / total  # progress 0…1
        if shape == "impact":
            level, cutoff = math.exp(-x * 6), low + (high - low) * math.exp(-x * 8)
        elif shape == "whoosh":
            bell = math.sin(math.pi * x) ** 2
            level, cutoff = bell, low + (high - low) * bell
        elif shape == "ambience":
            breathe = 0.5 + 0.5 * math.sin(2 * math.pi * wobble * b0 / rate)
            level, cutoff = 0.55 + 0.45 * breathe, low + (high - low) * 0.3 * breathe
        else:  # chirp: quiet noise under repeated glides
            level, cutoff = 0.25, high
        if loop:
            level = 0.6 + 0.4 * level  # a loop never dies away
        elif b0 < rate // 50:
            level *= b0 / (rate // 50)  # no click at the start
        a = 1 - math.exp(-2 * math.pi * cutoff / rate)  # one-pole low-pass coefficient
        if shape == "chirp":  # glides up an octave from f1, again and again
            within = (x * chirps) % 1.0
            f, tone_level = f1 * (1 + within), 0.5 * math.sin(math.pi * within)
        else:  # one glide from f0 to f1 (an impact's is a falling thud)
            f, tone_level = f0 + (f1 - f0) * x, (0.6 if shape == "impact" else 0.18) * level
        s = f * _TABLE / rate
        end = min(total, b0 + block)
        for i in range(b0, end):
            y += a * (noise[i & 0x1FFFF] - y)
            phase += s
            samples[i] = 0.8 * level * y + tone_level * tone_table[int(phase) & _MASK]
    if not loop:
        tail = min(n, rate // 10)  # the last 0.1 s fades, so it ends without a click
        samples[n - tail : n] = [v * (1 - j / tail) for j, v in enumerate(samples[n - tail : n])]
    else:
        # samples[n] is what would follow the last kept sample, samples[n - 1]: starting on it and
        # fading into the start proper makes the end lead into the start (equal power: noise does
        # not dip in the middle of the fade).
        head = [
            samples[j] * math.sin(math.pi / 2 * j / fade) + samples[n + j] * math.cos(math.pi / 2 * j / fade)
            for j in range(fade)
        ]
        samples[:fade] = head
    peak = max(abs(v) for v in samples[:n]) or 1.0
    return _to_pcm([v * 0.7 * _FULL / peak for v in samples[:n]])


# --- encoding and decoding -------------------------------------------------------------

#: Sample rate PCM is decoded at to measure a sound (its length, its loudness), in Hz.
_PCM_RATE = 16000


def _run_ffmpeg(arguments: list[str]) -> None:
    """Run the bundled ffmpeg with ``arguments``; raise :class:`MediaError` when
    it fails or takes longer than :data:`_FFMPEG_TIMEOUT_SECONDS`."""
    command = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", *arguments]
    try:
        timeout = _FFMPEG_TIMEOUT_SECONDS
        proc = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise MediaError("ffmpeg timed out") from None
    except OSError as exc:
        raise MediaError(f"ffmpeg could not start: {exc}") from exc
    if proc.returncode != 0:
        raise MediaError(f"ffmpeg exited with {proc.returncode}: {proc.stderr[-800:].decode(errors='replace')}")


def _encode_mp3(
    samples: array.array[int], *, sample_rate: int, channels: int, bitrate: str, out: IO[bytes], title: str = ""
) -> None:
    """Write 16-bit ``samples`` (interleaved when ``channels`` is 2) at
    ``sample_rate`` Hz as an MP3 of ``bitrate`` into ``out``, its ID3 tag's
    artist :data:`LABEL` (and ``title`` when given). It goes through a file,
    not a pipe, so the encoder can go back and write the header that tells
    players the length."""
    tags = ["-metadata", f"artist={LABEL}"] + (["-metadata", f"title={title[:200]}"] if title else [])
    with tempfile.TemporaryDirectory(prefix="mirsam-demo-") as tmp:
        source, target = os.path.join(tmp, "in.pcm"), os.path.join(tmp, "out.mp3")
        with open(source, "wb") as fh:
            fh.write(_little_endian(samples).tobytes())
        _run_ffmpeg(
            ["-f", "s16le", "-ar", str(sample_rate), "-ac", str(channels), "-i", source]
            + ["-c:a", "libmp3lame", "-b:a", bitrate, *tags, "-f", "mp3", "-y", target]
        )
        with open(target, "rb") as src:
            shutil.copyfileobj(src, out, 256 * 1024)


def _little_endian(samples: array.array[int]) -> array.array[int]:
    if sys.byteorder == "little":
        return samples
    swapped = array.array("h", samples)
    swapped.byteswap()
    return swapped


def _decode_pcm(data: bytes, *, max_seconds: float | None = None) -> array.array[int]:
    """The sound in ``data`` (any file ffmpeg reads) as 16-bit mono samples at
    :data:`_PCM_RATE` Hz, the first ``max_seconds`` seconds when given.

    Raises :class:`MediaError` if ffmpeg cannot decode it or there is no sound."""
    with tempfile.TemporaryDirectory(prefix="mirsam-demo-") as tmp:
        source, target = os.path.join(tmp, "in"), os.path.join(tmp, "out.pcm")
        with open(source, "wb") as fh:
            fh.write(data)
        limit = ["-t", f"{max_seconds:.3f}"] if max_seconds is not None else []
        _run_ffmpeg(["-i", source, "-vn", *limit, "-ac", "1", "-ar", str(_PCM_RATE), "-f", "s16le", "-y", target])
        samples = array.array("h")
        with open(target, "rb") as fh:
            samples.frombytes(fh.read())
    if not samples:
        raise MediaError("the file has no sound")
    return _little_endian(samples)


# --- talking portraits -------------------------------------------------------------

#: Frame rate of a talking portrait or a lip-sync, in frames per second.
TALKING_FPS = 24
#: Longest talking portrait or lip-sync, in seconds (longer speech is cut).
MAX_TALKING_SECONDS = 60.0
#: Where the mouth is taken to be, as shares of the picture's width and
#: height (a portrait has its face in the middle, the mouth in its lower third).
_MOUTH = (0.5, 0.64)


def loudness_per_frame(
    speech: bytes, *, fps: int = TALKING_FPS, max_seconds: float = MAX_TALKING_SECONDS
) -> list[float]:
    """How loud ``speech`` (any audio file ffmpeg reads) is in each frame of a
    clip at ``fps`` frames per second, as 0.0 (silence) … 1.0 (its loudest
    frame): the RMS of its samples over the frame, rising at once and falling
    off over a few frames as a mouth closes. One value per frame of the first
    ``max_seconds`` seconds (at least one).

    Raises :class:`MediaError` if ffmpeg cannot decode it or it has no sound."""
    samples = _decode_pcm(speech, max_seconds=max_seconds)
    frames = max(1, round(len(samples) / _PCM_RATE * fps))
    levels = []
    for i in range(frames):
        window = samples[i * _PCM_RATE // fps : (i + 1) * _PCM_RATE // fps]
        levels.append(math.sqrt(sum(s * s for s in window) / len(window)) if window else 0.0)
    loudest = max(levels)
    if loudest < 30:  # below −60 dBFS: silence, the mouth stays shut
        return [0.0] * frames
    smooth, held = [], 0.0
    for level in levels:
        held = max(level / loudest, held * 0.6)
        smooth.append(held)
    return smooth


def render_talking_portrait(*, portrait: bytes, speech: bytes, out: IO[bytes], fps: int = TALKING_FPS) -> None:
    """Write an H.264 MP4 (yuv420p, ``+faststart``) of ``portrait`` (the bytes
    of any image Pillow reads) speaking ``speech`` (any audio ffmpeg reads)
    into ``out``: :func:`talking_size` pixels at ``fps`` frames per second, as
    long as the speech (to a frame; at most :data:`MAX_TALKING_SECONDS`), the
    speech as its AAC sound track. The picture breathes (a slow zoom and bob)
    and nods a little on loud syllables, and a mouth over the lower third of
    the face opens as far as the speech is loud in that frame
    (:func:`loudness_per_frame`). The first frame is
    :func:`talking_portrait_poster`.

    Raises :class:`MediaError` for an unreadable portrait or speech, or an
    ffmpeg failure."""
    picture = _TalkingPicture.build(portrait)
    levels = loudness_per_frame(speech, fps=fps)
    frames = (picture.frame(i / fps, level).tobytes() for i, level in enumerate(levels))
    _encode_talking(frames, size=picture.size, fps=fps, speech=speech, seconds=len(levels) / fps, out=out)


def talking_portrait_poster(*, portrait: bytes, speech: bytes) -> bytes:
    """A PNG of the first frame of :func:`render_talking_portrait` (same
    arguments): :func:`talking_size` pixels, RGB.

    Raises :class:`MediaError` for an unreadable portrait or speech."""
    picture = _TalkingPicture.build(portrait)
    return _png(picture.frame(0.0, loudness_per_frame(speech, max_seconds=1.0)[0]))


def talking_size(width: int, height: int) -> tuple[int, int]:
    """The frame size, in pixels, of a talking clip from a picture or video of
    ``width`` × ``height`` pixels: the same shape, the long side
    :data:`VIDEO_LONG_SIDE`, both sides even (yuv420p needs it) and ≥ 64."""
    long_side = max(width, height, 1)
    short = max(64, 2 * round(VIDEO_LONG_SIDE * min(width, height) / long_side / 2))
    return (VIDEO_LONG_SIDE, short) if width >= height else (short, VIDEO_LONG_SIDE)


def render_lip_sync(*, video: bytes, speech: bytes, out: IO[bytes], fps: int = TALKING_FPS) -> None:
    """Write an H.264 MP4 (yuv420p, ``+faststart``) of ``video`` (any video
    ffmpeg reads) lip-synced to ``speech`` (any audio ffmpeg reads) into
    ``out``: the video's frames at :func:`talking_size` of its own and ``fps``
    frames per second, looped or cut to the speech's length (at most
    :data:`MAX_TALKING_SECONDS`), with a mouth in the middle of their lower
    half that opens as far as the speech is loud (:func:`loudness_per_frame`),
    and the speech instead of the video's sound, as AAC. The first frame is
    :func:`lip_sync_poster`.

    Raises :class:`MediaError` for an unreadable video or speech, or an ffmpeg
    failure."""
    levels = loudness_per_frame(speech, fps=fps)
    with tempfile.TemporaryDirectory(prefix="mirsam-demo-") as tmp:
        source = os.path.join(tmp, "source")
        with open(source, "wb") as fh:
            fh.write(video)
        size = talking_size(*_first_frame_size(source, tmp))
        with _decoded_frames(source, size=size, fps=fps, count=len(levels)) as frames:
            mouthed = (
                _with_mouth(Image.frombytes("RGB", size, raw), _centre(size), level).tobytes()
                for raw, level in zip(frames, levels, strict=False)
            )
            _encode_talking(mouthed, size=size, fps=fps, speech=speech, seconds=len(levels) / fps, out=out)


def lip_sync_poster(*, video: bytes, speech: bytes) -> bytes:
    """A PNG of the first frame of :func:`render_lip_sync` (same arguments):
    :func:`talking_size` pixels, RGB.

    Raises :class:`MediaError` for an unreadable video or speech."""
    level = loudness_per_frame(speech, max_seconds=1.0)[0]
    with tempfile.TemporaryDirectory(prefix="mirsam-demo-") as tmp:
        source = os.path.join(tmp, "source")
        with open(source, "wb") as fh:
            fh.write(video)
        size = talking_size(*_first_frame_size(source, tmp))
        with _decoded_frames(source, size=size, fps=TALKING_FPS, count=1) as frames:
            raw = next(iter(frames), None)
    if raw is None:
        raise MediaError("the video has no frames")
    return _png(_with_mouth(Image.frombytes("RGB", size, raw), _centre(size), level))


def _centre(size: tuple[int, int]) -> tuple[float, float, float]:
    """Where a frame's mouth is and how wide: (x, y, width) in pixels."""
    width, height = size
    return width * _MOUTH[0], height * _MOUTH[1], min(width, height) * 0.2


def _with_mouth(img: Image.Image, mouth: tuple[float, float, float], level: float) -> Image.Image:
    """``img`` with a mouth at ``mouth`` (x, y, width in pixels): a dark band,
    a thin line when ``level`` is 0.0, open to 35 % of its width at 1.0."""
    x, y, width = mouth
    gap = max(2.0, width * (0.02 + 0.33 * level))
    draw = ImageDraw.Draw(img, "RGBA")
    box = [x - width / 2, y - gap / 2, x + width / 2, y + gap / 2]
    draw.rounded_rectangle(
        box,
        radius=gap / 2,
        fill=(45, 8, 16, 150 + round(70 * level)),
        outline=(150, 50, 60, 170),
        width=max(1, round(width / 60)),
    )
    return img


@dataclass(frozen=True)
class _TalkingPicture:
    """A portrait prepared once (scaled a little past the frame, so it can move)."""

    size: tuple[int, int]
    picture: Image.Image  # RGB, _TALK_ZOOM × frame size

    @classmethod
    def build(cls, portrait: bytes) -> _TalkingPicture:
        img = _open_image(portrait)
        width, height = talking_size(*img.size)
        picture = ImageOps.fit(
            img, (math.ceil(width * _TALK_ZOOM), math.ceil(height * _TALK_ZOOM)), Image.Resampling.LANCZOS
        )
        return cls((width, height), picture)

    def frame(self, t: float, level: float) -> Image.Image:
        """The RGB frame ``t`` seconds in, the speech ``level`` loud (0.0–1.0)."""
        width, height = self.size
        pw, ph = self.picture.size
        # Breathing: in and out over 6 s; a nod (and a lean in) on loud syllables.
        scale = 1 + (_TALK_ZOOM - 1) * (0.35 * (1 - math.cos(2 * math.pi * t / 6)) + 0.25 * level)
        ww, wh = pw / scale, ph / scale
        bob = (0.5 * math.sin(2 * math.pi * t / 2.5) + 0.5 * level) * (ph - wh) / 2
        cx, cy = pw / 2, ph / 2 - bob
        box = (cx - ww / 2, cy - wh / 2, cx + ww / 2, cy + wh / 2)
        img = self.picture.resize(self.size, Image.Resampling.BILINEAR, box=box)
        # The mouth sits on the picture, so it moves with the head.
        mx = (pw * _MOUTH[0] - box[0]) * width / ww
        my = (ph * _MOUTH[1] - box[1]) * height / wh
        return _with_mouth(img, (mx, my, min(pw, ph) * 0.2 * width / ww), level)


#: How far past the frame a talking portrait is scaled, so it can zoom and bob (1.08 = 8 %).
_TALK_ZOOM = 1.08


def _first_frame_size(source: str, tmp: str) -> tuple[int, int]:
    """The size in pixels of the first frame of the video file ``source`` (decoded into ``tmp``)."""
    target = os.path.join(tmp, "first.png")
    _run_ffmpeg(["-i", source, "-an", "-frames:v", "1", "-f", "image2", "-c:v", "png", "-y", target])
    try:
        with Image.open(target) as img:
            return img.size
    except OSError as exc:
        raise MediaError(f"the video has no readable frame: {exc}") from exc


@contextlib.contextmanager
def _decoded_frames(source: str, *, size: tuple[int, int], fps: int, count: int) -> Iterator[Iterator[bytes]]:
    """``count`` RGB frames (raw bytes) of the video file ``source`` at ``size``
    pixels and ``fps`` frames per second, looped from its start as often as it
    takes, read as ffmpeg decodes them (a minute of raw frames would be a
    gigabyte). Leaving the block stops ffmpeg.

    Raises :class:`MediaError` (while iterating) when ffmpeg fails, stops
    early, or takes longer than :data:`_FFMPEG_TIMEOUT_SECONDS`."""
    width, height = size
    command = [_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin", "-stream_loop", "-1", "-i", source]
    command += ["-an", "-vf", f"fps={fps},scale={width}:{height}", "-frames:v", str(count)]
    command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr)  # noqa: S603
        assert proc.stdout is not None
        stdout = proc.stdout

        def frames() -> Iterator[bytes]:
            frame_bytes = width * height * 3
            for done in range(count):
                raw = stdout.read(frame_bytes)
                if len(raw) < frame_bytes:
                    code = proc.wait()
                    stderr.seek(0)
                    said = stderr.read()[-800:].decode(errors="replace")
                    raise MediaError(f"ffmpeg gave {done} of {count} frames (exit {code}): {said}")
                yield raw

        with _deadline(proc) as expired:
            try:
                yield frames()
            finally:
                stdout.close()
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        if expired.is_set():
            raise MediaError("ffmpeg timed out")


@contextlib.contextmanager
def _deadline(proc: subprocess.Popen[bytes]) -> Iterator[threading.Event]:
    """Kill ``proc`` if it still runs :data:`_FFMPEG_TIMEOUT_SECONDS` after the
    block starts; the event yielded is set when that happened (a blocked read
    or write then ends, and the caller reports the timeout)."""
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        with contextlib.suppress(OSError):
            proc.kill()

    timer = threading.Timer(_FFMPEG_TIMEOUT_SECONDS, kill)
    timer.daemon = True
    timer.start()
    try:
        yield expired
    finally:
        timer.cancel()


def _encode_talking(
    frames: Iterable[bytes], *, size: tuple[int, int], fps: int, speech: bytes, seconds: float, out: IO[bytes]
) -> None:
    """Encode raw RGB ``frames`` of ``size`` pixels at ``fps`` with the first
    ``seconds`` seconds of ``speech`` as AAC into an MP4 written to ``out``."""
    width, height = size
    with tempfile.TemporaryDirectory(prefix="mirsam-demo-") as tmp:
        audio, target = os.path.join(tmp, "speech"), os.path.join(tmp, "out.mp4")
        with open(audio, "wb") as fh:
            fh.write(speech)
        command = [_ffmpeg(), "-hide_banner", "-loglevel", "error"]
        command += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", str(fps), "-i", "-"]
        command += ["-i", audio, "-map", "0:v", "-map", "1:a", "-t", f"{seconds:.3f}"]
        # 44.1 kHz whatever the speech's rate: every browser's AAC decoder takes it.
        command += [
            "-c:a",
            "aac",
            "-ar",
            "44100",
            "-b:a",
            "96k",
            "-metadata",
            f"comment={LABEL}",
            *_H264,
            "-g",
            str(fps * 2),
            "-f",
            "mp4",
            "-y",
            target,
        ]
        _encode_frames(command, frames)
        with open(target, "rb") as src:
            shutil.copyfileobj(src, out, 256 * 1024)


#: libx264 settings every demo clip shares: fast, small enough, playable in every browser.
_H264 = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "26", "-pix_fmt", "yuv420p", "-movflags", "+faststart")


def _encode_frames(command: list[str], frames: Iterable[bytes]) -> None:
    """Run the ffmpeg ``command`` (which reads raw frames from its stdin) and
    feed it ``frames``. Raises :class:`MediaError` when it fails or takes
    longer than :data:`_FFMPEG_TIMEOUT_SECONDS` in all."""
    with tempfile.TemporaryFile() as stderr:
        # stderr goes to a file, not a pipe: a chatty ffmpeg can never block on it.
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr)  # noqa: S603
        assert proc.stdin is not None
        with _deadline(proc) as expired:
            try:
                try:
                    for frame in frames:
                        proc.stdin.write(frame)
                    proc.stdin.close()
                except BrokenPipeError:
                    pass  # ffmpeg stopped reading: its exit code and stderr below say why
                code = proc.wait()
            finally:
                with contextlib.suppress(OSError):  # BrokenPipeError again if ffmpeg is gone
                    proc.stdin.close()
                if proc.poll() is None:  # drawing a frame raised: do not leave ffmpeg behind
                    proc.kill()
                    proc.wait()
        if expired.is_set():
            raise MediaError("ffmpeg timed out")
        if code != 0:
            stderr.seek(0)
            raise MediaError(f"ffmpeg exited with {code}: {stderr.read()[-800:].decode(errors='replace')}")


# --- shared --------------------------------------------------------------------


def _open_image(data: bytes) -> Image.Image:
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return ImageOps.exif_transpose(img).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"not a readable image: {exc}") from exc


def _open_image_rgba(data: bytes) -> Image.Image:
    """Like :func:`_open_image`, but RGBA (transparency kept)."""
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
        return ImageOps.exif_transpose(img).convert("RGBA")
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise MediaError(f"not a readable image: {exc}") from exc


def _has_alpha(img: Image.Image) -> bool:
    """Whether an RGBA image has a pixel that is not fully opaque."""
    return img.mode == "RGBA" and img.getchannel("A").getextrema()[0] != 255


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()
