"""The site's URLs plus ``/bench/floor/``: the cheapest answer the same stack
(gunicorn, every middleware, the session of a signed-in client) can give, the
baseline each page's latency is compared with. Only for bench/http_load.py."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config.urls import urlpatterns as site_urlpatterns


def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/floor/", floor, name="bench_floor"), *site_urlpatterns]
