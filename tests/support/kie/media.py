"""Bytes that stand in for what kie.ai's CDN serves: real PNGs (small, or
of a given size for the benchmarks) and MP4-looking bytes (the adapter only
checks the Content-Type and size)."""

from __future__ import annotations

import io
import math
import random

from PIL import Image


def png_bytes(size: tuple[int, int] = (32, 24)) -> bytes:
    """A real PNG of ``size`` pixels in one colour (200, 40, 90)."""
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 90)).save(out, format="PNG")
    return out.getvalue()


def gradient_png(size: tuple[int, int] = (256, 256)) -> bytes:
    """A real PNG with a gradient (it does not compress to nothing: about the
    work of storing and checking a real small output)."""
    img = Image.new("RGB", size)
    img.putdata([((x * 7) % 256, (y * 5) % 256, 120) for y in range(size[1]) for x in range(size[0])])
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def noise_png(size_bytes: int, *, seed: int = 7) -> bytes:
    """A real PNG of about ``size_bytes`` bytes (within a few percent, never
    less than 1 KiB's worth of pixels): random RGB pixels, which PNG cannot
    compress, so the file is as heavy to download, check and store as a real
    1–2 MB output. Deterministic for one ``seed``."""
    side = max(16, math.isqrt(max(size_bytes, 1024) // 3))
    pixels = random.Random(seed).randbytes(side * side * 3)
    out = io.BytesIO()
    Image.frombytes("RGB", (side, side), pixels).save(out, format="PNG", compress_level=1)
    return out.getvalue()


def mp4_bytes(size: int = 4096) -> bytes:
    """``size`` bytes that start like an MP4 (an ``ftyp`` box); the adapter never decodes them."""
    head = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return head + b"\x00" * max(0, size - len(head))
