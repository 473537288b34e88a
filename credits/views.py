from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render

from accounts.http import AuthedRequest

from .describe import entries_describe
from .selectors import entries_for_user
from .services import wallet_for

ENTRIES_PER_PAGE = 25


@login_required
def history(request: AuthedRequest) -> HttpResponse:
    """Every ledger entry of the user, newest first, paginated."""
    page = Paginator(entries_for_user(user=request.user), ENTRIES_PER_PAGE).get_page(request.GET.get("page"))
    page.object_list = entries_describe(page.object_list)  # written in the page's language
    return render(request, "credits/history.html", {"page": page, "wallet": wallet_for(request.user)})


@login_required
def balance_badge(request: AuthedRequest) -> HttpResponse:
    """The header balance, re-fetched by htmx when a job changes credits."""
    return render(request, "credits/partials/balance.html", {"wallet": wallet_for(request.user)})
