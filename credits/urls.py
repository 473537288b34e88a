from django.urls import path

from . import views

urlpatterns = [
    path("history/", views.history, name="credit_history"),
    path("balance/", views.balance_badge, name="balance_badge"),
]
