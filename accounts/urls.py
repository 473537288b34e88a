from django.urls import path

from . import views

urlpatterns = [
    path("language/", views.language_set, name="language_set"),
    path("settings/", views.account_settings, name="account_settings"),
    path("notifications/", views.notifications, name="notifications"),
    path("notifications/badge/", views.notifications_badge, name="notifications_badge"),
    path("delete/", views.account_delete, name="account_delete"),
    path("uploads/delete/", views.uploads_delete, name="uploads_delete_all"),
]
