"""Speaking: a talking portrait (a picture that speaks a speech) and a
lip-sync (a video whose lips follow a speech), docs/kie.md §2.9.

:func:`job_speak` is the door of the "Make it speak" page (and, later, the
API): the picture or video and the speech are each the creator's own
finished result or a file they upload (a photo with their consent, as on
the Avatar page; audio checked by ``generation.audio``). The job is priced
per second of the speech, measured from the file itself, never from the
client; a speech longer than the model takes is refused before anything is
stored or held.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from providers import pricing
from providers.models import Offer

from ..errors import GenerationError
from ..models import Asset, Job, JobInput, JobStatus, Upload
from .submit import _check_available, _check_consent, _submitted, asset_kind, job_params_clean, job_submit
from .uploads import audio_upload_create, upload_create, upload_delete

if TYPE_CHECKING:
    from accounts.models import User

#: Longest speech a speaking model takes when its row names none, in seconds.
DEFAULT_SPEECH_MAX_SECONDS = 60


def speech_seconds(source: Asset | Upload) -> int:
    """Whole seconds of a speech, rounded up (what a per-second price counts).
    Raises :class:`GenerationError` when its length is unknown."""
    seconds = source.duration_seconds
    if not seconds or seconds <= 0:
        raise GenerationError(_("The length of this sound is unknown; choose another one."), code="inputs")
    return max(1, math.ceil(seconds))


def speech_max_seconds(offer: Offer) -> int:
    """The longest speech ``offer`` takes, in seconds (``options["speech_max_seconds"]``)."""
    return int(offer.options.get("speech_max_seconds") or DEFAULT_SPEECH_MAX_SECONDS)


def _check_speech_length(offer: Offer, seconds: int) -> None:
    most = speech_max_seconds(offer)
    if seconds > most:
        raise GenerationError(
            ngettext(
                "This model takes at most %(max)d second of speech; this one is %(seconds)d seconds.",
                "This model takes at most %(max)d seconds of speech; this one is %(seconds)d seconds.",
                most,
            )
            % {"max": most, "seconds": seconds},
            code="speech_length",
        )


def job_speak(
    *,
    user: User,
    offer: Offer,
    params: dict[str, Any],
    picture: Asset | None = None,
    picture_file: UploadedFile | None = None,
    speech: Asset | None = None,
    speech_file: UploadedFile | None = None,
    consent_version: str | None = None,
    submission_key: str = "",
) -> Job:
    """A talking portrait or a lip-sync job for ``user`` with ``offer`` (a
    speaking model, ``Offer.speaks``).

    The picture (a portrait: an image; a lip-sync: a video) is ``picture``,
    one of the user's finished results, or ``picture_file``, a photo they
    upload (a portrait only, with ``consent_version``, the version of the
    consent wording they confirmed, recorded like an Avatar photo). The
    speech is ``speech``, one of their finished audio results, or
    ``speech_file``, an audio file they upload. ``params``: the model's
    options and an optional ``prompt``. The price is the model's per-second
    price × the speech's whole seconds (``params["duration"]`` of the job).

    Raises :class:`GenerationError` (``not_found`` for a result that is not
    the user's; ``speech_length`` for a speech longer than the model takes;
    ``UploadRejected`` for a refused file) or ``InsufficientCredits``; then
    nothing is stored or held. A ``submission_key`` already used returns
    its job and stores nothing.
    """
    if submission_key:
        existing = _submitted(user, submission_key)
        if existing is not None:
            return existing
    _check_available(offer)
    if not offer.speaks:
        raise GenerationError(_("This model does not make a picture speak."), code="unavailable")
    _check_picture(user, offer, picture, picture_file, consent_version)
    if (speech is None) == (speech_file is None):
        raise GenerationError(_("Choose a speech or upload an audio file."), code="inputs")
    if speech is not None and speech.user_id != user.pk:
        raise GenerationError(_("That result was not found."), code="not_found")
    if speech is not None:
        _check_speech_length(offer, speech_seconds(speech))
    stored: list[Upload] = []
    try:
        picture_upload = None
        if picture_file is not None:
            picture_upload = upload_create(user=user, file=picture_file, consent_version=consent_version)
            stored.append(picture_upload)
        speech_upload = None
        if speech_file is not None:
            speech_upload = audio_upload_create(user=user, file=speech_file)
            stored.append(speech_upload)
        speech_source: Asset | Upload = speech if speech is not None else speech_upload  # type: ignore[assignment]
        seconds = speech_seconds(speech_source)
        _check_speech_length(offer, seconds)
        first_role = "video" if offer.speaks == "video" else "portrait"
        uploads = [u for u in (picture_upload, speech_upload) if u is not None]
        results = [a for a in (picture, speech) if a is not None]
        upload_roles = [first_role if u is picture_upload else "speech" for u in uploads]
        result_roles = [first_role if a is picture else "speech" for a in results]
        job = job_submit(
            user=user,
            offer=offer,
            params=params,
            uploads=uploads,
            results=results,
            input_roles=[*upload_roles, *result_roles],
            extra={"duration": str(seconds)},
            submission_key=submission_key,
        )
    except Exception:
        for upload in stored:  # a refused job must not leave the user's files behind
            upload_delete(upload=upload)
        raise
    if stored and not job.inputs.filter(upload__in=stored).exists():
        for upload in stored:  # a twin sent at the same moment made the job with its own copies
            upload_delete(upload=upload)
    return job


def _check_picture(
    user: User, offer: Offer, picture: Asset | None, picture_file: UploadedFile | None, consent_version: str | None
) -> None:
    """Exactly one picture: the user's own result of the kind the model
    moves (an image, or a video for a lip-sync), or an uploaded photo with
    consent (a portrait only). Raises :class:`GenerationError`
    (``not_found`` for someone else's result)."""
    lip_sync = offer.speaks == "video"
    if (picture is None) == (picture_file is None):
        raise GenerationError(
            _("Choose the video to lip-sync.") if lip_sync else _("Choose a picture or upload a photo."), code="inputs"
        )
    if picture is not None:
        if picture.user_id != user.pk:
            raise GenerationError(_("That result was not found."), code="not_found")
        if asset_kind(picture) != ("video" if lip_sync else "image"):
            raise GenerationError(_("This needs a video.") if lip_sync else _("This needs an image."), code="inputs")
    elif lip_sync:
        raise GenerationError(_("Choose one of your videos to lip-sync."), code="inputs")
    else:
        _check_consent_given(offer, consent_version)


def _check_consent_given(offer: Offer, consent_version: str | None) -> None:
    """A photo of a person is used only with consent to the current wording
    (``generation.consent``), as on the Avatar page."""
    if not consent_version:
        raise GenerationError(_("Please confirm the consent statement to continue."), code="consent")
    _check_consent(offer, consent_version)


# --- a speech made on the spot: two jobs -----------------------------------------

#: The fewest characters a second of speech takes: a text's longest plausible
#: reading (at speed 1.0), what the waiting job holds credits for.
SLOWEST_CHARS_PER_SECOND = 10
#: The most characters a second of speech takes: a text's shortest plausible
#: reading, refused up front when even it is longer than the model takes.
FASTEST_CHARS_PER_SECOND = 20

SPEECH_FAILED_MESSAGE = gettext_lazy("The speech could not be made, so the video was not started.")
SPEECH_MISSING_MESSAGE = gettext_lazy("The speech this video was waiting for is gone.")


def speech_estimate_seconds(text: str, *, speed: float = 1.0) -> tuple[int, int]:
    """``(shortest, longest)`` whole seconds a speech of ``text`` may last at
    ``speed`` (1.0 = normal): from :data:`FASTEST_CHARS_PER_SECOND` and
    :data:`SLOWEST_CHARS_PER_SECOND`, at least 1 each."""
    chars = len(text.strip())
    speed = speed if speed > 0 else 1.0
    return (
        max(1, math.ceil(chars / FASTEST_CHARS_PER_SECOND / speed)),
        max(1, math.ceil(chars / SLOWEST_CHARS_PER_SECOND / speed)),
    )


def job_speak_text(
    *,
    user: User,
    offer: Offer,
    params: dict[str, Any],
    speech_offer: Offer,
    text: str,
    voice: str,
    picture: Asset | None = None,
    picture_file: UploadedFile | None = None,
    consent_version: str | None = None,
    submission_key: str = "",
) -> Job:
    """A talking portrait (or lip-sync) of a speech made on the spot from
    ``text`` in ``voice`` with ``speech_offer`` (a speech model): two jobs,
    each priced, held and charged on its own. The speech job runs at once;
    the video job waits for it (``params["after_job"]``), holding the price
    of the longest plausible reading of the text
    (:func:`speech_estimate_seconds`), and when the speech is made it is
    charged for the speech's real seconds, never more than it held
    (:func:`speech_attach`). If the speech fails, the video job fails with
    it and both return their credits; if the video fails, its credits come
    back and the speech stays, charged.

    Raises what :func:`job_speak` and ``job_submit`` raise (and
    ``speech_length`` when even the quickest reading of the text is longer
    than the model takes); then nothing is stored or held."""
    if submission_key:
        existing = _submitted(user, submission_key)
        if existing is not None:
            return existing
    if speech_offer.audio_kind != "speech":
        raise GenerationError(_("Choose a voice-over model for the speech."), code="unavailable")
    speech_params = {"prompt": text, "voice": voice, "outputs": 1}
    clean = job_params_clean(offer=speech_offer, params=speech_params)
    speed = float(clean.get("speed") or 1.0)
    shortest, longest = speech_estimate_seconds(clean["prompt"], speed=speed)
    _check_speech_length(offer, shortest)
    longest = min(longest, speech_max_seconds(offer))
    with transaction.atomic():
        speech_job = job_submit(
            user=user,
            offer=speech_offer,
            params=speech_params,
            submission_key=f"{submission_key}:speech"[:100] if submission_key else "",
        )
        return _job_speak_after(
            user=user,
            offer=offer,
            params=params,
            speech_job=speech_job,
            seconds=longest,
            picture=picture,
            picture_file=picture_file,
            consent_version=consent_version,
            submission_key=submission_key,
        )


def _job_speak_after(
    *,
    user: User,
    offer: Offer,
    params: dict[str, Any],
    speech_job: Job,
    seconds: int,
    picture: Asset | None,
    picture_file: UploadedFile | None,
    consent_version: str | None,
    submission_key: str,
) -> Job:
    """The video job of :func:`job_speak_text`, waiting for ``speech_job``."""
    _check_available(offer)
    if not offer.speaks:
        raise GenerationError(_("This model does not make a picture speak."), code="unavailable")
    _check_picture(user, offer, picture, picture_file, consent_version)
    first_role = "video" if offer.speaks == "video" else "portrait"
    upload = None
    try:
        if picture_file is not None:
            upload = upload_create(user=user, file=picture_file, consent_version=consent_version)
        return job_submit(
            user=user,
            offer=offer,
            params=params,
            uploads=[upload] if upload is not None else [],
            results=[picture] if picture is not None else [],
            input_roles=[first_role],
            extra={"duration": str(seconds), "after_job": speech_job.pk},
            parent=speech_job,
            submission_key=submission_key,
            awaits_input=True,
        )
    except Exception:
        if upload is not None:
            upload_delete(upload=upload)
        raise


def speech_attach(*, job_id: int) -> bool:
    """Give a job waiting for its speech (``params["after_job"]``) that
    speech, once made: its audio result becomes the job's "speech" input,
    ``params["duration"]`` its whole seconds, and the price the model's for
    those seconds, never more than the job holds (the rest is released when
    the job finishes). Returns True when the job has its speech (now or
    before) and may be submitted; False while the speech is still being
    made, or when it failed, was deleted or is longer than the model takes:
    then the job is failed here and its credits released."""
    from .pipeline import job_fail

    job = Job.objects.select_related("offer").get(pk=job_id)
    if job.inputs.filter(role="speech").exists():
        return True
    speech_job = Job.objects.filter(pk=job.params.get("after_job"), user_id=job.user_id).first()
    if speech_job is not None and not speech_job.is_final:
        return False
    asset = None
    if speech_job is not None and speech_job.status == JobStatus.SUCCEEDED:
        asset = speech_job.assets.filter(content_type__startswith="audio/").order_by("index").first()
    if asset is None or not asset.duration_seconds:
        gone = speech_job is None or speech_job.status == JobStatus.SUCCEEDED
        message = SPEECH_MISSING_MESSAGE if gone else SPEECH_FAILED_MESSAGE
        job_fail(job_id=job.pk, code="speech_failed", message=str(message))
        return False
    seconds = speech_seconds(asset)
    if seconds > speech_max_seconds(job.offer):
        job_fail(
            job_id=job.pk,
            code="speech_length",
            message=_("The speech is %(seconds)d seconds long, more than this model takes (%(max)d).")
            % {"seconds": seconds, "max": speech_max_seconds(job.offer)},
        )
        return False
    with transaction.atomic():
        locked = Job.objects.select_for_update(of=("self",)).select_related("offer").get(pk=job.pk)
        if locked.is_final:
            return False
        if locked.inputs.filter(role="speech").exists():
            return True
        params = {**locked.params, "duration": str(seconds)}
        JobInput.objects.create(job=locked, asset=asset, role="speech", position=locked.inputs.count())
        locked.params = params
        locked.price_credits = min(locked.price_credits, locked.offer.price_for(outputs=locked.outputs, params=params))
        locked.save(update_fields=["params", "price_credits", "updated_at"])
        estimate = pricing.job_output_cost_usd(locked.offer, params).quantize(Decimal("0.0001"))
        locked.tasks.update(estimate_usd=estimate)
    return True
