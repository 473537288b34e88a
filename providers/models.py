"""The model catalogue and the provider call log."""

from __future__ import annotations

from typing import Any, TypedDict

from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from config.pagecache import Stamped

from . import pricing


class Service(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    AVATAR = "avatar", _("Avatar")
    AUDIO = "audio", _("Audio")


class AdapterName(models.TextChoices):
    DEMO = "demo", _("Demo (offline)")
    KIE = "kie", _("kie.ai")


class ParamSpec(TypedDict):
    """One option of a catalogue model: the values it takes (as text, in
    display order) and the one picked when none is given."""

    choices: list[str]
    default: str


#: The order options are shown in: what the creator decides first comes first.
PARAM_ORDER = (
    "voice",
    "voice_2",
    "mode",
    "quality",
    "resolution",
    "duration",
    "aspect_ratio",
    "sound",
    "multi_shot",
    "instrumental",
    "vocal_gender",
    "speed",
    "stability",
    "loop",
    "factor",
)


class TextSpec(TypedDict):
    """A free-text field of a catalogue model (a song's style, its title):
    at most ``max`` characters."""

    max: int


#: What an Audio model makes (``Offer.audio_kind``), in the order the Audio page shows them.
AUDIO_KINDS = ("speech", "dialogue", "music", "sound_effect")
#: What a speaking model moves to a speech (``Offer.speaks``).
SPEAKS_KINDS = ("portrait", "video")
#: The free-text fields a model may take (``Offer.text_specs``), in display order.
TEXT_ORDER = ("title", "style")


def param_rank(name: str) -> tuple[int, str]:
    """Sort key of an option name: its place in :data:`PARAM_ORDER`, unknown names after, by name."""
    return (PARAM_ORDER.index(name) if name in PARAM_ORDER else len(PARAM_ORDER), name)


class Offer(Stamped):
    """One model a creator can pick, with its options and its price.

    ``name`` and ``description`` exist in English and Arabic (modeltranslation).
    ``options`` describes what the model accepts, with values from kie.ai's
    reference (docs/kie.md §2.1–2.3), and what it costs us (the agreed schema
    of issue 16; the cost rule is ``providers.pricing``)::

        {
          "params": {"aspect_ratio": {"choices": ["16:9", "9:16"], "default": "16:9"},
                     "duration": {"choices": ["5", "10"]}, "resolution": {...}, "sound": {...}},
          "forbid": [{"duration": "10", "resolution": "1080p"}],          # combinations refused
          "max_outputs": 4, "prompt_max_length": 5000,
          "inputs": {"min": 0, "max": 2, "roles": ["first_frame", "last_frame"]},
          "provider_model_with_inputs": "kling-2.6/image-to-video",
          "cost": {"usd": "0.275", "times": {"sound": {"on": "2"}, "duration": {"10": "2"}},
                   "extend_usd": "0.30"}                                   # USD per output
        }

    ``typical_seconds`` is the seeded guess of how long one task takes at the
    provider; polling (``generation.polling``) learns the real figure from
    the model's finished tasks and uses this until it has enough of them.

    The price of one output is derived from its cost (``price_credits``
    empty), or staff set ``price_credits`` for the default settings and the
    other settings scale with their cost; always whole credits.
    """

    slug = models.SlugField(_("slug"), max_length=64, unique=True)
    service = models.CharField(_("service"), max_length=16, choices=Service.choices, db_index=True)
    adapter = models.CharField(_("adapter"), max_length=16, choices=AdapterName.choices)
    provider_model = models.CharField(
        _("provider model"),
        max_length=128,
        help_text=_("The model name the provider expects, e.g. google/nano-banana."),
    )
    name = models.CharField(_("name"), max_length=128)
    description = models.TextField(_("description"), blank=True)
    options = models.JSONField(_("options"), default=dict, blank=True)
    price_credits = models.PositiveIntegerField(
        _("price override (credits per output)"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "Empty: the price follows from the cost in the options (cost × (1 + margin) ÷ the value of a credit,"
            " rounded up to a whole credit). Set: the price of the default settings; other settings and the"
            " extend scale with their cost. The table of prices shows the margin each one leaves."
        ),
    )
    typical_seconds = models.PositiveIntegerField(
        _("typical duration (seconds)"),
        default=60,
        validators=[MinValueValidator(1)],
        help_text=_(
            "How long the provider usually takes for one output. Polling starts from it until the model has"
            " finished tasks of its own to learn from."
        ),
    )
    is_active = models.BooleanField(_("active"), default=True)
    sort_order = models.PositiveIntegerField(_("order"), default=0)
    # Studio pages are kept per version of the catalogue (providers.versions).
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    # The default manager is Stamped's; modeltranslation (providers/translation.py)
    # mixes its MultilingualManager into that class at run time.

    class Meta:
        verbose_name = _("catalogue model")
        verbose_name_plural = _("catalogue models")
        ordering = ["service", "sort_order", "slug"]

    def __str__(self) -> str:
        return f"{self.name} ({self.slug})"

    @property
    def param_specs(self) -> dict[str, ParamSpec]:
        """``{name: {"choices": [str, ...], "default": str}}`` in display order:
        :data:`PARAM_ORDER` first, then any other option by name. (PostgreSQL's
        jsonb does not keep the order the row was written in, so the order is
        ours, the same on every database.)"""
        specs: dict[str, ParamSpec] = {}
        params = self.options.get("params") or {}
        for name in sorted(params, key=param_rank):
            spec = params[name]
            choices = [str(c) for c in spec.get("choices") or []]
            if choices:
                default = str(spec.get("default", choices[0]))
                specs[name] = {"choices": choices, "default": default if default in choices else choices[0]}
        return specs

    @property
    def aspect_ratios(self) -> list[str]:
        spec = self.param_specs.get("aspect_ratio")
        return spec["choices"] if spec else []

    @property
    def max_outputs(self) -> int:
        return int(self.options.get("max_outputs") or 1)

    @property
    def prompt_max_length(self) -> int:
        return int(self.options.get("prompt_max_length") or 2000)

    @property
    def input_limits(self) -> tuple[int, int]:
        """How many user images the model takes: ``(min, max)``."""
        spec = self.options.get("inputs") or {}
        return int(spec.get("min", 0)), int(spec.get("max", 0))

    @property
    def input_roles(self) -> list[str]:
        return list((self.options.get("inputs") or {}).get("roles") or ["photo"])

    @property
    def audio_kind(self) -> str:
        """What an Audio model makes (``options["audio"]``): "speech",
        "dialogue", "music" or "sound_effect"; "" for any other model."""
        kind = str(self.options.get("audio") or "")
        return kind if kind in AUDIO_KINDS else ""

    @property
    def speaks(self) -> str:
        """What a speaking model moves to a speech (``options["speaks"]``):
        "portrait" (a talking portrait from a picture) or "video" (a
        lip-sync of a video); "" for any other model."""
        kind = str(self.options.get("speaks") or "")
        return kind if kind in SPEAKS_KINDS else ""

    @property
    def text_specs(self) -> dict[str, TextSpec]:
        """Free-text fields the model takes besides the prompt
        (``options["texts"]``: ``{"style": {"max": 1000}, "title": {"max": 80}}``),
        in the order :data:`TEXT_ORDER`; each ``max`` is in characters."""
        texts = self.options.get("texts") or {}
        return {name: {"max": int((texts[name] or {}).get("max") or 200)} for name in TEXT_ORDER if name in texts}

    @property
    def extend_price_credits(self) -> int | None:
        """Whole credits for one extend of a result (``cost.extend_usd``
        priced like an output); ``None`` when the model cannot be extended."""
        return pricing.extend_price(self)

    def provider_model_for(self, *, with_inputs: bool) -> str:
        """The provider's model name; some families have a separate
        image-to-X model (e.g. kling-2.6/image-to-video)."""
        return (with_inputs and self.options.get("provider_model_with_inputs")) or self.provider_model

    def forbidden(self, params: dict[str, str]) -> dict[str, Any] | None:
        """The first forbidden combination ``params`` matches, if any, as the
        catalogue's ``options["forbid"]`` has it."""
        combos: list[dict[str, Any]] = self.options.get("forbid") or []
        for combo in combos:
            if all(str(params.get(k)) == str(v) for k, v in combo.items()):
                return combo
        return None

    def unit_price(self, params: dict[str, str] | None = None) -> int:
        """Whole credits for one output with these option values (defaults
        for what is missing): ``providers.pricing.unit_price``."""
        return pricing.unit_price(self, params)

    def price_for(self, *, outputs: int, params: dict[str, str] | None = None) -> int:
        """The price in whole credits for ``outputs`` results with ``params``."""
        return self.unit_price(params) * outputs


class ProviderCall(models.Model):
    """One outbound call to a provider, written by ``providers.http``.

    Secrets are redacted before they get here; bodies are truncated to
    ``PROVIDER_LOG_BODY_CHARS``; ``latency_ms`` is wall time in milliseconds.
    """

    adapter = models.CharField(_("adapter"), max_length=16, db_index=True)
    operation = models.CharField(_("operation"), max_length=32)
    method = models.CharField(_("method"), max_length=8)
    url = models.CharField(_("URL"), max_length=500)
    request_body = models.TextField(_("request body"), blank=True)
    status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True, db_index=True)
    response_body = models.TextField(_("response body"), blank=True)
    error = models.CharField(_("error"), max_length=255, blank=True)
    latency_ms = models.PositiveIntegerField(_("latency (ms)"), default=0)
    task_id = models.CharField(_("provider task id"), max_length=128, blank=True, db_index=True)
    job_ref = models.BigIntegerField(_("job"), null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("provider call")
        verbose_name_plural = _("provider calls")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.adapter} {self.method} {self.url} → {self.status_code or self.error}"

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error
