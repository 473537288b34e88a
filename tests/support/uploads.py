"""Files as a user's browser uploads them."""

from __future__ import annotations

import io
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


def photo(
    name: str = "me.jpg", size: tuple[int, int] = (400, 500), fmt: str = "JPEG", **save: Any
) -> SimpleUploadedFile:
    """An uploaded ``fmt`` image of ``size`` pixels (one flat colour) named
    ``name``, content type ``image/<fmt>``; ``save`` goes to ``Image.save``."""
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 120, 80)).save(buf, fmt, **save)
    return SimpleUploadedFile(name, buf.getvalue(), content_type=f"image/{fmt.lower()}")
