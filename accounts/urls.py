from django.urls import path

from . import views

urlpatterns = [
    path("language/", views.language_set, name="language_set"),
    path("settings/", views.account_settings, name="account_settings"),
]
