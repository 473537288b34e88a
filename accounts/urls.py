from django.urls import path

from . import views

urlpatterns = [
    path("language/", views.language_set, name="language_set"),
    path("settings/", views.account_settings, name="account_settings"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/badge/", views.notifications_badge, name="notifications_badge"),
    path("delete/", views.account_delete, name="account_delete"),
    path("uploads/delete/", views.uploads_delete, name="uploads_delete_all"),
    path("export/", views.data_export_request, name="data_export_request"),
    path("export/status/", views.data_export_status, name="data_export_status"),
    path("export/<int:export_id>/download/", views.data_export_download, name="data_export_download"),
]
