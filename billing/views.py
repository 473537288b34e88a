from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def pricing(request: HttpRequest) -> HttpResponse:
    """How credits work and what things cost. Packs and plans arrive with billing."""
    from providers.models import Offer

    offers = Offer.objects.filter(is_active=True).order_by("service", "sort_order")
    return render(request, "billing/pricing.html", {"offers": offers})
