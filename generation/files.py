"""Serving stored files (results, posters, uploads) to their owner only,
and the results staff picked for the showcase to everyone while they are
public (``ShowcaseItem.public()``).

On S3 a file is a redirect to a short-lived signed URL (django-storages);
on the local file system it is streamed here, honouring a single HTTP
``Range`` (RFC 9110 §14), because browsers seek in a video with one.
Every view looks the object up with the reader as owner, so another user
gets 404, never 403: an outsider cannot tell the file exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.files.storage import FileSystemStorage
from django.core.signing import BadSignature, TimestampSigner
from django.db.models.fields.files import FieldFile
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from accounts.http import AuthedRequest

from .models import Asset, ShowcaseItem, Upload

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CHUNK = 64 * 1024


def serve(
    request: HttpRequest,
    field: FieldFile,
    content_type: str,
    filename: str,
    *,
    downloadable: bool = True,
    attachment: bool = False,
    cache_control: str = "private, max-age=3600",
) -> HttpResponseBase:
    """``field``'s file as ``content_type``; ``?download=1`` makes it an
    attachment named ``filename`` (when ``downloadable``; always when
    ``attachment``). A satisfiable
    ``Range`` gets 206 with that span, an unsatisfiable one 416; the whole
    file otherwise (200). ``cache_control`` is sent on local files."""
    download = attachment or (downloadable and bool(request.GET.get("download")))
    if not isinstance(field.storage, FileSystemStorage):
        # S3: a short-lived signed URL; a download asks S3 to send it as an attachment.
        params = {"ResponseContentDisposition": f'attachment; filename="{filename}"'} if download else None
        return HttpResponseRedirect(field.storage.url(field.name, parameters=params))  # type: ignore[call-arg]  # S3Storage.url takes parameters
    size = field.size
    match = _RANGE.match(request.headers.get("Range", ""))
    response: HttpResponseBase
    if match and (match.group(1) or match.group(2)):
        if match.group(1):
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
        else:  # a suffix range: the last N bytes
            start, end = max(0, size - int(match.group(2))), size - 1
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        f = field.open("rb")
        f.seek(start)
        response = StreamingHttpResponse(_read_span(f, end - start + 1), status=206, content_type=content_type)
        response["Content-Length"] = str(end - start + 1)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    else:
        response = FileResponse(field.open("rb"), content_type=content_type, as_attachment=download, filename=filename)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = cache_control
    return response


def _read_span(f: IO[bytes], length: int) -> Iterator[bytes]:
    try:
        while length > 0:
            data = f.read(min(_CHUNK, length))
            if not data:
                break
            length -= len(data)
            yield data
    finally:
        f.close()


#: Signs the ``?token=`` of a result's download link for programs (the API),
#: which have no session: ``"<asset id>:<owner id>"``, timestamped.
_DOWNLOAD_SIGNER = TimestampSigner(salt="mirsam.asset-file")


def asset_download_token(asset: Asset) -> str:
    """A token for :func:`asset_file`'s ``?token=`` that lets whoever holds it
    fetch ``asset`` for ``MIRSAM_API_DOWNLOAD_URL_SECONDS`` seconds without a
    session (the API hands it to its key's owner only)."""
    return _DOWNLOAD_SIGNER.sign(f"{asset.pk}:{asset.user_id}")


def _token_owner(token: str, asset_id: int) -> int | None:
    """The owner id a valid, unexpired token for ``asset_id`` names, else None."""
    try:
        value = _DOWNLOAD_SIGNER.unsign(token, max_age=settings.MIRSAM_API_DOWNLOAD_URL_SECONDS)
    except BadSignature:  # SignatureExpired is one too
        return None
    signed_asset, _sep, owner = value.partition(":")
    return int(owner) if signed_asset == str(asset_id) and owner.isdigit() else None


@require_GET
def asset_file(request: HttpRequest, asset_id: int) -> HttpResponseBase:
    """A result file, to its owner only (others get 404). ``?download=1``
    makes it an attachment. On S3 this redirects to a short-lived signed URL.

    Signed in, the owner is the session's user; without a session a valid
    ``?token=`` (:func:`asset_download_token`, short-lived) names the owner,
    and an expired or forged one is answered 404 like another user's file."""
    token = request.GET.get("token")
    if token is not None:
        owner = _token_owner(token, asset_id)
        if owner is None:
            raise Http404
    elif request.user.is_authenticated:
        owner = request.user.pk
    else:
        return redirect_to_login(request.get_full_path())
    asset = get_object_or_404(Asset, pk=asset_id, user_id=owner)
    return serve(request, asset.file, asset.content_type, asset.download_name)


@login_required
@require_GET
def asset_preview(request: AuthedRequest, asset_id: int) -> HttpResponseBase:
    """An image's preview (the smaller copy the cards show), to its owner only."""
    asset = get_object_or_404(Asset, pk=asset_id, user=request.user)
    if not asset.preview:
        raise Http404
    webp = (asset.preview.name or "").endswith(".webp")
    content_type, extension = ("image/webp", "webp") if webp else ("image/jpeg", "jpg")
    return serve(request, asset.preview, content_type, f"mirsam-{asset.job_id}-preview.{extension}", downloadable=False)


@login_required
@require_GET
def asset_poster(request: AuthedRequest, asset_id: int) -> HttpResponseBase:
    """A video's poster frame, to its owner only."""
    asset = get_object_or_404(Asset, pk=asset_id, user=request.user)
    if not asset.poster:
        raise Http404
    return serve(request, asset.poster, "image/png", f"mirsam-{asset.job_id}-poster.png")


@login_required
@require_GET
def upload_file(request: AuthedRequest, upload_id: int) -> HttpResponseBase:
    """One of the user's own uploads (a thumbnail on the Avatar page)."""
    upload = get_object_or_404(Upload, pk=upload_id, user=request.user)
    extension = upload.file.name.rsplit(".", 1)[-1] if upload.file.name else "bin"
    return serve(request, upload.file, upload.content_type, f"upload-{upload.pk}.{extension}")


#: Public showcase files: kept by the visitor's browser only (never a shared
#: cache), and briefly, so a withdrawn result is gone for them within minutes
#: and for everyone else at once.
SHOWCASE_CACHE_CONTROL = "private, max-age=300"


def _public_item(item_id: int) -> ShowcaseItem:
    return get_object_or_404(ShowcaseItem.public().select_related("asset"), pk=item_id)


@require_GET
def showcase_file(request: HttpRequest, item_id: int) -> HttpResponseBase:
    """A showcase item's result, to anyone, while the item is public (picked,
    active, its owner's permission in force); 404 otherwise, and for any id
    that is not a showcase item's (a result's own id reaches nothing here)."""
    item = _public_item(item_id)
    asset = item.asset
    suffix = asset.download_name.rsplit(".", 1)[-1] if "." in asset.download_name else "bin"
    return serve(
        request,
        asset.file,
        asset.content_type,
        f"mirsam-showcase-{item.pk}.{suffix}",
        downloadable=False,
        cache_control=SHOWCASE_CACHE_CONTROL,
    )


@require_GET
def showcase_poster(request: HttpRequest, item_id: int) -> HttpResponseBase:
    """A public showcase video's poster (or a track's cover); 404 as
    :func:`showcase_file`, and when the result has none."""
    asset = _public_item(item_id).asset
    if not asset.poster:
        raise Http404
    return serve(
        request,
        asset.poster,
        "image/png",
        f"mirsam-showcase-{item_id}-poster.png",
        downloadable=False,
        cache_control=SHOWCASE_CACHE_CONTROL,
    )
