"""Files on S3-compatible storage (django-storages) against a local S3 server:
moto in server mode on 127.0.0.1, reached over real HTTP by boto3 and requests.
Pure Python, so it always runs (also under CI=true).

Moto enforces object ACLs for anonymous requests but does not verify request
signatures or their expiry; the expiry is checked in the signed URL itself.
"""

from __future__ import annotations

import socket
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.urls import reverse

from generation import services
from generation.models import JobStatus

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}  # moto accepts any


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3(settings, moto_endpoint):
    """The default storage is S3Storage on a fresh bucket of the local server,
    configured only through the AWS_* settings production uses."""
    import boto3

    bucket = f"mirsam-test-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=moto_endpoint, region_name=REGION, **CREDENTIALS)
    client.create_bucket(Bucket=bucket)
    settings.AWS_STORAGE_BUCKET_NAME = bucket
    settings.AWS_S3_ENDPOINT_URL = moto_endpoint
    settings.AWS_S3_REGION_NAME = REGION
    settings.AWS_ACCESS_KEY_ID = CREDENTIALS["aws_access_key_id"]
    settings.AWS_SECRET_ACCESS_KEY = CREDENTIALS["aws_secret_access_key"]
    settings.AWS_QUERYSTRING_EXPIRE = 120
    # Last: changing STORAGES resets django's storages, so the next use builds
    # the S3Storage from the settings above.
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage"}}
    client.bucket = bucket
    return client


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _grantees(acl: dict) -> set[str]:
    return {grant["Grantee"].get("URI") or grant["Grantee"].get("ID") for grant in acl["Grants"]}


def test_the_production_settings_make_a_private_signed_s3_storage(s3, settings):
    from storages.backends.s3 import S3Storage

    storage = storages["default"]
    assert isinstance(storage, S3Storage)
    assert storage.bucket_name == s3.bucket
    assert storage.default_acl == "private"
    assert storage.querystring_auth is True
    assert storage.signature_version == "s3v4"
    assert storage.file_overwrite is False


def test_a_saved_file_is_private_and_only_a_signed_url_reads_it(s3, settings):
    storage = storages["default"]
    name = storage.save("outputs/1/test.png", ContentFile(b"\x89PNG fake image bytes"))
    assert storage.exists(name)
    with storage.open(name, "rb") as f:
        assert f.read() == b"\x89PNG fake image bytes"

    acl = s3.get_object_acl(Bucket=s3.bucket, Key=name)
    assert ALL_USERS not in _grantees(acl) and AUTHENTICATED_USERS not in _grantees(acl)
    assert [grant["Permission"] for grant in acl["Grants"]] == ["FULL_CONTROL"]  # the owner only

    unsigned = f"{settings.AWS_S3_ENDPOINT_URL}/{s3.bucket}/{name}"
    assert requests.get(unsigned, timeout=10).status_code == 403

    signed = storage.url(name)
    query = parse_qs(urlsplit(signed).query)
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
    assert 0 < int(query["X-Amz-Expires"][0]) <= settings.AWS_QUERYSTRING_EXPIRE
    response = requests.get(signed, timeout=10)
    assert response.status_code == 200
    assert response.content == b"\x89PNG fake image bytes"


def test_saving_the_same_name_twice_keeps_both_files(s3):
    storage = storages["default"]
    first = storage.save("uploads/1/photo.jpg", ContentFile(b"one"))
    second = storage.save("uploads/1/photo.jpg", ContentFile(b"two"))
    assert first != second
    assert storage.open(first).read() == b"one" and storage.open(second).read() == b"two"


def test_readyz_checks_the_bucket(s3, client, db, settings):
    from botocore.config import Config

    assert client.get("/readyz").json()["storage"] == "ok"

    settings.AWS_S3_ENDPOINT_URL = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    settings.AWS_S3_CLIENT_CONFIG = Config(connect_timeout=1, read_timeout=1, retries={"max_attempts": 0})
    settings.STORAGES = {**settings.STORAGES}  # rebuild the storage from the changed settings
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"database": "ok", "broker": "ok", "storage": "failed"}


@pytest.mark.django_db
def test_the_file_view_redirects_the_owner_to_a_signed_url_and_gives_others_404(
    s3, settings, alice, alice_client, charlie_client, demo_offer, django_capture_on_commit_callbacks
):
    # The whole pipeline writes its output through the default storage: into the bucket.
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_submit(user=alice, offer=demo_offer, params={"prompt": "sunrise", "outputs": 1})
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    asset = job.assets.get()
    assert default_storage.exists(asset.file.name)
    s3.head_object(Bucket=s3.bucket, Key=asset.file.name)  # really in the bucket

    url = reverse("asset_file", args=[asset.pk])
    response = alice_client.get(url)
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(f"{settings.AWS_S3_ENDPOINT_URL}/{s3.bucket}/")
    assert "X-Amz-Signature=" in location
    assert int(parse_qs(urlsplit(location).query)["X-Amz-Expires"][0]) <= settings.AWS_QUERYSTRING_EXPIRE
    signed = requests.get(location, timeout=10)
    assert signed.status_code == 200 and signed.content[:4] == b"\x89PNG"
    assert requests.get(location.split("?", 1)[0], timeout=10).status_code == 403

    assert charlie_client.get(url).status_code == 404

    download = alice_client.get(url + "?download=1")
    assert "response-content-disposition=attachment" in download["Location"]
    fetched = requests.get(download["Location"], timeout=10)
    assert fetched.status_code == 200 and "attachment" in fetched.headers.get("Content-Disposition", "")
