"""A tiny Django URLconf for the integration tests: a session counter, session flush, and a
view cached with cache_page per cache alias. CALLS counts real view executions."""

from django.http import HttpResponse
from django.urls import path
from django.views.decorators.cache import cache_page

CALLS = {"page": 0}


def session_counter(request):
    request.session["n"] = request.session.get("n", 0) + 1
    return HttpResponse(str(request.session["n"]))


def session_flush(request):
    request.session.flush()
    return HttpResponse("flushed")


def _page(request):
    CALLS["page"] += 1
    return HttpResponse("page %d for %s" % (CALLS["page"], request.GET.get("q", "")))


def page(request, alias):
    # cache_page binds its cache when applied, and the tests repoint the caches per module:
    # apply it per request rather than at import.
    return cache_page(60, cache=alias)(_page)(request)


urlpatterns = [
    path("session/", session_counter),
    path("session/flush/", session_flush),
    path("page/<str:alias>/", page),
]
