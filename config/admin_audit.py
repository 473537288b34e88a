"""Admin history that says what changed: field, old value → new value.

Django's admin logs a change as ``[{"changed": {"fields": ["price"]}}]`` and
shows it as "Changed price." — enough for a typo, not for a price. The
:class:`ChangeValuesAdmin` mixin (catalogue and price admins:
``providers.Offer``, ``billing.CreditPack``, ``billing.Plan``) adds the values
to that same JSON entry::

    [{"changed": {"fields": ["price override (credits per output)"],
                  "values": [{"field": "price_credits", "label": "price override (credits per output)",
                              "old": 4, "new": 6}]}}]

Why JSON and not a sentence: a plain-text change message is stored in the
language of the staff member who saved and shown verbatim to everyone, while
a JSON one is rendered, translated, when it is read. The values are kept
language-neutral (raw values: choice keys, booleans, decimals as text), and the
object's History page renders them in the reader's language
(:func:`change_message_text`): the field's current verbose name, a choice's
label, Yes / No. Django's own rendering of the entry (anywhere else) still
reads "Changed price (credits per output)." because ``fields`` is untouched.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, TypeVar, cast

from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Field, ForeignObjectRel, Model
from django.forms import BaseFormSet, Form, ModelForm
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.utils.translation import override as translation_override
from django.utils.translation import pgettext

_ModelT = TypeVar("_ModelT", bound=Model)


def _plain(value: Any) -> Any:
    """A form or model value as JSON: decimals as their text ("0.0400"), dates
    in ISO 8601, related objects as their text, everything else as is."""
    if isinstance(value, Model):
        return str(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool | dict):
        return value
    return str(value)


def _model_field(model: type[Model] | None, name: str) -> Field[Any, Any] | None:
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return None if isinstance(field, ForeignObjectRel) else field


def value_changes(form: Form) -> list[dict[str, Any]]:
    """``[{"field", "label", "old", "new"}]`` for each changed field of a saved
    ``form`` (a ModelForm: its instance already holds the new values; the old
    ones are its initial values). ``label`` is the untranslated label, kept
    in case the field is gone when the history is read."""
    instance = form.instance if isinstance(form, ModelForm) else None
    model = type(instance) if instance is not None else None
    changes = []
    for name in form.changed_data:
        field = _model_field(model, name)
        old = form.get_initial_for_field(form.fields[name], name)
        new = (
            field.value_from_object(instance)
            if field is not None and instance is not None
            else form.cleaned_data.get(name)
        )
        if field is not None and field.many_to_one and field.related_model is not None:
            # The form's initial value is the related row's key: store its text.
            related = field.related_model._default_manager
            old = related.filter(pk=old).first() or old
            new = related.filter(pk=new).first() or new
        with translation_override(None):
            label = str(form.fields[name].label or name)
        changes.append({"field": name, "label": label, "old": _plain(old), "new": _plain(new)})
    return changes


def _shown(field: Field[Any, Any] | None, value: Any) -> str:
    """A stored value as the reader sees it, in the active language."""
    if value is None or value == "" or value == []:
        return _("(empty)")
    if field is not None and field.choices:
        choices = {str(key): label for key, label in field.flatchoices}
        if str(value) in choices:
            return str(choices[str(value)])
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def change_message_text(entry: LogEntry) -> str:
    """``entry``'s message in the active language, with "field: old → new"
    for every value :class:`ChangeValuesAdmin` recorded; entries without
    values read as Django renders them."""
    try:
        parts = json.loads(entry.change_message) if entry.change_message.startswith("[") else None
    except json.JSONDecodeError:
        parts = None
    if not isinstance(parts, list) or not any(
        isinstance(p.get("changed"), dict) and "values" in p["changed"] for p in parts
    ):
        return entry.get_change_message()
    model = entry.content_type.model_class() if entry.content_type is not None else None
    sentences = []
    for part in parts:
        changed = part.get("changed")
        if isinstance(changed, dict) and "values" in changed:
            items = []
            for value in changed["values"]:
                field = _model_field(model, value["field"])
                label = str(field.verbose_name) if field is not None else _(value["label"])
                items.append(
                    _("%(field)s: %(old)s → %(new)s")
                    % {"field": label, "old": _shown(field, value["old"]), "new": _shown(field, value["new"])}
                )
            separator = pgettext("between the changes of one history entry", "; ")
            sentences.append(_("Changed %(changes)s.") % {"changes": separator.join(items)})
        else:
            # Inline rows added, changed or deleted: Django's own sentence.
            sentences.append(LogEntry(change_message=json.dumps([part])).get_change_message())
    return " ".join(sentences)


class _HistoryEntry:
    """A LogEntry for the History page whose message is :func:`change_message_text`."""

    def __init__(self, entry: LogEntry) -> None:
        self._entry = entry

    def __getattr__(self, name: str) -> Any:
        return getattr(self._entry, name)

    def get_change_message(self) -> str:
        return change_message_text(self._entry)


class ChangeValuesAdmin(admin.ModelAdmin[_ModelT]):
    """Mixed in before the admin class (``class OfferAdmin(ChangeValuesAdmin[Offer],
    TranslationAdmin[Offer])``): a change saved on the change form or in the
    list (``list_editable``) logs each field's old and new value, and the
    History page shows them in the reader's language. modeltranslation's
    ``name_en`` / ``name_ar`` are fields like any other."""

    def construct_change_message(
        self, request: HttpRequest, form: Form, formsets: Iterable[BaseFormSet[Any]] | None, add: bool = False
    ) -> list[dict[str, dict[str, list[str]]]]:
        message = super().construct_change_message(request, form, formsets, add)  # type: ignore[arg-type]
        if add:
            return message
        for part in message:
            changed = part.get("changed")
            if changed is not None and "name" not in changed:  # the object's own fields, not an inline's
                cast("dict[str, Any]", changed)["values"] = value_changes(form)
        return message

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().history_view(request, object_id, extra_context)
        if isinstance(response, TemplateResponse) and isinstance(response.context_data, dict):
            page = response.context_data.get("action_list")
            if page is not None:
                page.object_list = [_HistoryEntry(entry) for entry in page]
        return response
