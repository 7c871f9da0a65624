from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from routers.selectors import router_get_for_user, router_list_usable_by


@require_GET
def router_list(request: HttpRequest) -> HttpResponse:
    return render(request, "routers/list.html", {"routers": router_list_usable_by(user=request.user), "nav": "routers"})


@require_GET
def router_detail(request: HttpRequest, pk: int) -> HttpResponse:
    router = router_get_for_user(user=request.user, pk=pk)
    return render(request, "routers/detail.html", {"router": router, "nav": "routers"})
