"""Account pages: setting a password from a one-time link, and the API tokens page (list,
create — the plaintext shown once — revoke)."""

from __future__ import annotations

from django.contrib import messages as flash
from django.contrib.auth.views import PasswordResetConfirmView
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.tokens import (
    api_token_create,
    api_token_get_for_user,
    api_token_list_for_user,
    api_token_revoke,
)
from routerweb.http import HtmxHttpRequest


class PasswordSetView(PasswordResetConfirmView):
    """The one-time link an admin hands a new user (Django's token dies once the password is
    set). Ends on the login page with a confirmation, so the user knows it worked."""

    template_name = "accounts/set_password.html"
    success_url = reverse_lazy("login")
    post_reset_login = False

    def form_valid(self, form):
        response = super().form_valid(form)
        flash.success(
            self.request, f"Your password is set, {form.user.username}. Log in with it now."
        )
        return response


@never_cache
@require_http_methods(["GET", "POST"])
def api_tokens(request: HtmxHttpRequest) -> HttpResponse:
    """POST creates a token and answers with the page itself, not a redirect: the plaintext
    then exists only in this one response (never_cache keeps it out of caches and history)."""
    created = plaintext = None
    errors: list[str] = []
    name = ""
    status = 200
    if request.method == "POST":
        name = request.POST.get("name", "")
        try:
            created, plaintext = api_token_create(user=request.user, name=name)
            name = ""
        except ValidationError as exc:
            errors = exc.messages
            status = 422
    context = {
        "tokens": api_token_list_for_user(user=request.user),
        "created": created,
        "plaintext": plaintext,
        "errors": errors,
        "name": name,
        "api_base": request.build_absolute_uri("/v1"),
    }
    return render(request, "accounts/tokens.html", context, status=status)


@require_POST
def api_token_revoke_view(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    token = api_token_get_for_user(user=request.user, pk=pk)
    api_token_revoke(token=token)
    flash.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("api_tokens")
