from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, Sum
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from modeltranslation.admin import TranslationAdmin

from accounts.http import AuthedRequest
from credits.models import LotUse, LotUseKind
from credits.services import InsufficientCredits
from providers import pricing
from providers.models import ProviderCall

from . import services
from .errors import GenerationError
from .files import serve
from .models import (
    JOB_HOLD_PREFIX,
    Asset,
    Consent,
    Job,
    JobInput,
    ProviderTask,
    ShowcaseItem,
    StylePreset,
    TaskStatus,
    Upload,
)


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        return False


class ProviderTaskInline(ReadOnlyInline):
    model = ProviderTask
    fields = (
        "index",
        "task_id",
        "status",
        "estimate_usd",
        "billed_credits",
        "billed_usd",
        "error_code",
        "error_message",
        "updated_at",
    )
    readonly_fields = fields


class AssetInline(ReadOnlyInline):
    model = Asset
    fields = ("index", "file", "content_type", "width", "height", "duration_seconds", "size_bytes")
    readonly_fields = fields


class JobInputInline(ReadOnlyInline):
    model = JobInput
    fields = ("position", "role", "upload", "asset")
    readonly_fields = fields


class RefundForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=255)


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    """Jobs, and the job inspector: parameters, every provider call, the
    price against the provider's cost, and the staff actions retry / refund."""

    list_display = ("id", "user", "service", "offer", "status", "price_credits", "charged_credits", "created_at")
    list_filter = ("status", "service", "offer__adapter", "offer", "created_at")
    search_fields = ("id", "user__email", "tasks__task_id")
    date_hierarchy = "created_at"
    list_select_related = ("user", "offer")
    exclude = ("callback_token",)
    inlines = [JobInputInline, ProviderTaskInline, AssetInline]

    def has_delete_permission(self, request: HttpRequest, obj: Job | None = None) -> bool:
        # A job is the record of what was held and charged; a running one still
        # holds credits. Staff cancel a job with Refund; its owner may delete it
        # once it has finished (services.job_delete).
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Job | None = None) -> list[str]:
        names = [f.name for f in Job._meta.fields if f.name != "callback_token"]
        return ["staff_actions", "money", *names, "provider_calls"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    @admin.display(description=_("Actions"))
    def staff_actions(self, obj: Job) -> str:
        return format_html(
            '<a class="button" href="{}">{}</a> <a class="button" href="{}">{}</a>',
            reverse("admin:generation_job_retry", args=[obj.pk]),
            _("Retry (new job, new hold)"),
            reverse("admin:generation_job_refund", args=[obj.pk]),
            _("Refund"),
        )

    @admin.display(description=_("Price and cost"))
    def money(self, obj: Job) -> str:
        # Value: what the credits charged had been bought for (their lots, USD;
        # free credits count 0), less the share refunded. Cost: what the
        # provider billed each task (billed_usd), else the estimate recorded
        # on the task when the job was submitted (estimate_usd; for older
        # tasks, the catalogue's for the job's settings, providers.pricing).
        tasks = list(obj.tasks.all())
        per_output = pricing.job_output_cost_usd(obj.offer, obj.params)
        billed_usd = sum((t.billed_usd for t in tasks if t.billed_usd is not None), Decimal(0))
        done = [t for t in tasks if t.status == TaskStatus.SUCCEEDED]
        cost = billed_usd + sum(
            (per_output if t.estimate_usd is None else t.estimate_usd for t in done if t.billed_usd is None), Decimal(0)
        )
        estimate = sum((per_output if t.estimate_usd is None else t.estimate_usd for t in done), Decimal(0))
        cents = (
            LotUse.objects.filter(
                kind=LotUseKind.SPEND, lot__currency="usd", entry__reference=f"{JOB_HOLD_PREFIX}{obj.pk}"
            ).aggregate(m=Sum("money_minor"))["m"]
            or 0
        )
        kept = max(0, obj.charged_credits - obj.refunded_credits)
        value = Decimal(cents) * kept / obj.charged_credits / 100 if obj.charged_credits else Decimal(0)
        return format_html(
            "{}: {} · {}: {} · {}: {} · {}: ${} · {}: ${} ({}: ${} · {}: ${}) · {}: ${}",
            _("Price"),
            obj.price_credits,
            _("Charged"),
            obj.charged_credits,
            _("Refunded"),
            obj.refunded_credits,
            _("Paid for the credits charged, in USD"),
            value.quantize(Decimal("0.01")),
            _("Provider cost"),
            cost.quantize(Decimal("0.0001")),
            _("billed by the provider"),
            billed_usd.quantize(Decimal("0.0001")),
            _("catalogue estimate"),
            estimate.quantize(Decimal("0.0001")),
            _("Margin"),
            (value - cost).quantize(Decimal("0.01")),
        )

    @admin.display(description=_("Provider calls"))
    def provider_calls(self, obj: Job) -> str:
        calls = ProviderCall.objects.filter(job_ref=obj.pk).order_by("created_at", "id")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{} {}</td><td>{}</td><td>{} ms</td>"
            "<td><pre>{}</pre></td>"
            "<td><pre>{}</pre></td></tr>",
            (
                (
                    c.created_at.strftime("%H:%M:%S"),
                    c.operation,
                    c.method,
                    c.url,
                    c.status_code or c.error,
                    c.latency_ms,
                    c.request_body,
                    c.response_body,
                )
                for c in calls
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            _("Time"),
            _("Operation"),
            _("Request"),
            _("Status"),
            _("Latency"),
            _("Request body"),
            _("Response body"),
            rows,
        )

    def get_urls(self) -> list[URLPattern]:
        return [
            path("<path:object_id>/retry/", self.admin_site.admin_view(self.retry_view), name="generation_job_retry"),
            path(
                "<path:object_id>/refund/", self.admin_site.admin_view(self.refund_view), name="generation_job_refund"
            ),
            *super().get_urls(),
        ]

    def _job(self, request: HttpRequest, object_id: str) -> Job:
        if not self.has_change_permission(request):
            raise PermissionDenied
        return get_object_or_404(Job.objects.select_related("user", "offer"), pk=object_id)

    def retry_view(self, request: AuthedRequest, object_id: str) -> HttpResponse:
        """GET asks; POST runs the job again for its owner (a new held job)."""
        job = self._job(request, object_id)
        if request.method == "POST":
            try:
                new = services.job_retry(job=job, actor=request.user)
            except (InsufficientCredits, GenerationError) as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("Job %(id)s was queued as a retry.") % {"id": new.pk})
                return HttpResponseRedirect(reverse("admin:generation_job_change", args=[new.pk]))
            return HttpResponseRedirect(reverse("admin:generation_job_change", args=[job.pk]))
        return self._confirm(request, job, _("Retry job %(id)s") % {"id": job.pk}, None)

    def refund_view(self, request: AuthedRequest, object_id: str) -> HttpResponse:
        """A reason, then the refund: a running job is canceled and its hold
        released; a charged job gets its credits back, once."""
        job = self._job(request, object_id)
        form = RefundForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.job_refund(job=job, actor=request.user, reason=form.cleaned_data["reason"])
            except GenerationError as exc:
                messages.error(request, str(exc.message))
            else:
                messages.success(request, _("The job was refunded."))
            return HttpResponseRedirect(reverse("admin:generation_job_change", args=[job.pk]))
        return self._confirm(request, job, _("Refund job %(id)s") % {"id": job.pk}, form)

    def _confirm(self, request: HttpRequest, job: Job, title: str, form: forms.Form | None) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "job": job,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/generation/job/staff_action.html", context)


@admin.register(StylePreset)
class StylePresetAdmin(TranslationAdmin):
    list_display = ("slug", "name", "demo_style", "is_active", "sort_order")
    list_editable = ("is_active", "sort_order")
    search_fields = ("slug", "name_en", "name_ar", "prompt_template")


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    """Metadata only: staff see that a photo or recording exists, not the file."""

    list_display = ("created_at", "user", "content_type", "width", "height", "duration_seconds", "size_bytes")
    list_filter = ("content_type", "created_at")
    search_fields = ("user__email", "sha256")
    readonly_fields = (
        "user",
        "original_name",
        "content_type",
        "width",
        "height",
        "duration_seconds",
        "size_bytes",
        "sha256",
        "created_at",
    )
    exclude = ("file",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("accepted_at", "user", "version", "upload")
    list_filter = ("version", "accepted_at")
    search_fields = ("user__email",)
    readonly_fields = ("user", "upload", "version", "accepted_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Consent | None = None) -> bool:
        return False


class ShowcaseItemForm(forms.ModelForm):
    """A showcase item as staff edit it: ``featured`` picks it (or stops
    showing it), checked against the pick rule for the staff member saving
    (``ShowcaseItem.pick_refusal``): their own result, or one whose owner's
    permission is in force."""

    featured = forms.BooleanField(
        label=_("Featured"),
        required=False,
        initial=True,
        help_text=_("Show it on the landing page. Only your own results, or ones whose owner allowed it."),
    )

    class Meta:
        model = ShowcaseItem
        fields = ("asset", "position", "caption", "is_active")

    staff_user: Any = None  # set by ShowcaseItemAdmin.get_form: the staff member saving

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        if self.instance.pk:
            self.fields["featured"].initial = self.instance.picked_at is not None

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        asset = cleaned.get("asset") or (self.instance.asset if self.instance.asset_id else None)
        item = self.instance
        if not cleaned.get("featured"):
            item.picked_by, item.picked_at = None, None  # saved as not picked (the owner's record stays)
            return cleaned
        if asset is None:
            return cleaned
        if not item.pk:
            existing = ShowcaseItem.objects.filter(asset=asset).first()
            if existing is not None:
                raise forms.ValidationError(
                    _("This result is already in the showcase list (item %(id)s): open it there to feature it.")
                    % {"id": existing.pk}
                )
        probe = ShowcaseItem(asset=asset, permission_at=item.permission_at, withdrawn_at=item.withdrawn_at)
        refusal = probe.pick_refusal(self.staff_user)
        if refusal:
            self.add_error("featured", refusal)
            item.picked_at = None  # said once, here: the model's own clean() need not say it again
        return cleaned


class ShowcaseState(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [
            ("shown", str(_("Shown on the landing page"))),
            ("waiting", str(_("Allowed by its owner, not picked"))),
            ("withdrawn", str(_("Withdrawn by its owner"))),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ShowcaseItem]) -> QuerySet[ShowcaseItem]:
        if self.value() == "shown":
            return ShowcaseItem.public().filter(pk__in=queryset.values("pk"))
        if self.value() == "waiting":
            return queryset.filter(picked_at__isnull=True, permission_at__isnull=False, withdrawn_at__isnull=True)
        if self.value() == "withdrawn":
            return queryset.filter(withdrawn_at__isnull=False)
        return queryset


@admin.register(ShowcaseItem)
class ShowcaseItemAdmin(TranslationAdmin):
    """The public showcase: results their owners allowed Mirsam to feature
    (from the job's page), and staff picks. A pick is refused unless the
    result is the picker's own or its owner's permission is in force
    (``ShowcaseItem.pick_refusal``, also in ``services.showcase_pick``)."""

    form = ShowcaseItemForm
    list_display = (
        "id",
        "preview",
        "service",
        "caption",
        "owner",
        "shown",
        "permission_at",
        "withdrawn_at",
        "picked_by",
        "position",
        "is_active",
    )
    list_display_links = ("id", "preview")
    list_filter = (ShowcaseState, "is_active", "asset__job__service")
    search_fields = ("asset__user__email", "caption_en", "caption_ar")
    list_select_related = ("asset__job", "asset__user", "picked_by")
    raw_id_fields = ("asset",)
    actions = ["feature_selected", "stop_featuring"]
    fieldsets = (
        (None, {"fields": ("asset", "preview", "featured", "position", "caption", "is_active")}),
        (
            _("Permission and pick"),
            {
                "fields": (
                    "owner",
                    "permission_by",
                    "permission_at",
                    "permission_version",
                    "withdrawn_at",
                    "picked_by",
                    "picked_at",
                )
            },
        ),
    )
    readonly_fields = (
        "preview",
        "owner",
        "permission_by",
        "permission_at",
        "permission_version",
        "withdrawn_at",
        "picked_by",
        "picked_at",
    )

    def get_form(
        self, request: HttpRequest, obj: ShowcaseItem | None = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm]:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.staff_user = request.user  # type: ignore[attr-defined]  # a class made for this request by modelform_factory
        return form

    def get_readonly_fields(self, request: HttpRequest, obj: ShowcaseItem | None = None) -> tuple[str, ...]:
        return (*self.readonly_fields, "asset") if obj is not None else self.readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[ShowcaseItem]:
        return super().get_queryset(request).select_related("asset__job", "asset__user", "picked_by")

    def save_model(self, request: HttpRequest, obj: ShowcaseItem, form: forms.ModelForm, change: bool) -> None:
        if not form.cleaned_data.get("featured"):
            obj.save()  # the form cleared the pick
            return
        try:
            services.showcase_pick(staff=request.user, item=obj)  # type: ignore[arg-type]
        except GenerationError as exc:  # the owner withdrew between the form and the save
            obj.picked_by, obj.picked_at = None, None
            obj.save()
            messages.error(request, str(exc.message))

    @admin.display(description=_("Result"))
    def preview(self, obj: ShowcaseItem) -> str:
        if not obj.pk or not obj.owner_allows:
            return "—"
        asset = obj.asset
        url = reverse("admin:generation_showcaseitem_preview", args=[obj.pk])
        if asset.is_audio or (asset.is_video and not asset.poster):
            return format_html('<a href="{}" target="_blank" rel="noopener">{}</a>', url, _("Open"))
        src = f"{url}?poster=1" if asset.is_video else url
        return format_html('<img src="{}" alt="" width="72" height="72" class="showcase-thumb">', src)

    @admin.display(description=_("Service"))
    def service(self, obj: ShowcaseItem) -> str:
        return obj.asset.job.get_service_display()

    @admin.display(description=_("Owner"))
    def owner(self, obj: ShowcaseItem) -> str:
        return obj.asset.user.email if obj.pk else "—"

    @admin.display(description=_("Shown"), boolean=True)
    def shown(self, obj: ShowcaseItem) -> bool:
        return obj.is_public

    @admin.action(description=_("Feature the selected results"), permissions=["change"])
    def feature_selected(self, request: AuthedRequest, queryset: QuerySet[ShowcaseItem]) -> None:
        done = 0
        for item in queryset:
            try:
                services.showcase_pick(staff=request.user, item=item)
            except GenerationError as exc:
                messages.error(request, f"#{item.pk}: {exc.message}")
            else:
                done += 1
        if done:
            messages.success(request, _("Featured: %(count)s.") % {"count": done})

    @admin.action(description=_("Stop featuring the selected results"), permissions=["change"])
    def stop_featuring(self, request: HttpRequest, queryset: QuerySet[ShowcaseItem]) -> None:
        for shown in queryset:
            services.showcase_unpick(item=shown)
        messages.success(request, _("No longer featured: %(count)s.") % {"count": queryset.count()})

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="generation_showcaseitem_preview",
            ),
            *super().get_urls(),
        ]

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponseBase:
        """The result (``?poster=1``: its poster) to staff who may view items,
        only while its owner allows it (or it is the reader's own): staff
        see other people's results nowhere else."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        item = get_object_or_404(ShowcaseItem.objects.select_related("asset"), pk=object_id)
        if not (item.owner_allows or item.asset.user_id == request.user.pk):
            raise Http404
        asset = item.asset
        if request.GET.get("poster"):
            if not asset.poster:
                raise Http404
            return serve(request, asset.poster, "image/png", f"showcase-{item.pk}-poster.png", downloadable=False)
        return serve(request, asset.file, asset.content_type, f"showcase-{item.pk}", downloadable=False)
