"""Audio as a file kind: ``generation.audio.audio_clean`` and its attack set,
``audio_upload_create``, and sound outputs through ``output_check`` and the
pipeline.

Every sample is made here by the bundled ffmpeg (sine tones, a test pattern)
or by hand, so no binary fixtures are committed and each one says what it is.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from generation import audio
from generation.audio import (
    AudioLimits,
    audio_clean,
    audio_limits_from_settings,
    audio_probe,
    audio_sniff,
    describe_audio_limits,
)
from generation.errors import UploadRejected
from generation.media import EXTENSIONS, output_check
from generation.models import Asset, Upload
from generation.services import audio_upload_create, pipeline
from providers.base import Download, ProviderError, spooled_file
from tests.support.kie.media import mp4_bytes

FFMPEG = imageio_ffmpeg.get_ffmpeg_exe()
SECRETS = (b"SecretTitle", b"SecretArtist", b"SecretComment")
ENCODER_STRINGS = (b"Lavf", b"Lavc", b"LAME", b"Info", b"Xing", b"ID3", b"TAG")


# --- building samples --------------------------------------------------------------


def ffmpeg(*args: str) -> None:
    subprocess.run([FFMPEG, "-hide_banner", "-nostdin", "-v", "error", "-y", *args], check=True, timeout=60)


def tone(seconds: float = 2, *, stereo: bool = False) -> list[str]:
    """A 440 Hz sine as ffmpeg input arguments (a different pitch per channel in stereo)."""
    if stereo:
        return [
            *("-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"),
            *("-f", "lavfi", "-i", f"sine=frequency=660:duration={seconds}"),
            *("-filter_complex", "amerge=inputs=2[a]", "-map", "[a]"),
        ]
    return ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]


TAGS = ["-metadata", "title=SecretTitle", "-metadata", "artist=SecretArtist", "-metadata", "comment=SecretComment"]


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> dict[str, bytes]:
    """Every sample, built once for the module: name → bytes."""
    d = tmp_path_factory.mktemp("audio")
    Image.new("RGB", (64, 64), (200, 40, 90)).save(d / "cover.png")
    ffmpeg(  # ID3v2.3 tags, an ID3v1 tag, PNG cover art, a Xing/Info frame (ffmpeg's default)
        *("-i", str(d / "cover.png")),
        *tone(stereo=True),
        *("-map", "0:v", "-c:v", "png", "-disposition:v", "attached_pic"),
        *("-c:a", "libmp3lame", "-b:a", "128k", *TAGS, "-id3v2_version", "3", "-write_id3v1", "1"),
        str(d / "tagged.mp3"),
    )
    ffmpeg(  # no ID3 tag and no Xing frame: it starts with an MPEG frame header
        *tone(), "-c:a", "libmp3lame", "-id3v2_version", "0", "-write_xing", "0", str(d / "bare.mp3")
    )
    ffmpeg(*tone(stereo=True), "-c:a", "pcm_s16le", *TAGS, str(d / "tone.wav"))
    ffmpeg(*tone(), "-c:a", "aac", *TAGS, str(d / "tone.m4a"))  # moov box at the end
    ffmpeg(*tone(), "-c:a", "aac", "-movflags", "+faststart", str(d / "faststart.m4a"))
    ffmpeg(*tone(), "-c:a", "aac", "-f", "adts", str(d / "tone.aac"))
    ffmpeg(*tone(), "-c:a", "libvorbis", *TAGS, str(d / "vorbis.ogg"))
    ffmpeg(*tone(), "-c:a", "libopus", *TAGS, "-f", "ogg", str(d / "opus.ogg"))
    ffmpeg(*tone(), "-c:a", "pcm_s16le", "-ar", "8000", str(d / "mono8k.wav"))
    ffmpeg(*tone(), "-c:a", "flac", str(d / "tone.flac"))
    ffmpeg(*tone(), "-c:a", "mp2", "-f", "mp2", str(d / "layer2.mp3"))
    ffmpeg(  # a picture track and nothing else
        *("-f", "lavfi", "-i", "testsrc=duration=2:size=64x64:rate=10"),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", str(d / "silent.mp4")),
    )
    ffmpeg(  # H.264 with an AAC sound track: still a video
        *("-f", "lavfi", "-i", "testsrc=duration=2:size=64x64:rate=10", *tone()),
        *("-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", str(d / "talking.mp4")),
    )
    return {p.stem + p.suffix.replace(".", "_"): p.read_bytes() for p in d.iterdir()}


def upload(data: bytes, name: str = "voice.mp3") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type="audio/mpeg")


def refused(data: bytes, code: str, *, limits: AudioLimits | None = None, name: str = "voice.mp3") -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        audio_clean(file=upload(data, name), limits=limits)
    assert caught.value.code == code, caught.value.message
    return caught.value


def probe_bytes(data: bytes, tmp_path: Path) -> audio.AudioProbe:
    path = tmp_path / "probe.bin"
    path.write_bytes(data)
    probe = audio_probe(path)
    assert probe is not None
    return probe


def ffmetadata(data: bytes, tmp_path: Path) -> str:
    """Every tag ffmpeg finds in ``data``, in its ffmetadata text form."""
    path = tmp_path / "meta.mp3"
    path.write_bytes(data)
    done = subprocess.run(
        # bitexact: the ffmetadata writer adds no "encoder" line of its own
        [FFMPEG, "-v", "error", "-i", str(path), "-fflags", "+bitexact", "-f", "ffmetadata", "-"],
        capture_output=True,
        check=True,
        timeout=30,
    )
    return done.stdout.decode()


def pcm(data: bytes) -> bytes:
    done = subprocess.run(
        [FFMPEG, "-v", "error", "-f", "mp3", "-i", "-", "-f", "s16le", "-"],
        input=data,
        capture_output=True,
        check=True,
        timeout=30,
    )
    return done.stdout


# --- good files are accepted and stored bare ---------------------------------------


@pytest.mark.parametrize(
    ("sample", "channels"),
    [
        ("tagged_mp3", 2),
        ("bare_mp3", 1),
        ("tone_wav", 2),
        ("tone_m4a", 1),
        ("faststart_m4a", 1),
        ("tone_aac", 1),
        ("vorbis_ogg", 1),
        ("opus_ogg", 1),
        ("mono8k_wav", 1),
    ],
)
def test_a_good_recording_is_re_encoded_as_a_bare_mp3_of_the_same_length(samples, sample, channels, tmp_path):
    clean = audio_clean(file=upload(samples[sample], f"voice.{sample.rsplit('_', 1)[1]}"))

    assert (clean.content_type, clean.extension) == ("audio/mpeg", "mp3")
    assert clean.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert clean.size == len(clean.data)
    probe = probe_bytes(clean.data, tmp_path)
    assert (probe.container, probe.audio_codec, probe.sample_rate) == ("mp3", "mp3", 44100)
    assert probe.channels == channels
    assert not probe.has_video  # no cover art
    assert probe.duration_seconds == pytest.approx(2.0, abs=0.1)


@pytest.mark.parametrize("sample", ["tagged_mp3", "tone_wav", "tone_m4a", "vorbis_ogg", "opus_ogg"])
def test_the_stored_copy_keeps_no_tag_cover_or_encoder_name_of_the_source(samples, sample, tmp_path):
    assert any(secret in samples[sample] for secret in SECRETS)  # the source carries them

    clean = audio_clean(file=upload(samples[sample]))

    for marker in SECRETS + ENCODER_STRINGS:
        assert marker not in clean.data, marker
    assert clean.data[:2] == b"\xff\xfb"  # the first byte is an MPEG-1 Layer III frame: no ID3 header
    assert ffmetadata(clean.data, tmp_path).strip() == ";FFMETADATA1"
    assert b"\x89PNG" not in clean.data


def test_the_same_sound_always_gives_the_same_bytes(samples):
    first = audio_clean(file=upload(samples["tone_wav"]))
    again = audio_clean(file=io.BytesIO(samples["tone_wav"]))

    assert first.sha256 == again.sha256 and first.data == again.data


def test_zeroing_lames_signature_leaves_the_sound_bit_for_bit_the_same(tmp_path):
    ffmpeg(
        *tone(stereo=True),
        *("-c:a", "libmp3lame", "-b:a", "128k", "-id3v2_version", "0", "-write_xing", "0"),
        str(tmp_path / "lame.mp3"),
    )
    encoded = (tmp_path / "lame.mp3").read_bytes()
    assert b"LAME" in encoded  # LAME fills unused bits with its name

    scrubbed = audio._scrub_ancillary(encoded)

    assert b"LAME" not in scrubbed and len(scrubbed) == len(encoded)
    assert pcm(scrubbed) == pcm(encoded)


def test_bytes_that_are_not_a_bare_layer_iii_stream_are_left_as_they_are(samples):
    assert audio._scrub_ancillary(samples["tagged_mp3"]) == samples["tagged_mp3"]  # starts with ID3
    assert audio._scrub_ancillary(samples["bare_mp3"][:-100]) == samples["bare_mp3"][:-100]  # a cut frame


# --- the attack set: each refused with its own reason, nothing kept -----------------


def test_an_empty_file_is_refused():
    exc = refused(b"", "empty")

    assert "empty" in exc.message


def test_a_text_file_named_mp3_is_refused():
    refused(b"Hello, this is not a song.\n" * 40, "not_audio", name="song.mp3")


def test_text_behind_an_id3_header_is_refused_as_damaged():
    refused(b"ID3\x03\x00\x00\x00\x00\x00\x10" + b"not mp3 frames at all " * 50, "truncated")


def test_a_png_named_wav_is_refused_and_named():
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "PNG")

    exc = refused(buf.getvalue(), "not_audio", name="voice.wav")

    assert "PNG" in exc.message


def test_flac_is_named_in_its_refusal(samples):
    exc = refused(samples["tone_flac"], "format", name="voice.flac")

    assert "FLAC" in exc.message


def test_mp2_inside_an_mp3_container_is_refused_by_its_codec(samples):
    assert audio_sniff(samples["layer2_mp3"][:16]) == "mp3"

    exc = refused(samples["layer2_mp3"], "format")

    assert "mp2" in exc.message


def test_a_video_with_no_sound_is_refused(samples):
    exc = refused(samples["silent_mp4"], "no_audio", name="voice.m4a")

    assert "video" in exc.message


def test_a_video_with_sound_is_refused_as_a_video(samples):
    refused(samples["talking_mp4"], "video", name="voice.mp4")


def test_an_m4a_with_only_a_cover_picture_has_no_sound(tmp_path):
    Image.new("RGB", (32, 32)).save(tmp_path / "c.png")
    ffmpeg("-i", str(tmp_path / "c.png"), "-c:v", "png", "-disposition:v", "attached_pic", str(tmp_path / "c.m4a"))

    refused((tmp_path / "c.m4a").read_bytes(), "no_audio")


@pytest.mark.parametrize(
    "sample",
    [
        "tagged_mp3",  # its Xing frame counts twice the frames the cut file decodes to
        "tone_wav",  # its data chunk claims twice the bytes
        "tone_m4a",  # cut before its moov box
        "faststart_m4a",  # moov first: the sample table points past the end of the file
        "tone_aac",  # the last ADTS frame is cut
        "vorbis_ogg",  # the last page is cut
        "opus_ogg",
    ],
)
def test_a_file_cut_in_half_is_refused_as_incomplete(samples, sample):
    data = samples[sample]

    exc = refused(data[: len(data) // 2], "truncated")

    assert "incomplete or damaged" in exc.message


def test_a_wav_whose_header_claims_more_data_than_it_has_is_refused(samples):
    data = bytearray(samples["tone_wav"])
    at = data.index(b"data") + 4
    claimed = int.from_bytes(data[at : at + 4], "little")
    data[at : at + 4] = (claimed + 10_000).to_bytes(4, "little")

    refused(bytes(data), "truncated", name="voice.wav")


def test_an_ogg_file_with_its_last_page_missing_is_refused(samples):
    data = samples["vorbis_ogg"]
    last_page = data.rindex(b"OggS")

    refused(data[:last_page], "truncated")  # every page whole, but the stream never ends


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(samples, settings):
    settings.MIRSAM_AUDIO_UPLOAD_MAX_MB = 0.05  # 52 kB; the WAV is about 350 kB

    exc = refused(samples["tone_wav"], "too_large")

    assert "0.05 MB" in exc.message


def test_a_stream_that_hides_its_size_is_cut_off_at_the_limit(samples):
    class Counting(io.BytesIO):
        read_bytes = 0

        def read(self, size: int | None = -1) -> bytes:
            chunk = super().read(size)
            self.read_bytes += len(chunk)
            return chunk

    stream = Counting(samples["tone_wav"] * 3)
    limits = AudioLimits(max_bytes=100_000)

    with pytest.raises(UploadRejected) as caught:
        audio_clean(file=stream, limits=limits)

    assert caught.value.code == "too_large"
    assert stream.read_bytes == limits.max_bytes + 1


def test_a_recording_longer_than_the_limit_is_refused(samples, settings):
    settings.MIRSAM_AUDIO_MAX_SECONDS = 1.5

    exc = refused(samples["tone_wav"], "too_long", name="voice.wav")

    assert "1.5 seconds" in exc.message


def test_a_recording_whose_header_is_far_over_the_limit_is_refused_without_decoding(samples, monkeypatch):
    monkeypatch.setattr(audio, "_encode", lambda *a, **k: pytest.fail("decoded"))

    refused(samples["tone_m4a"], "too_long", limits=AudioLimits(max_seconds=0.5, min_seconds=0.1))


def test_a_length_the_header_only_estimates_is_checked_by_decoding(samples):
    """The length that counts is the decoded one: raw AAC has no length in a
    header (ffmpeg guesses from the bit rate), and decoding stops just past
    the limit."""
    refused(samples["tone_aac"], "too_long", limits=AudioLimits(max_seconds=1.2, min_seconds=0.5))


def test_a_recording_shorter_than_the_minimum_is_refused(samples, settings):
    settings.MIRSAM_AUDIO_MIN_SECONDS = 3

    exc = refused(samples["tone_wav"], "too_short", name="voice.wav")

    assert "3 seconds" in exc.message


def test_a_file_ffmpeg_takes_too_long_over_is_refused(samples, monkeypatch):
    def slow(args, *, timeout):
        raise subprocess.TimeoutExpired(cmd="ffmpeg", timeout=timeout)

    monkeypatch.setattr(audio, "_ffmpeg", slow)

    refused(samples["tone_wav"], "unreadable")


# --- limits -----------------------------------------------------------------------


def test_limits_default_to_20_mb_and_1_to_300_seconds(settings):
    for name in ("MIRSAM_AUDIO_UPLOAD_MAX_MB", "MIRSAM_AUDIO_MAX_SECONDS", "MIRSAM_AUDIO_MIN_SECONDS"):
        if hasattr(settings, name):
            delattr(settings, name)

    assert audio_limits_from_settings() == AudioLimits(max_bytes=20 * 1024 * 1024, max_seconds=300, min_seconds=1)


def test_the_help_text_gives_the_formats_size_and_length(settings):
    assert describe_audio_limits(AudioLimits()) == "MP3, WAV, M4A or OGG; up to 20 MB and 5 minutes."
    settings.MIRSAM_AUDIO_UPLOAD_MAX_MB = 2.5
    settings.MIRSAM_AUDIO_MAX_SECONDS = 90
    assert describe_audio_limits() == "MP3, WAV, M4A or OGG; up to 2.5 MB and 90 seconds."


def test_the_help_text_is_in_arabic_for_arabic_readers():
    from django.utils import translation

    with translation.override("ar"):
        text = describe_audio_limits(AudioLimits())

    assert "MP3" in text and "20" in text and "دقائق" in text


@pytest.mark.parametrize(
    "kwargs", [{"max_bytes": 0}, {"min_seconds": 0}, {"max_seconds": 1, "min_seconds": 1}, {"max_seconds": -5}]
)
def test_limits_that_would_let_anything_through_or_nothing_in_are_a_configuration_error(kwargs):
    with pytest.raises(ValueError, match="Audio limits"):
        AudioLimits(**kwargs)


# --- probing ------------------------------------------------------------------------


def test_the_probe_reads_container_codec_streams_and_duration(samples, tmp_path):
    tagged = probe_bytes(samples["tagged_mp3"], tmp_path)
    video = probe_bytes(samples["talking_mp4"], tmp_path)

    assert (tagged.container, tagged.audio_codec, tagged.channels) == ("mp3", "mp3", 2)
    assert tagged.has_audio and not tagged.has_video  # cover art is not a video
    assert tagged.duration_seconds == pytest.approx(2.0, abs=0.05)
    assert video.has_audio and video.has_video and video.audio_codec == "aac"


def test_the_probe_gives_nothing_for_a_file_ffmpeg_cannot_open(tmp_path):
    path = tmp_path / "x.bin"
    path.write_bytes(b"just some words")

    assert audio_probe(path) is None


def test_a_stream_line_forged_in_a_tag_makes_the_report_unreadable():
    report = (
        "Input #0, mp3, from 'file:/tmp/x':\n"
        "  Metadata:\n"
        "    title           : x\n"
        "  Stream #0:0: Video: h264, yuv420p\n"  # what a crafted tag key would print
        "  Duration: 00:00:02.00, start: 0.000000, bitrate: 128 kb/s\n"
        "  Stream #0:0: Audio: mp3 (mp3float), 44100 Hz, mono, fltp, 128 kb/s\n"
    )

    assert audio._parse_probe(report) is None


# --- the service --------------------------------------------------------------------


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.mark.django_db
def test_audio_upload_create_stores_the_clean_mp3(alice, samples, settings):
    upload_row = audio_upload_create(user=alice, file=upload(samples["tagged_mp3"], "my voice.mp3"))

    upload_row.refresh_from_db()
    assert upload_row.is_audio and upload_row.content_type == "audio/mpeg"
    assert (upload_row.width, upload_row.height) == (None, None)
    assert upload_row.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert upload_row.original_name == "my voice.mp3"
    assert upload_row.file.name.endswith(".mp3")
    with upload_row.file.open("rb") as f:
        data = f.read()
    assert len(data) == upload_row.size_bytes and b"SecretTitle" not in data and not data.startswith(b"ID3")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("sample", "code"),
    [("silent_mp4", "no_audio"), ("tone_flac", "format"), ("half_wav", "truncated"), ("", "empty")],
)
def test_a_refused_recording_leaves_no_upload_and_no_file(alice, samples, settings, sample, code):
    data = samples["tone_wav"][: len(samples["tone_wav"]) // 2] if sample == "half_wav" else samples.get(sample, b"")

    with pytest.raises(UploadRejected) as caught:
        audio_upload_create(user=alice, file=upload(data))

    assert caught.value.code == code
    assert not Upload.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.django_db
def test_an_oversized_recording_leaves_no_upload_and_no_file(alice, samples, settings):
    settings.MIRSAM_AUDIO_UPLOAD_MAX_MB = 0.01

    with pytest.raises(UploadRejected):
        audio_upload_create(user=alice, file=upload(samples["tone_wav"]))

    assert not Upload.objects.exists() and stored_files(settings) == []


@pytest.mark.django_db
def test_the_avatar_page_lists_photos_but_not_recordings(alice, alice_client, samples):
    recording = audio_upload_create(user=alice, file=upload(samples["bare_mp3"]))

    response = alice_client.get("/avatar/")

    assert response.status_code == 200
    assert f"/uploads/{recording.pk}/" not in response.content.decode()


@pytest.mark.django_db
def test_a_recording_can_be_deleted_from_its_confirmation_page(alice, alice_client, samples):
    recording = audio_upload_create(user=alice, file=upload(samples["bare_mp3"]))

    page = alice_client.get(f"/uploads/{recording.pk}/delete/")
    done = alice_client.post(f"/uploads/{recording.pk}/delete/")

    assert page.status_code == 200 and b"<audio" in page.content
    assert done.status_code == 302 and not Upload.objects.exists()


# --- outputs from providers ---------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "content_type", "extension"),
    [
        ("tagged_mp3", "audio/mpeg", "mp3"),
        ("bare_mp3", "audio/mpeg", "mp3"),  # frame sync, no ID3
        ("tone_wav", "audio/wav", "wav"),
        ("tone_m4a", "audio/mp4", "m4a"),  # brand M4A
        ("tone_aac", "audio/aac", "aac"),
        ("vorbis_ogg", "audio/ogg", "ogg"),
        ("opus_ogg", "audio/ogg", "ogg"),
    ],
)
def test_output_check_recognises_sound(samples, sample, content_type, extension):
    checked = output_check(io.BytesIO(samples[sample]))

    assert (checked.content_type, checked.extension) == (content_type, extension)
    assert checked.is_audio and not checked.is_video
    assert (checked.width, checked.height) == (None, None)
    assert checked.duration_seconds == pytest.approx(2.0, abs=0.1)


def test_an_mp4_of_sound_alone_under_a_video_brand_is_audio(samples, tmp_path):
    ffmpeg(*tone(), "-c:a", "aac", "-f", "mp4", "-brand", "isom", str(tmp_path / "a.mp4"))
    data = (tmp_path / "a.mp4").read_bytes()
    assert data[8:12] == b"isom"

    assert output_check(io.BytesIO(data)).content_type == "audio/mp4"


@pytest.mark.parametrize("sample", ["talking_mp4", "silent_mp4"])
def test_a_real_h264_mp4_stays_a_video(samples, sample):
    checked = output_check(io.BytesIO(samples[sample]))

    assert (checked.content_type, checked.extension) == ("video/mp4", "mp4")
    assert checked.is_video and not checked.is_audio
    assert checked.duration_seconds == pytest.approx(2.0, abs=0.1)


def test_bytes_that_only_start_like_an_mp4_stay_a_video_without_a_duration():
    checked = output_check(io.BytesIO(mp4_bytes()))

    assert (checked.content_type, checked.duration_seconds) == ("video/mp4", None)


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfb\x90\x00" + b"\x00" * 2000,  # an MP3 frame header, then nothing
        b"RIFF\x00\x10\x00\x00WAVEjunkjunk",
        b"OggS" + b"\x00" * 500,
        b"\x00\x00\x00\x1cftypM4A \x00\x00\x02\x00M4A isomiso2" + b"\x00" * 100,  # M4A brand, no moov
    ],
)
def test_an_output_that_only_looks_like_sound_is_a_bad_output(data):
    with pytest.raises(ProviderError) as caught:
        output_check(io.BytesIO(data))

    assert caught.value.code == "bad_output"


def test_the_output_file_is_rewound_after_the_check(samples):
    f = io.BytesIO(samples["bare_mp3"])

    output_check(f)

    assert f.tell() == 0


def test_every_audio_type_has_an_extension():
    assert {EXTENSIONS[t] for t in ("audio/mpeg", "audio/wav", "audio/mp4", "audio/ogg")} == {
        "mp3",
        "wav",
        "m4a",
        "ogg",
    }


@pytest.mark.django_db
def test_a_sound_output_is_stored_with_its_extension_and_length_and_no_poster(
    alice, demo_offer, samples, monkeypatch, django_capture_on_commit_callbacks
):
    from generation import services
    from providers.demo import DemoAdapter

    def download(self, url, request, *, max_bytes):
        f = spooled_file()
        f.write(samples["tagged_mp3"])
        f.seek(0)
        return Download(f, "application/octet-stream", len(samples["tagged_mp3"]))

    monkeypatch.setattr(DemoAdapter, "download", download)
    monkeypatch.setattr(pipeline, "video_poster", lambda f: pytest.fail("a poster for sound"))
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "a voice", "outputs": 1})

    asset = Asset.objects.get(job=job)
    assert asset.is_audio and not asset.is_video
    assert asset.content_type == "audio/mpeg"
    assert asset.file.name.endswith(".mp3") and asset.download_name.endswith(".mp3")
    assert asset.duration_seconds == pytest.approx(2.0, abs=0.1)
    assert not asset.poster
    assert (asset.width, asset.height) == (None, None)
