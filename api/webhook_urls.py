from django.urls import path

from . import views

urlpatterns = [
    path("new/", views.webhook_create, name="api_webhook_create"),
    path("<int:endpoint_id>/", views.webhook_detail, name="api_webhook_detail"),
    path("<int:endpoint_id>/test/", views.webhook_test, name="api_webhook_test"),
    path("<int:endpoint_id>/enable/", views.webhook_enable, name="api_webhook_enable"),
    path("<int:endpoint_id>/delete/", views.webhook_delete, name="api_webhook_delete"),
]
