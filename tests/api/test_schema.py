"""The OpenAPI 3 schema django-ninja makes is valid and lists every endpoint;
the docs page loads its scripts from our own static files."""

from __future__ import annotations

import pytest
from django.test import Client
from openapi_spec_validator import validate

from api.v1 import api

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("get", "/api/v1/models"),
    ("get", "/api/v1/models/{slug}"),
    ("post", "/api/v1/quote"),
    ("post", "/api/v1/uploads"),
    ("post", "/api/v1/jobs"),
    ("get", "/api/v1/jobs"),
    ("get", "/api/v1/jobs/{job_id}"),
    ("post", "/api/v1/jobs/{job_id}/cancel"),
    ("get", "/api/v1/balance"),
    ("get", "/api/v1/credits/history"),
}


def test_the_schema_is_valid_openapi_and_lists_every_endpoint():
    api.get_openapi_schema(path_prefix="/api/v1")  # ninja's own generation runs without error
    schema = Client().get("/api/v1/openapi.json").json()  # as served (JSON: status codes are strings)
    validate(schema)  # openapi-spec-validator: raises on an invalid document
    listed = {(method, path) for path, ops in schema["paths"].items() for method in ops}
    assert listed == ENDPOINTS
    assert "KeyAuth" in schema["components"]["securitySchemes"]
    assert "402" in schema["paths"]["/api/v1/jobs"]["post"]["responses"]


def test_the_schema_and_docs_are_served_without_a_key_and_without_a_cdn():
    served = Client().get("/api/v1/openapi.json")
    assert served.status_code == 200 and served.json()["info"]["title"] == "Mirsam API"
    docs = Client().get("/api/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert "script-src 'self'" in docs["Content-Security-Policy"]
