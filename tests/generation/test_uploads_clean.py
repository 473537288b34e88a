"""The attack set for ``generation.uploads.image_clean``.

Every sample is built here with Pillow or by hand, so no binary fixtures are
committed and each one says what it is.
"""

from __future__ import annotations

import hashlib
import io
import struct
import time
import tracemalloc
import warnings
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import ExifTags, Image, ImageCms, ImageDraw, ImageFile
from PIL.PngImagePlugin import PngInfo

from generation.uploads import (
    CleanImage,
    UploadLimits,
    UploadRejected,
    describe_limits,
    image_clean,
    limits_from_settings,
)

LIMITS = UploadLimits()  # 15 MiB, 40 MP, 256 px, JPEG/PNG/WebP
MB = 1024 * 1024


# --- building samples --------------------------------------------------------------


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    out = io.BytesIO()
    img.save(out, format=fmt, **params)
    return out.getvalue()


def photo(size=(400, 300), mode="RGB", color=(200, 120, 40)) -> Image.Image:
    return Image.new(mode, size, color)


def noisy_photo(size=(600, 400)) -> Image.Image:
    """Noise compresses badly, so the scan data is most of the file and a cut
    halfway lands inside it rather than in the headers."""
    channels = [Image.effect_noise(size, 64) for _ in range(3)]
    return Image.merge("RGB", channels)


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int, height: int) -> bytes:
    """A valid 1-bit greyscale PNG of width × height black pixels: a few tens
    of kilobytes that Pillow would decode to width × height bytes (mode L)."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


class SizedStream(io.RawIOBase):
    """A file object that says it holds ``size`` bytes and records how much
    anyone read from it; its content is zeros, produced on demand."""

    def __init__(self, size: int, *, declared: int | None = None) -> None:
        self.size = size if declared is None else declared
        self._left = size
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self._left if n is None or n < 0 else min(n, self._left)
        self._left -= n
        self.bytes_read += n
        return b"\x00" * n


class CountingReader:
    """Wraps a real file with no ``size`` attribute and counts bytes read."""

    def __init__(self, fp) -> None:
        self._fp = fp
        self.bytes_read = 0

    def read(self, n: int = -1) -> bytes:
        data = self._fp.read(n)
        self.bytes_read += len(data)
        return data

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._fp.seek(offset, whence)


def clean(data: bytes, limits: UploadLimits = LIMITS, name: str = "upload.jpg") -> CleanImage:
    return image_clean(file=SimpleUploadedFile(name, data, content_type="image/jpeg"), limits=limits)


def refused(data_or_file, code: str, limits: UploadLimits = LIMITS) -> UploadRejected:
    file = SimpleUploadedFile("upload.jpg", data_or_file) if isinstance(data_or_file, bytes) else data_or_file
    with pytest.raises(UploadRejected) as caught:
        image_clean(file=file, limits=limits)
    exc = caught.value
    assert exc.code == code, exc
    assert_readable(exc.message)
    return exc


def assert_readable(message: str) -> None:
    assert isinstance(message, str)
    assert len(message) > 20
    assert message[0].isupper() and message.endswith(".")
    # No unfilled placeholders, and nothing from Pillow's own error text.
    for leak in ("%(", "%s", "PIL", "Traceback", "cannot identify", "decompression bomb"):
        assert leak not in message


def reopen(result: CleanImage) -> Image.Image:
    img = Image.open(io.BytesIO(result.data))
    img.load()
    return img


def close_to(actual, expected, tolerance=6) -> bool:
    return all(abs(a - e) <= tolerance for a, e in zip(actual, expected, strict=True))


# --- what is accepted --------------------------------------------------------------


def test_a_valid_jpeg_comes_back_as_a_jpeg_whose_hash_matches_its_bytes():
    result = clean(encode(photo(), "JPEG"))

    assert result.content_type == "image/jpeg"
    assert result.extension == "jpg"
    assert (result.width, result.height) == (400, 300)
    assert result.size == len(result.data)
    assert result.sha256 == hashlib.sha256(result.data).hexdigest()
    img = reopen(result)
    assert (img.format, img.mode, img.size) == ("JPEG", "RGB", (400, 300))
    assert close_to(img.getpixel((10, 10)), (200, 120, 40))


def test_cleaning_is_deterministic_so_the_hash_can_identify_a_repeated_upload():
    data = encode(noisy_photo(), "JPEG")

    assert clean(data).sha256 == clean(data).sha256


def test_a_file_already_read_by_the_form_is_rewound_before_checking():
    upload = SimpleUploadedFile("me.jpg", encode(photo(), "JPEG"))
    upload.read()

    assert image_clean(file=upload, limits=LIMITS).width == 400


def test_a_plain_binary_file_object_without_a_size_is_accepted():
    result = image_clean(file=io.BytesIO(encode(photo(), "PNG")), limits=LIMITS)

    assert result.content_type == "image/png"


def test_a_cmyk_jpeg_is_accepted_and_normalised_to_an_rgb_jpeg():
    source = encode(photo(mode="CMYK", color=(0, 255, 255, 0)), "JPEG")
    assert Image.open(io.BytesIO(source)).mode == "CMYK"

    result = clean(source)

    img = reopen(result)
    assert result.content_type == "image/jpeg"
    assert img.mode == "RGB"
    assert close_to(img.getpixel((50, 50)), (255, 0, 0))


def test_a_photo_with_gps_exif_is_accepted_and_the_stored_copy_has_no_metadata_at_all():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.BodySerialNumber] = "SN-0042-PRIVATE"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.0)
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>Home, 12 Private Street</rdf:RDF></x:xmpmeta>'
    source = encode(photo(), "JPEG", exif=exif, xmp=xmp, comment=b"taken at home")
    assert Image.open(io.BytesIO(source)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the sample really has GPS

    result = clean(source)

    img = reopen(result)
    assert len(img.getexif()) == 0
    assert not img.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "comment", "icc_profile", "dpi"} & set(img.info)
    for trace in (b"Exif", b"GPS", b"PhoneMaker", b"SN-0042", b"Private Street", b"taken at home", b"xmpmeta"):
        assert trace not in result.data


def test_png_text_and_exif_chunks_are_not_copied():
    info = PngInfo()
    info.add_text("Author", "Jane Private")
    info.add_text("Location", "12 Private Street", zip=True)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    source = encode(photo(), "PNG", pnginfo=info, exif=exif)

    result = clean(source)

    img = reopen(result)
    assert img.format == "PNG"
    assert img.text == {}
    assert len(img.getexif()) == 0
    for trace in (b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"Jane", b"PhoneMaker"):
        assert trace not in result.data


def test_an_exif_rotated_photo_comes_out_upright_with_width_and_height_swapped():
    # Stored 400 wide × 300 high with a red mark in the top-left corner;
    # orientation 6 means "turn 90° clockwise to display", so the mark ends
    # up top-right in a 300 × 400 picture.
    stored = Image.new("RGB", (400, 300), (255, 255, 255))
    ImageDraw.Draw(stored).rectangle((0, 0, 59, 59), fill=(255, 0, 0))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6

    result = clean(encode(stored, "JPEG", exif=exif))

    img = reopen(result)
    assert (result.width, result.height) == (300, 400) == img.size
    assert close_to(img.getpixel((300 - 20, 20)), (255, 0, 0), tolerance=20)
    assert close_to(img.getpixel((20, 20)), (255, 255, 255), tolerance=20)
    assert ExifTags.Base.Orientation not in img.getexif()


def test_a_png_with_alpha_stays_a_png_with_its_alpha():
    source = encode(photo(mode="RGBA", color=(10, 200, 30, 77)), "PNG")

    result = clean(source)

    img = reopen(result)
    assert (result.content_type, result.extension) == ("image/png", "png")
    assert img.mode == "RGBA"
    assert img.getpixel((5, 5)) == (10, 200, 30, 77)


def test_an_opaque_png_is_stored_as_rgb():
    img = reopen(clean(encode(photo(), "PNG")))

    assert img.mode == "RGB"


def test_a_palette_png_with_a_transparent_colour_becomes_rgba():
    pal = photo(mode="P", color=1)
    pal.putpalette([0, 0, 0, 250, 10, 10] + [0] * 762)
    ImageDraw.Draw(pal).rectangle((0, 0, 99, 99), fill=0)

    img = reopen(clean(encode(pal, "PNG", transparency=0)))

    assert img.mode == "RGBA"
    assert img.getpixel((10, 10))[3] == 0
    assert img.getpixel((300, 200)) == (250, 10, 10, 255)


def test_a_grey_png_with_alpha_becomes_rgba():
    img = reopen(clean(encode(photo(mode="LA", color=(90, 128)), "PNG")))

    assert img.mode == "RGBA"
    assert img.getpixel((0, 0)) == (90, 90, 90, 128)


def test_a_16_bit_png_is_scaled_to_8_bits_rather_than_clipped():
    source = encode(photo(mode="I;16", color=40000), "PNG")

    img = reopen(clean(source))

    assert img.mode == "RGB"
    assert close_to(img.getpixel((0, 0)), (155, 155, 155), tolerance=1)  # 40000 / 257


def test_a_1_bit_png_is_accepted_as_rgb():
    img = reopen(clean(encode(photo(mode="1", color=1), "PNG")))

    assert img.mode == "RGB"
    assert img.getpixel((0, 0)) == (255, 255, 255)


def test_a_webp_stays_a_webp():
    result = clean(encode(photo(), "WEBP", quality=90))

    img = reopen(result)
    assert (result.content_type, result.extension) == ("image/webp", "webp")
    assert (img.format, img.mode, img.size) == ("WEBP", "RGB", (400, 300))


def test_a_webp_with_alpha_keeps_its_alpha():
    img = reopen(clean(encode(photo(mode="RGBA", color=(10, 200, 30, 0)), "WEBP", lossless=True)))

    assert img.mode == "RGBA"
    assert img.getpixel((5, 5))[3] == 0


def test_an_animated_webp_keeps_only_its_first_frame():
    first, second = photo(color=(255, 0, 0)), photo(color=(0, 0, 255))
    source = encode(first, "WEBP", save_all=True, append_images=[second], duration=100, loop=0)
    assert Image.open(io.BytesIO(source)).n_frames == 2

    img = reopen(clean(source))

    assert img.format == "WEBP"
    assert getattr(img, "n_frames", 1) == 1
    assert close_to(img.getpixel((50, 50)), (255, 0, 0), tolerance=12)


def test_a_multi_picture_jpeg_from_a_camera_is_stored_as_a_plain_jpeg():
    source = encode(photo(color=(255, 0, 0)), "MPO", save_all=True, append_images=[photo(color=(0, 0, 255))])
    assert Image.open(io.BytesIO(source)).format == "MPO"

    result = clean(source)

    img = reopen(result)
    assert result.content_type == "image/jpeg"
    assert img.format == "JPEG"
    assert close_to(img.getpixel((50, 50)), (255, 0, 0))


def test_an_icc_profile_is_applied_and_not_embedded_in_the_stored_copy():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    source = encode(photo(), "JPEG", icc_profile=srgb)

    img = reopen(clean(source))

    assert "icc_profile" not in img.info
    assert close_to(img.getpixel((10, 10)), (200, 120, 40))


def test_a_garbage_icc_profile_is_ignored_rather_than_refused():
    source = encode(photo(mode="RGBA", color=(10, 200, 30, 77)), "PNG", icc_profile=b"not a profile" * 10)

    img = reopen(clean(source))

    assert "icc_profile" not in img.info
    assert img.getpixel((0, 0)) == (10, 200, 30, 77)


def test_an_image_exactly_at_the_minimum_side_is_accepted():
    assert clean(encode(photo(size=(256, 2000)), "PNG")).width == 256


# --- the attack set ----------------------------------------------------------------


def test_a_text_file_renamed_jpg_is_refused_as_not_an_image():
    upload = SimpleUploadedFile("holiday.jpg", b"Dear diary, today I renamed a file.\n" * 20, content_type="image/jpeg")

    exc = refused(upload, "not_an_image")

    assert "JPEG, PNG, WebP" in exc.message


def test_an_empty_file_is_refused_as_not_an_image():
    refused(b"", "not_an_image")


def test_a_pdf_is_refused_as_not_an_image():
    refused(b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 10, "not_an_image")


def test_a_truncated_jpeg_is_refused_as_truncated():
    data = encode(noisy_photo(), "JPEG", quality=90)

    refused(data[: len(data) // 2], "truncated")


def test_a_jpeg_cut_inside_its_header_is_refused_as_truncated():
    refused(encode(photo(), "JPEG")[:40], "truncated")


def test_a_truncated_png_is_refused_as_truncated():
    data = encode(noisy_photo(), "PNG")

    refused(data[: len(data) // 2], "truncated")


def test_truncated_images_are_refused_without_turning_on_pillows_lenient_mode():
    data = encode(noisy_photo(), "JPEG")
    refused(data[: len(data) // 2], "truncated")

    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def refused_without_decoding(monkeypatch, data: bytes, limits: UploadLimits = LIMITS) -> UploadRejected:
    """Refused as too_many_pixels, fast, in little memory, with no pixel decoded."""
    decoded = []
    original_load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self) or original_load(self))
    tracemalloc.start()
    started = time.perf_counter()
    try:
        exc = refused(data, "too_many_pixels", limits=limits)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded == []  # not one pixel was decoded
    assert elapsed < 1.0
    assert peak < 5 * MB
    return exc


def test_the_bomb_sample_is_a_real_png_that_decodes_when_small():
    assert clean(bomb_png(300, 300), name="tiny.png").content_type == "image/png"


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding(monkeypatch):
    bomb = bomb_png(20_000, 20_000)  # 400 megapixels in a few tens of kB
    assert len(bomb) < 200_000
    assert struct.unpack(">II", bomb[16:24]) == (20_000, 20_000)
    max_image_pixels = Image.MAX_IMAGE_PIXELS

    exc = refused_without_decoding(monkeypatch, bomb)

    assert "40 megapixels" in exc.message
    assert Image.MAX_IMAGE_PIXELS == max_image_pixels  # Pillow's global limit is untouched


def test_an_image_over_our_limit_but_under_pillows_own_is_refused_by_our_check_before_decoding(monkeypatch):
    assert 10_000 * 8_000 < Image.MAX_IMAGE_PIXELS  # Pillow would neither warn nor refuse

    refused_without_decoding(monkeypatch, bomb_png(10_000, 8_000))


def test_pillows_decompression_bomb_error_is_reported_as_too_many_pixels(monkeypatch):
    generous = UploadLimits(max_pixels=10**12)

    refused_without_decoding(monkeypatch, bomb_png(20_000, 20_000), limits=generous)


def test_pillows_decompression_bomb_warning_is_an_error_only_inside_image_clean(monkeypatch):
    generous = UploadLimits(max_pixels=10**12)
    filters_before = list(warnings.filters)

    refused_without_decoding(monkeypatch, bomb_png(10_000, 10_000), limits=generous)  # 100 MP: Pillow only warns

    assert warnings.filters == filters_before


def test_an_svg_is_refused_with_a_message_naming_the_formats_we_take():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="999999" height="999999">'
    svg += b'<script>alert("hi")</script></svg>'

    exc = refused(SimpleUploadedFile("portrait.jpg", svg, content_type="image/jpeg"), "format")

    assert "SVG" in exc.message
    assert "JPEG, PNG, WebP" in exc.message


@pytest.mark.parametrize(
    ("kind", "make"),
    [
        ("GIF", lambda: encode(photo(), "GIF")),
        ("BMP", lambda: encode(photo(), "BMP")),
        ("TIFF", lambda: encode(photo(), "TIFF")),
        ("ICO", lambda: encode(photo(size=(256, 256)), "ICO")),
        ("HEIC", lambda: b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 500),
        ("AVIF", lambda: b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\x00" * 500),
    ],
)
def test_other_image_formats_are_refused_with_a_clear_message(kind, make):
    exc = refused(make(), "format")

    assert kind in exc.message
    assert "JPEG, PNG, WebP" in exc.message


def test_an_animated_gif_is_refused():
    gif = encode(photo(), "GIF", save_all=True, append_images=[photo(color=(0, 0, 255))], duration=50)

    refused(gif, "format")


def test_a_60_mb_upload_is_refused_from_its_declared_size_without_reading_it():
    upload = SizedStream(60 * MB)

    exc = refused(upload, "too_large")

    assert upload.bytes_read == 0
    assert "15 MB" in exc.message


def test_a_60_mb_file_without_a_size_is_refused_after_reading_only_just_over_the_limit(tmp_path):
    path = tmp_path / "huge.jpg"
    with path.open("wb") as fp:
        fp.truncate(60 * MB)  # sparse: no 60 MB written or held in memory
    with path.open("rb") as fp:
        reader = CountingReader(fp)

        refused(reader, "too_large")

    assert reader.bytes_read == LIMITS.max_bytes + 1


def test_a_file_that_under_reports_its_size_is_still_cut_off_at_the_limit():
    liar = SizedStream(60 * MB, declared=1000)

    refused(liar, "too_large")

    assert liar.bytes_read == LIMITS.max_bytes + 1


def test_a_file_just_at_the_byte_limit_is_not_refused_for_its_size():
    data = encode(photo(), "PNG")

    assert clean(data, limits=UploadLimits(max_bytes=len(data))).size > 0


def test_a_too_small_image_is_refused_with_the_minimum_in_the_message():
    exc = refused(encode(photo(size=(200, 1000)), "JPEG"), "too_small")

    assert "256" in exc.message


def test_a_too_small_image_is_refused_whatever_its_exif_orientation():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6

    refused(encode(photo(size=(1000, 200)), "JPEG", exif=exif), "too_small")


def test_a_format_left_out_of_the_allowed_formats_is_refused():
    jpeg_only = UploadLimits(allowed_formats=frozenset({"JPEG"}))

    exc = refused(encode(photo(), "PNG"), "format", limits=jpeg_only)

    assert "PNG" in exc.message
    assert "WebP" not in exc.message


# --- limits ------------------------------------------------------------------------


def test_limits_default_to_15_mb_40_megapixels_and_256_pixels(settings):
    for name in ("MIRSAM_UPLOAD_MAX_BYTES", "MIRSAM_UPLOAD_MAX_PIXELS", "MIRSAM_UPLOAD_MIN_SIDE"):
        if hasattr(settings, name):
            delattr(settings, name)

    assert limits_from_settings() == UploadLimits(max_bytes=15 * MB, max_pixels=40_000_000, min_side=256)


def test_limits_come_from_settings_when_set(settings):
    settings.MIRSAM_UPLOAD_MAX_BYTES = 5 * MB
    settings.MIRSAM_UPLOAD_MAX_PIXELS = 12_000_000
    settings.MIRSAM_UPLOAD_MIN_SIDE = 512

    limits = limits_from_settings()

    assert (limits.max_bytes, limits.max_pixels, limits.min_side) == (5 * MB, 12_000_000, 512)
    refused(encode(photo(size=(400, 400)), "JPEG"), "too_small", limits=limits)


def test_image_clean_uses_the_settings_when_no_limits_are_given(settings):
    settings.MIRSAM_UPLOAD_MIN_SIDE = 1000

    with pytest.raises(UploadRejected) as caught:
        image_clean(file=io.BytesIO(encode(photo(), "JPEG")))

    assert caught.value.code == "too_small"


def test_describe_limits_gives_human_values_for_help_text():
    assert describe_limits(LIMITS) == {
        "max_mb": 15,
        "max_megapixels": 40,
        "min_side_px": 256,
        "allowed_formats": ["JPEG", "PNG", "WebP"],
        "accept": "image/jpeg,image/png,image/webp",
    }
    assert describe_limits(UploadLimits(max_bytes=MB // 2, max_pixels=12_500_000))["max_mb"] == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [{"allowed_formats": frozenset({"GIF"})}, {"allowed_formats": frozenset()}, {"max_bytes": 0}, {"min_side": -1}],
)
def test_limits_that_would_let_anything_through_or_nothing_in_are_a_configuration_error(kwargs):
    with pytest.raises(ValueError, match="upload|allowed_formats|Upload"):
        UploadLimits(**kwargs)


def test_a_cmyk_jpeg_with_an_unusable_icc_profile_still_becomes_rgb():
    source = encode(photo(mode="CMYK", color=(0, 255, 255, 0)), "JPEG", icc_profile=b"junk" * 50)

    img = reopen(clean(source))

    assert img.mode == "RGB"
    assert "icc_profile" not in img.info
    assert close_to(img.getpixel((50, 50)), (255, 0, 0))


def test_a_greyscale_jpeg_is_stored_as_rgb():
    img = reopen(clean(encode(photo(mode="L", color=90), "JPEG")))

    assert img.mode == "RGB"
    assert close_to(img.getpixel((0, 0)), (90, 90, 90))
