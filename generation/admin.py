from django.contrib import admin

from .models import Asset, Job, ProviderTask


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
