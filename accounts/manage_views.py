"""In-app admin pages: people and their roles. Admins only."""

from __future__ import annotations

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import people
from accounts.models import Role, User
from routerweb.http import HtmxHttpRequest


def _require_admin(request: HtmxHttpRequest) -> None:
    if not request.user.is_admin_role:
        raise PermissionDenied("Only admins manage people.")


@require_GET
def user_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    q = request.GET.get("q", "").strip()
    users = User.objects.order_by("username")
    if q:
        users = users.filter(
            Q(username__icontains=q)
            | Q(email__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
        )
    context = {"users": users[:500], "q": q, "roles": Role.choices, "nav": "people"}
    if request.htmx:
        return render(request, "manage/users.html#user-rows", context)
    return render(request, "manage/users.html", context)


@require_http_methods(["GET", "POST"])
def user_create(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    values = {"username": "", "email": "", "role": Role.MEMBER}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {key: request.POST.get(key, "").strip() for key in values}
        try:
            user, link, mailed = people.user_create(
                actor=request.user, base_url=request.build_absolute_uri("/"), **values
            )
        except ValidationError as exc:
            errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
        else:
            return render(
                request,
                "manage/user_created.html",
                {"new_user": user, "link": link, "mailed": mailed, "nav": "people"},
            )
    context = {
        "values": values,
        "errors": errors,
        "form_errors": errors.get("__all__", []),
        "roles": Role.choices,
        "nav": "people",
    }
    return render(request, "manage/user_form.html", context, status=422 if errors else 200)


@require_GET
def user_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    person = get_object_or_404(User, pk=pk)
    return render(
        request,
        "manage/user_detail.html",
        {
            "person": person,
            "roles": Role.choices,
            # Membership through the user's reverse relation: accounts never imports the chat.
            "workspaces": person.workspaces.order_by("name"),
            "nav": "people",
        },
    )


def _act(request: HtmxHttpRequest, pk: int, action) -> HttpResponse:
    _require_admin(request)
    person = get_object_or_404(User, pk=pk)
    try:
        message = action(person)
    except ValidationError as exc:
        flash.error(request, " ".join(exc.messages))
    else:
        flash.success(request, message)
    return redirect("manage_user", pk=person.pk)


@require_POST
def user_role(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    role = request.POST.get("role", "")
    return _act(
        request,
        pk,
        lambda p: (
            f"{people.user_set_role(actor=request.user, user=p, role=role).username} is now {p.get_role_display()}."
        ),
    )


@require_POST
def user_deactivate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    def run(p: User) -> str:
        result = people.user_deactivate(actor=request.user, user=p)
        return f"{p.username} is deactivated: {result['sessions']} session(s) ended, {result['tokens']} API token(s) revoked."

    return _act(request, pk, run)


@require_POST
def user_reactivate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        lambda p: f"{people.user_reactivate(actor=request.user, user=p).username} is active again.",
    )


@require_POST
def user_new_link(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    person = get_object_or_404(User, pk=pk)
    link = request.build_absolute_uri(people.set_password_path(person))
    return render(
        request,
        "manage/user_created.html",
        {"new_user": person, "link": link, "mailed": False, "nav": "people", "again": True},
    )
