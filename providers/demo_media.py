"""Offline media for the ``demo`` provider: real MP4 clips (also from a first
and a last frame), their posters, avatar variants of an uploaded photo,
pictures that show the reference images they were given, and the demo tools
(an upscale, a background removal), all made here with Pillow and the ffmpeg
binary that ships with imageio-ffmpeg (no network, no models).

Pure functions: bytes in, bytes out. Errors are :class:`MediaError` (an input
image that cannot be read, an ffmpeg failure); the adapter turns them into
``ProviderError``.
"""

from __future__ import annotations

import colorsys
import contextlib
import functools
import hashlib
import io
import math
import os
import shutil
import subprocess  # runs only the bundled ffmpeg with a fixed argument list
import tempfile
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
        command += [
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-crf",
            "26",
            "-g",
            str(fps * 2),  # a keyframe every 2 s keeps seeking cheap
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",  # the index goes first so browsers start playing before the end
            "-f",
            "mp4",
            "-y",
            target,
        ]
        with open(os.path.join(tmp, "stderr.txt"), "w+b") as stderr:
            # stderr goes to a file, not a pipe: a chatty ffmpeg can never block on it.
            proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=stderr)  # noqa: S603
            assert proc.stdin is not None
            try:
                try:
                    for i in range(frames):
                        proc.stdin.write(scene.frame(i / fps).tobytes())
                    proc.stdin.close()
                except BrokenPipeError:
                    pass  # ffmpeg stopped reading: its exit code and stderr below say why
                code = proc.wait(timeout=_FFMPEG_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                raise MediaError("ffmpeg timed out") from None
            finally:
                with contextlib.suppress(OSError):  # BrokenPipeError again if ffmpeg is gone
                    proc.stdin.close()
                if proc.poll() is None:  # timed out, or drawing a frame raised: do not leave ffmpeg behind
                    proc.kill()
                    proc.wait()
            if code != 0:
                stderr.seek(0)
                raise MediaError(f"ffmpeg exited with {code}: {stderr.read()[-800:].decode(errors='replace')}")
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
