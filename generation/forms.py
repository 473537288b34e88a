from __future__ import annotations

from django import forms
from django.conf import settings
from django.http import QueryDict
from django.utils.translation import gettext_lazy as _

from providers.models import Offer


class ImageJobForm(forms.Form):
    """The Image page. Choices come from the catalogue; the services check
    everything again, so a forged field is refused there too."""

    offer = forms.ModelChoiceField(queryset=Offer.objects.none(), label=_("Model"), empty_label=None)
    prompt = forms.CharField(
        label=_("Prompt"),
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": _("Describe the image you want…")}),
        max_length=settings.MIRSAM_PROMPT_MAX_LENGTH,
        required=False,
    )
    aspect_ratio = forms.ChoiceField(label=_("Aspect ratio"), choices=())
    outputs = forms.TypedChoiceField(label=_("Number of images"), coerce=int, choices=())

    def __init__(self, *args, offers: list[Offer], **kwargs) -> None:  # noqa: ANN002, ANN003
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = Offer.objects.filter(pk__in=[o.pk for o in offers])
        self.fields["offer"].label_from_instance = lambda o: o.name
        offer = self.selected_offer(offers)
        ratios = offer.aspect_ratios if offer else ["1:1"]
        self.fields["aspect_ratio"].choices = [(r, r) for r in ratios]
        top = offer.max_outputs if offer else 1
        self.fields["outputs"].choices = [(n, str(n)) for n in range(1, top + 1)]
        if offer and not self.is_bound:
            self.initial.setdefault("offer", offer.pk)

    @classmethod
    def for_options(cls, data: QueryDict, *, offers: list[Offer]) -> ImageJobForm:
        """A form for re-rendering the options after a change: values the newly
        selected model does not offer fall back to the nearest it does."""
        data = data.copy()
        offer = cls(data, offers=offers).selected_offer(offers)
        if offer is not None:
            if data.get("aspect_ratio") not in offer.aspect_ratios:
                data["aspect_ratio"] = offer.aspect_ratios[0]
            try:
                outputs = int(data.get("outputs") or 1)
            except ValueError:
                outputs = 1
            data["outputs"] = str(max(1, min(outputs, offer.max_outputs)))
        return cls(data, offers=offers)

    def selected_offer(self, offers: list[Offer]) -> Offer | None:
        raw = self.data.get("offer") if self.is_bound else self.initial.get("offer")
        for offer in offers:
            if str(offer.pk) == str(raw):
                return offer
        return offers[0] if offers else None
