"""Forms of the studio pages. Choices come from the catalogue; the services
check everything again, so a forged field is refused there too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

from providers.models import Offer, Service
from providers.voices import voice_label

from .models import Asset, JobStatus, Project, StylePreset
from .selectors import UNFILED, LibraryFilters

PARAM_LABELS = {
    "aspect_ratio": _("Aspect ratio"),
    "duration": _("Duration"),
    "resolution": _("Resolution"),
    "sound": _("Sound"),
    "factor": _("Scale"),
    "mode": _("Quality"),
    "quality": _("Quality"),
    "multi_shot": _("Shots"),
    "voice": _("Voice"),
    "voice_2": _("Second voice"),
    "speed": _("Speed"),
    "stability": _("Stability"),
    "instrumental": _("Vocals"),
    "vocal_gender": _("Singer"),
    "loop": _("Loop"),
}
#: Labels of the free-text fields a model may take (``Offer.text_specs``).
TEXT_LABELS = {"title": _("Title"), "style": _("Style")}
TEXT_PLACEHOLDERS = {
    "title": _("e.g. Desert Lights"),
    "style": _("e.g. oud, slow tempo, warm female vocals"),
}
#: How some option values read (kie.ai's own spellings are kept as values, docs/catalogue.md).
VALUE_LABELS: dict[str, dict[str, str | Promise]] = {
    "sound": {"on": _("With sound"), "off": _("Silent")},
    "mode": {"std": _("Standard (720p)"), "pro": _("Pro (1080p)"), "4K": "4K"},
    "quality": {"basic": _("Basic (2K)"), "high": _("High (4K)")},
    "multi_shot": {"off": _("One shot"), "on": _("Several shots, one per line")},
    "aspect_ratio": {"auto": _("Automatic"), "adaptive": _("Automatic")},
    "instrumental": {"off": _("With vocals"), "on": _("Instrumental")},
    "vocal_gender": {"any": _("Any singer"), "m": _("Male singer"), "f": _("Female singer")},
    "loop": {"off": _("Once"), "on": _("Seamless loop")},
    "stability": {
        "0": _("Creative"),
        "0.3": _("Expressive"),
        "0.5": _("Balanced"),
        "0.8": _("Steady"),
        "1": _("Robust"),
    },
}
OUTPUT_LABELS = {
    "image": _("Number of images"),
    "video": _("Number of videos"),
    "avatar": _("Number of variants"),
    "audio": _("Number of requests"),
}
#: The prompt's label and placeholder on the Audio page, by what the model makes (``Offer.audio_kind``).
AUDIO_PROMPTS = {
    "speech": (_("Text to speak"), _("Write what the voice should say, in Arabic or English…")),
    "dialogue": (_("Dialogue, one line per turn"), _("First voice: a line…\nSecond voice: the answer…")),
    "music": (_("Description or lyrics"), _("Describe the song, or write its lyrics and give a style and a title…")),
    "sound_effect": (_("Describe the sound"), _("e.g. waves on a pebble beach at night, gentle wind")),
}


def choice_label(name: str, value: str) -> str | Promise:
    """How an option's value reads in a select and on a job's page."""
    if name == "duration":
        if not value.isdigit():
            return _("Automatic")
        return ngettext_lazy("%(n)s second", "%(n)s seconds", int(value)) % {"n": value}
    if name in ("voice", "voice_2"):
        return voice_label(value)
    if name == "speed":
        return f"{value}×"
    if name in VALUE_LABELS:
        return VALUE_LABELS[name].get(value, value)
    if name == "factor":
        return f"×{value}"
    return value


_F = TypeVar("_F", bound=forms.Field)


def _field(form: forms.BaseForm, name: str, kind: type[_F]) -> _F:
    """``form``'s own copy of the field ``name``, which is a ``kind``."""
    field = form.fields[name]
    assert isinstance(field, kind)
    return field


class OfferChoiceField(forms.ChoiceField):
    """A choice among catalogue models the view has already loaded: the
    select renders from that list (no query of its own, unlike a
    ModelChoiceField, whose every iteration re-runs its queryset) and the
    field cleans to the :class:`Offer` itself. A value outside the list is
    refused as an invalid choice."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=(), **kwargs)
        self.offers: dict[str, Offer] = {}

    def set_offers(self, offers: list[Offer]) -> None:
        self.offers = {str(offer.pk): offer for offer in offers}
        self.choices = [(key, offer.name) for key, offer in self.offers.items()]

    def clean(self, value: object) -> Offer:
        return self.offers[super().clean(value)]


class ProjectChoiceField(forms.ChoiceField):
    """ "No project" or one of the creator's projects the view loaded; cleans
    to the :class:`Project` or None. Another user's project is not among
    the choices, so its id is refused as an invalid choice."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=(), required=False, **kwargs)
        self.projects: dict[str, Project] = {}

    def set_projects(self, projects: Sequence[Project]) -> None:
        self.projects = {str(p.pk): p for p in projects}
        self.choices = [("", _("No project")), *((key, p.name) for key, p in self.projects.items())]

    def clean(self, value: object) -> Project | None:
        key = super().clean(value)
        return self.projects.get(key) if key else None


class JobForm(forms.Form):
    """Model, prompt, number of outputs, one select per option of the
    selected model (``Offer.param_specs``), and the project to file the job
    in (the creator's ``projects``; none by default)."""

    offer = OfferChoiceField(label=_("Model"))
    prompt = forms.CharField(
        label=_("Prompt"),
        widget=forms.Textarea(attrs={"rows": 4}),
        max_length=settings.MIRSAM_PROMPT_MAX_LENGTH,
        required=False,
    )
    outputs = forms.TypedChoiceField(label=_("Number of images"), coerce=int, choices=())
    project = ProjectChoiceField(label=_("Project"))

    def __init__(
        self, *args, offers: list[Offer], service: str = "image", projects: Sequence[Project] = (), **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.service = service
        _field(self, "offer", OfferChoiceField).set_offers(offers)
        _field(self, "project", ProjectChoiceField).set_projects(projects)
        outputs = _field(self, "outputs", forms.TypedChoiceField)
        outputs.label = OUTPUT_LABELS.get(service, OUTPUT_LABELS["image"])
        offer = self.selected_offer(offers)
        top = offer.max_outputs if offer else 1
        outputs.choices = [(n, str(n)) for n in range(1, top + 1)]
        specs = offer.param_specs if offer else {}
        self.param_names = list(specs)
        for name, spec in specs.items():
            self.fields[name] = forms.ChoiceField(
                label=PARAM_LABELS.get(name, name),
                choices=[(c, choice_label(name, c)) for c in spec["choices"]],
                initial=spec["default"],
            )
        self.text_names = list(offer.text_specs) if offer else []
        for name in self.text_names:
            assert offer is not None
            self.fields[name] = forms.CharField(
                label=TEXT_LABELS.get(name, name),
                required=False,
                max_length=offer.text_specs[name]["max"],
                widget=forms.TextInput(attrs={"placeholder": TEXT_PLACEHOLDERS.get(name, ""), "dir": "auto"}),
            )
        if offer is not None and offer.audio_kind:
            label, placeholder = AUDIO_PROMPTS[offer.audio_kind]
            prompt = _field(self, "prompt", forms.CharField)
            prompt.label = label
            prompt.widget.attrs["placeholder"] = placeholder
        if offer and not self.is_bound:
            self.initial.setdefault("offer", offer.pk)

    @classmethod
    def for_options(
        cls, data: QueryDict, *, offers: list[Offer], service: str = "image", projects: Sequence[Project] = ()
    ) -> JobForm:
        """A form for re-rendering the options after a change: values the newly
        selected model does not offer fall back to its defaults."""
        data = data.copy()
        offer = cls(data, offers=offers, service=service, projects=projects).selected_offer(offers)
        if offer is not None:
            for name, spec in offer.param_specs.items():
                if data.get(name) not in spec["choices"]:
                    data[name] = spec["default"]
            try:
                outputs = int(data.get("outputs") or 1)
            except ValueError:
                outputs = 1
            data["outputs"] = str(max(1, min(outputs, offer.max_outputs)))
        return cls(data, offers=offers, service=service, projects=projects)

    def selected_offer(self, offers: list[Offer]) -> Offer | None:
        raw = self.data.get("offer") if self.is_bound else self.initial.get("offer")
        for offer in offers:
            if str(offer.pk) == str(raw):
                return offer
        return offers[0] if offers else None

    @property
    def param_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.param_names]

    @property
    def text_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.text_names]

    def selected_params(self) -> dict[str, str]:
        """The option values as submitted, and the prompt as the creator
        typed it (stripped: a model priced by its text's length, such as
        speech, is priced live from it)."""
        source = self.data if self.is_bound else {}
        values = {name: source.get(name) or self.fields[name].initial for name in self.param_names}
        values["prompt"] = str(source.get("prompt") or "").strip()
        return values

    def job_params(self) -> dict[str, object]:
        """What ``job_submit`` gets from a valid form."""
        data = {"prompt": self.cleaned_data["prompt"], "outputs": self.cleaned_data["outputs"]}
        data.update({name: self.cleaned_data[name] for name in [*self.param_names, *self.text_names]})
        return data


class AvatarForm(forms.Form):
    """Photos, consent, a style preset, the number of variants, optional
    details, and the project to file the portraits in (none by default)."""

    offer = OfferChoiceField(label=_("Model"))
    preset = forms.ModelChoiceField(
        queryset=StylePreset.objects.filter(is_active=True),
        label=_("Style"),
        empty_label=None,
        widget=forms.RadioSelect,
    )
    details = forms.CharField(
        label=_("Details (optional)"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. wearing a red scarf, night city behind")}),
    )
    #: A gallery to choose from by default (the brief: "several character variants").
    outputs = forms.TypedChoiceField(
        label=_("Number of variants"), coerce=int, choices=[(n, str(n)) for n in range(1, 5)], initial=4
    )
    consent = forms.BooleanField(
        required=True, error_messages={"required": _("Please confirm the consent statement to continue.")}
    )
    project = ProjectChoiceField(label=_("Project"))

    def __init__(self, *args, offers: list[Offer], projects: Sequence[Project] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "offer", OfferChoiceField).set_offers(offers)
        _field(self, "project", ProjectChoiceField).set_projects(projects)
        if offers and not self.is_bound:
            self.initial.setdefault("offer", offers[0].pk)
        presets = _field(self, "preset", forms.ModelChoiceField).queryset
        preset = presets.first() if presets is not None else None
        if preset and not self.is_bound:
            self.initial.setdefault("preset", preset.pk)


class ToolForm(forms.Form):
    """Run a tool on a result: which of the job's results (when it has more
    than one) and a select per option of the tool (``Offer.param_specs``,
    e.g. the upscale factor). The service checks everything again."""

    asset = forms.TypedChoiceField(label=_("Which result?"), coerce=int, choices=())

    def __init__(self, *args, tool: Offer, sources: list[Asset], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.tool = tool
        self.sources = {a.pk: a for a in sources}
        field = _field(self, "asset", forms.TypedChoiceField)
        field.choices = [(a.pk, str(i)) for i, a in enumerate(sources, start=1)]
        if sources:
            field.initial = sources[0].pk
        self.param_names = list(tool.param_specs)
        for name, spec in tool.param_specs.items():
            self.fields[name] = forms.ChoiceField(
                label=PARAM_LABELS.get(name, name),
                choices=[(c, choice_label(name, c)) for c in spec["choices"]],
                initial=spec["default"],
            )

    @property
    def param_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.param_names]

    def selected_params(self) -> dict[str, str]:
        """The option values as submitted, defaults for the rest (for the live price)."""
        specs = self.tool.param_specs
        source = self.data if self.is_bound else {}
        values = {}
        for name, spec in specs.items():
            value = source.get(name)
            values[name] = value if value in spec["choices"] else spec["default"]
        return values

    def selected_asset(self) -> Asset | None:
        raw = self.data.get("asset") if self.is_bound else None
        try:
            return self.sources.get(int(raw)) if raw else next(iter(self.sources.values()), None)
        except (TypeError, ValueError):
            return None


class LibraryFilterForm(forms.Form):
    """My creations' search and filters (a GET form). A field that does not
    clean (an unknown model, a malformed date) filters nothing and says so."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    service = forms.ChoiceField(label=_("Type"), required=False)
    offer = forms.TypedChoiceField(label=_("Model"), required=False, coerce=int, empty_value=None)
    status = forms.ChoiceField(label=_("Status"), required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    favourites = forms.BooleanField(label=_("Favourites only"), required=False)
    project = forms.TypedChoiceField(label=_("Project"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, offers: Sequence[Offer], projects: Sequence[Project], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        _field(self, "service", forms.ChoiceField).choices = [("", _("All types")), *Service.choices]
        _field(self, "status", forms.ChoiceField).choices = [("", _("All statuses")), *JobStatus.choices]
        _field(self, "offer", forms.TypedChoiceField).choices = [
            ("", _("All models")),
            *((str(o.pk), o.name) for o in offers),
        ]
        _field(self, "project", forms.TypedChoiceField).choices = [
            ("", _("All projects")),
            (str(UNFILED), _("Not in a project")),
            *((str(p.pk), p.name) for p in projects),
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            data["date_from"], data["date_to"] = end, start  # read as the range meant
        return data

    def filters(self) -> LibraryFilters:
        """The filters of the fields that cleaned (call after ``is_valid()``)."""
        data = getattr(self, "cleaned_data", {})
        return LibraryFilters(
            q=" ".join(str(data.get("q") or "").split()),
            service=data.get("service") or "",
            offer=data.get("offer"),
            status=data.get("status") or "",
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            favourites=bool(data.get("favourites")),
            project=data.get("project"),
        )


class ProjectForm(forms.Form):
    """A project's name and optional budget (the service checks them again)."""

    name = forms.CharField(label=_("Name"), max_length=80)
    budget_credits = forms.IntegerField(
        label=_("Budget (credits, optional)"), required=False, min_value=1, max_value=10_000_000
    )
