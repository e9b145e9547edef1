"""Views that let an estimator error or a plain bug escape, for the error middleware tests."""

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from configurator.engine import Workload


def engine_refuses(request: HttpRequest) -> HttpResponse:
    Workload(context_tokens=int(request.GET["context"]))
    return HttpResponse("ok")


def plain_bug(request: HttpRequest) -> HttpResponse:
    int("not a number")  # a ValueError that is no input check: still a server error
    return HttpResponse("unreachable")


urlpatterns = [
    path("api/engine", engine_refuses),
    path("api/bug", plain_bug),
    path("engine", engine_refuses),
    path("bug", plain_bug),
    path("", include("configurator.urls")),
]
