from django.urls import path

from . import views

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("pricing/buy/<str:kind>/<slug:slug>/", views.checkout_start, name="checkout_start"),
    path("pricing/success/", views.checkout_success, name="checkout_success"),
    path("pricing/success/status/", views.checkout_status, name="checkout_status"),
    path("pricing/canceled/", views.checkout_cancel, name="checkout_cancel"),
    path("billing/", views.billing, name="billing"),
    path("billing/portal/", views.portal, name="portal"),
]
