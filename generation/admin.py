from django.contrib import admin
from modeltranslation.admin import TranslationAdmin

from .models import Asset, Consent, Job, JobInput, ProviderTask, StylePreset, Upload


class ProviderTaskInline(admin.TabularInline):
    model = ProviderTask
    fields = ("index", "task_id", "status", "error_code", "error_message", "updated_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


class AssetInline(admin.TabularInline):
    model = Asset
    fields = ("index", "file", "content_type", "width", "height", "size_bytes")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "service", "offer", "status", "price_credits", "charged_credits", "created_at")
    list_filter = ("status", "service", "offer__adapter", "offer", "created_at")
    search_fields = ("id", "user__email", "tasks__task_id", "params__prompt")
    date_hierarchy = "created_at"
    list_select_related = ("user", "offer")
    readonly_fields = [f.name for f in Job._meta.fields if f.name != "callback_token"]
    exclude = ("callback_token",)
    inlines = [ProviderTaskInline, AssetInline]

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


class JobInputInline(admin.TabularInline):
    model = JobInput
    fields = ("position", "role", "upload")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False


JobAdmin.inlines = [JobInputInline, ProviderTaskInline, AssetInline]


@admin.register(StylePreset)
class StylePresetAdmin(TranslationAdmin):
    list_display = ("slug", "name", "demo_style", "is_active", "sort_order")
    list_editable = ("is_active", "sort_order")
    search_fields = ("slug", "name_en", "name_ar", "prompt_template")


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    """Metadata only: staff see that a photo exists, not the photo."""

    list_display = ("created_at", "user", "content_type", "width", "height", "size_bytes")
    list_filter = ("content_type", "created_at")
    search_fields = ("user__email", "sha256")
    readonly_fields = ("user", "original_name", "content_type", "width", "height", "size_bytes", "sha256", "created_at")
    exclude = ("file",)

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False


@admin.register(Consent)
class ConsentAdmin(admin.ModelAdmin):
    list_display = ("accepted_at", "user", "version", "upload")
    list_filter = ("version", "accepted_at")
    search_fields = ("user__email",)
    readonly_fields = ("user", "upload", "version", "accepted_at")

    def has_add_permission(self, request) -> bool:  # noqa: ANN001
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # noqa: ANN001
        return False
