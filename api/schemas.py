"""The shapes of the API's requests and answers (pydantic, through
django-ninja); they make the OpenAPI schema. Credits are whole numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ninja import Field, Schema


class ErrorDetail(Schema):
    code: str = Field(description="Stable, for programs: invalid_key, revoked_key, missing_scope, not_found, …")
    message: str = Field(description="For people, in the key owner's language (Accept-Language overrides).")
    needed: int | None = Field(None, description="402 only: the credits the request needs.")
    available: int | None = Field(None, description="402 only: the credits available now.")
    retry_after: int | None = Field(None, description="429 only: seconds to wait (also the Retry-After header).")


class ErrorOut(Schema):
    error: ErrorDetail


class ChoiceOut(Schema):
    value: str
    unit_price: int = Field(description="Credits for one output with this value and the other options' defaults.")


class OptionOut(Schema):
    name: str
    label: str
    default: str
    choices: list[ChoiceOut]


class InputsOut(Schema):
    min: int
    max: int
    roles: list[str]


class ModelOut(Schema):
    slug: str
    name: str
    service: str = Field(description="image, video, avatar or audio")
    description: str
    max_outputs: int
    prompt_max_length: int
    prompt_required: bool
    inputs: InputsOut = Field(description="How many uploaded images the model takes, and their roles in order.")
    texts: dict[str, int] = Field(description="Free-text fields besides the prompt and their maximum length.")
    options: list[OptionOut]
    unit_price: int = Field(description="Credits for one output with every option at its default.")


class ConsentOut(Schema):
    version: str = Field(description="Send it as consent_version with each photo of a person (Avatar).")
    text: str


class ModelsOut(Schema):
    models: list[ModelOut]
    consent: ConsentOut


class JobRequest(Schema):
    model: str = Field(description="A model's slug from GET /models.")
    prompt: str = ""
    outputs: int = 1
    params: dict[str, str] = Field(default_factory=dict, description="Option values by name; missing = default.")
    uploads: list[int] = Field(default_factory=list, description="Ids from POST /uploads, in input order.")
    results: list[int] = Field(default_factory=list, description="Ids of your own earlier outputs used as inputs.")


class QuoteOut(Schema):
    model: str
    outputs: int
    params: dict[str, Any] = Field(description="The settings as they would run: defaults filled in.")
    unit_price: int
    price: int = Field(description="Credits a job with these settings holds (and charges when all outputs arrive).")
    available: int
    can_afford: bool


class UploadOut(Schema):
    id: int
    content_type: str
    width: int | None
    height: int | None
    size_bytes: int
    consent_version: str | None


class OutputOut(Schema):
    id: int
    index: int
    content_type: str
    width: int | None
    height: int | None
    duration_seconds: float | None
    size_bytes: int
    url: str = Field(description="Download link, valid without a key until expires_at.")
    expires_at: datetime


class CreditsOut(Schema):
    price: int
    held: int = Field(description="Reserved now (while the job runs).")
    charged: int
    returned: int = Field(description="Released from the hold, plus any staff refund.")


class JobError(Schema):
    code: str
    message: str


class JobOut(Schema):
    id: int
    status: str = Field(description="queued, submitted, processing, succeeded, failed or canceled")
    model: str
    service: str
    params: dict[str, Any]
    credits: CreditsOut
    error: JobError | None
    outputs: list[OutputOut]
    created_at: datetime
    finished_at: datetime | None


class JobPage(Schema):
    count: int
    items: list[JobOut]
    next_offset: int | None


class BalanceOut(Schema):
    balance: int = Field(description="Credits owned, held ones included.")
    held: int
    available: int
    owed: int


class EntryOut(Schema):
    id: int
    kind: str
    amount: int = Field(description="Signed change to the balance.")
    held_change: int
    balance_after: int
    available_after: int
    description: str
    reference: str
    created_at: datetime


class EntryPage(Schema):
    count: int
    items: list[EntryOut]
    next_offset: int | None
