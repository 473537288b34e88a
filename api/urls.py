from django.urls import path

from . import views

urlpatterns = [
    path("new/", views.key_create, name="api_key_create"),
    path("<int:key_id>/revoke/", views.key_revoke, name="api_key_revoke"),
]
