from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import cast

from asgiref.sync import sync_to_async
from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.utils.http import urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import (
    HttpResponseClientRedirect,
    HttpResponseClientRefresh,
    reswap,
    retarget,
)

from accounts import people
from accounts.models import User
from chat import services
from chat.answering import Delta, answer_events, answer_stop
from chat.commands import Command, command_run, parse_command, thread_tier_names
from chat.feedback import message_rate, message_regenerate_recorded, send_to_record
from chat.forms import WorkspaceForm
from chat.markdown import StreamingRender
from chat.models import Message, MessageStatus, Thread, Workspace
from chat.preview import preview_route
from chat.selectors import (
    message_get_for_user,
    thread_get_for_user,
    thread_list_for_user,
    workspace_can_manage,
    workspace_get_for_user,
    workspace_list_for_user,
)
from chat.sse import sse_event
from decisions.feedback import feedback_for_uids
from preferences.selectors import suggestion_list_pending
from providers import services as provider_services
from providers.forms import CatalogModelForm, ProviderForm
from providers.models import CatalogModel, Provider
from providers.selectors import catalog_list_enabled
from routers.selectors import (
    router_can_use,
    router_list_usable_by,
    router_unavailable_message,
)
from routerweb.http import HtmxHttpRequest, id_param, whole_number


def _router_choices(user):
    return router_list_usable_by(user=user)


@require_GET
def home(request: HtmxHttpRequest) -> HttpResponse:

    workspaces = workspace_list_for_user(user=request.user)
    managers: list[User] = []
    if not workspaces.exists():
        # Who can add this person to a workspace, by name.
        managers = list(
            User.objects.filter(is_active=True, role__in=["manager", "admin"])
            .exclude(pk=request.user.pk)
            .order_by("username")[:5]
        )
    return render(request, "chat/home.html", {"workspaces": workspaces, "managers": managers})


@require_http_methods(["GET", "POST"])
def workspace_create(request: HtmxHttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST or None, router_queryset=_router_choices(request.user))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        workspace = services.workspace_create(
            owner=request.user,
            name=data["name"],
            system_prompt=data["system_prompt"],
            model=data["model"] if data["mode"] == "model" else None,
            router=data["router"] if data["mode"] == "router" else None,
            tags=data["tags"],
            workspace_type=data["workspace_type"],
            tier=data.get("tier") or "",
        )
        return redirect("workspace", pk=workspace.pk)
    return render(request, "chat/workspace_form.html", {"form": form})


@require_http_methods(["GET", "POST"])
def workspace_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_get_for_user(user=request.user, pk=pk)
    if not workspace_can_manage(user=request.user, workspace=workspace):
        raise PermissionDenied("Only the workspace's owner or a manager may change it.")
    form = WorkspaceForm(
        request.POST or None, instance=workspace, router_queryset=_router_choices(request.user)
    )
    if request.method == "POST" and form.is_valid():
        workspace = services.workspace_update(actor=request.user, workspace=form.save(commit=False))
        flash.success(request, "Workspace saved.")
        return redirect("workspace", pk=workspace.pk)
    return render(request, "chat/workspace_form.html", {"form": form, "workspace": workspace})


@require_GET
def workspace_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_get_for_user(user=request.user, pk=pk)
    return _chat_page(request, workspace, thread=None)


@require_GET
def thread_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    thread = thread_get_for_user(user=request.user, pk=pk)
    return _chat_page(request, thread.workspace, thread=thread)


def _chat_page(
    request: HtmxHttpRequest, workspace: Workspace, *, thread: Thread | None
) -> HttpResponse:
    """The chat page: a workspace's threads beside one open thread (or none yet)."""

    query = request.GET.get("q", "")
    chat_messages = list(thread.messages.prefetch_related("attachments")) if thread else []
    # Regenerate is offered on the last answer only (see services.message_regenerate).
    last_answer = next((m.pk for m in reversed(chat_messages) if m.role != "note"), None)
    router = workspace.router if workspace.mode == "router" else None
    router_usable = router is not None and router_can_use(user=request.user, router=router)
    _with_feedback(request, chat_messages)
    return render(
        request,
        "chat/thread.html",
        {
            "workspace": workspace,
            "threads": thread_list_for_user(user=request.user, workspace=workspace, query=query),
            "query": query,
            "workspaces": workspace_list_for_user(user=request.user),
            "thread": thread,
            "chat_messages": chat_messages,
            "last_answer": last_answer,
            "catalog": catalog_list_enabled(),
            "tier_names": thread_tier_names(thread) if thread else [],
            "can_manage": workspace_can_manage(user=request.user, workspace=workspace),
            # Links a user cannot open are not shown: a private router of someone else is a 404.
            "router_visible": router_usable,
            # ...and a router the user may no longer use answers nothing: the page says so.
            "router_unavailable": (
                router_unavailable_message(router) if router and not router_usable else ""
            ),
            "suggestion": _suggestion_for(request, workspace),
        },
    )


def _with_feedback(request: HtmxHttpRequest, rows: list[Message]) -> None:
    """Give each answer the user's thumbs on it (`message.feedback`), in one query."""
    uids = [m.routing.get("decision_uid") for m in rows if m.role == "assistant"]
    given = feedback_for_uids(user=request.user, uids=[u for u in uids if u])
    for m in rows:
        m.feedback = given.get(m.routing.get("decision_uid") or "")  # type: ignore[attr-defined]


def _suggestion_for(request: HtmxHttpRequest, workspace: Workspace):
    """A preference suggested for this workspace's router, waiting for an answer."""
    if workspace.mode != "router" or workspace.router_id is None:
        return None
    return suggestion_list_pending(user=request.user, router_id=workspace.router_id).first()


def _with_suggestion(request: HtmxHttpRequest, response: HttpResponse, workspace: Workspace):
    """An htmx response, plus the suggestion slot out of band when one waits (an override
    may just have made it)."""
    suggestion = _suggestion_for(request, workspace)
    if suggestion is not None:
        response.content += render_to_string(
            "preferences/_suggestion.html",
            {"suggestion": suggestion, "oob": True},
            request=request,
        ).encode()
    return response


@require_GET
def thread_search(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The thread list of workspace pk, filtered by ?q= (name or any message)."""
    workspace = workspace_get_for_user(user=request.user, pk=pk)
    if not request.htmx:
        url = reverse("workspace", args=[workspace.pk])
        query = request.GET.get("q", "")
        return redirect(f"{url}?{urlencode({'q': query})}" if query else url)
    current = request.GET.get("thread", "")
    return render(
        request,
        "chat/thread.html#thread-list",
        {
            "workspace": workspace,
            "threads": thread_list_for_user(
                user=request.user, workspace=workspace, query=request.GET.get("q", "")
            ),
            "query": request.GET.get("q", ""),
            "thread": {"pk": number} if (number := whole_number(current)) is not None else None,
        },
    )


@require_POST
def thread_rename(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    thread = thread_get_for_user(user=request.user, pk=pk)
    try:
        services.thread_rename(thread=thread, title=request.POST.get("title", ""))
    except ValidationError as exc:
        if request.htmx:
            return _composer_error(request, exc)
        flash.error(request, " ".join(exc.messages))
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect("thread", pk=thread.pk)


@require_POST
def thread_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    thread = thread_get_for_user(user=request.user, pk=pk)
    workspace_pk = thread.workspace_id
    title = thread.title
    services.thread_delete(thread=thread)
    flash.success(request, f"Deleted the chat “{title}”.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("workspace", args=[workspace_pk]))
    return redirect("workspace", pk=workspace_pk)


def _answer_again(request: HtmxHttpRequest, pk: int, action: Callable[..., object]) -> HttpResponse:
    """Run `action` on the last answer (pk) with the model picked, then show that answer."""
    message = message_get_for_user(user=request.user, pk=pk)
    try:
        action(message=message, model_ref=request.POST.get("model", ""))
    except ValidationError as exc:
        return _composer_error(request, exc)
    if not request.htmx:
        return redirect("thread", pk=message.thread_id)
    response = render(
        request,
        "chat/thread.html#message-row",
        {**_rows_context([message], message.thread), "message": message},
    )
    response = _with_suggestion(request, response, message.thread.workspace)
    return retarget(reswap(response, "outerHTML"), f"#msg-{message.pk}")


@require_POST
def message_continue(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Continue a cut-off last answer with the model picked (pk = that answer)."""
    return _answer_again(request, pk, services.message_continue)


@require_POST
def message_regenerate(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Answer again (pk = the last answer): routed afresh, or by the model picked."""
    return _answer_again(request, pk, message_regenerate_recorded)


@require_POST
def message_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Replace a user message's text and answer it again (later turns are removed)."""
    message = message_get_for_user(user=request.user, pk=pk)
    try:
        services.message_edit_resend(message=message, text=request.POST.get("text", ""))
    except ValidationError as exc:
        if request.htmx:
            return _composer_error(request, exc)
        flash.error(request, " ".join(exc.messages))
    if request.htmx:
        return HttpResponseClientRefresh()
    return redirect("thread", pk=message.thread_id)


@require_POST
async def message_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop the answer being streamed into message pk; what was written so far is kept."""
    user = cast("User", await request.auser())
    message = await sync_to_async(message_get_for_user)(user=user, pk=pk)
    await answer_stop(message.pk)
    if request.headers.get("HX-Request"):
        return HttpResponse(status=204)
    return redirect("thread", pk=message.thread_id)


def _composer_error(request: HtmxHttpRequest, error: ValidationError) -> HttpResponse:
    text = " ".join(error.messages)
    response = HttpResponse(f'<p class="error" role="alert">{escape(text)}</p>', status=422)
    if request.htmx:
        response = retarget(response, "#composer-errors")
        response = reswap(response, "innerHTML")
    return response


def _post_or_command(request: HtmxHttpRequest, thread) -> list:
    """Run a chat command, or post a message; returns the new rows. Raises ValidationError."""
    text = request.POST.get("text", "")
    command = parse_command(text)
    if command is not None and not request.FILES:
        return [Message.objects.get(pk=command_run(thread=thread, command=command).pk)]
    model_ref = request.POST.get("once_model", "").strip()
    images = request.FILES.getlist("images")
    rows = list(services.message_post(thread=thread, text=text, images=images, model_ref=model_ref))
    if model_ref:
        send_to_record(
            thread=thread,
            text=text,
            model_ref=model_ref,
            attachment_types=tuple(a.mime_type for a in rows[0].attachments.all()),
        )
    return rows


@require_POST
def message_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Post into a thread (pk = thread) and return the new message rows."""
    thread = thread_get_for_user(user=request.user, pk=pk)
    try:
        rows = _post_or_command(request, thread)
    except ValidationError as exc:
        return _composer_error(request, exc)
    if not request.htmx:
        return redirect("thread", pk=thread.pk)
    return _render_rows(request, rows, thread)


def _rows_context(rows: list[Message], thread: Thread) -> dict:
    """What the message rows need besides the messages: the model list for regenerate and
    which answer is the last one (the only one that can be regenerated)."""
    last = Message.objects.filter(thread=thread).exclude(role="note").order_by("-id").first()
    return {
        "pair": rows,
        "thread": thread,
        "workspace": thread.workspace,
        "catalog": catalog_list_enabled(),
        "tier_names": thread_tier_names(thread),
        "last_answer": last.pk if last is not None else None,
    }


def _render_rows(
    request: HtmxHttpRequest, rows: list[Message], thread: Thread, *, picker: bool = False
) -> HttpResponse:
    """New rows for the end of the thread; with `picker`, the model picker too (out of band),
    so it shows at once what a /model command or the picker itself changed."""
    context = _rows_context(rows, thread)
    context["picker"] = picker or any(
        r.role == "note" and r.routing.get("command") in ("model", "tier") for r in rows
    )
    response = render(request, "chat/thread.html#message-pair", context)
    return _with_suggestion(request, response, thread.workspace)


@require_POST
def message_feedback(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Thumbs up/down on an answer (pk), with an optional reason; the same thumb again takes
    it back."""
    message = message_get_for_user(user=request.user, pk=pk)
    try:
        message.feedback = message_rate(  # type: ignore[attr-defined]
            user=request.user,
            message=message,
            rating=request.POST.get("rating", ""),
            reason=request.POST.get("reason", ""),
        )
    except ValidationError as exc:
        return _composer_error(request, exc)
    if not request.htmx:
        return redirect("thread", pk=message.thread_id)
    return render(request, "chat/thread.html#feedback", {"message": message})


@require_POST
def thread_start(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Post the first message of a new thread in workspace pk."""
    workspace = workspace_get_for_user(user=request.user, pk=pk)
    thread = services.thread_create(workspace=workspace, owner=request.user)
    try:
        _post_or_command(request, thread)
    except ValidationError as exc:
        thread.delete()
        return _composer_error(request, exc)
    if request.htmx:
        return HttpResponseClientRedirect(reverse("thread", args=[thread.pk]))
    return redirect("thread", pk=thread.pk)


@require_GET
async def message_stream(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """Server-sent events: `chunk` events with the answer so far as rendered markdown (each
    replaces the last), then `done` with the final row."""
    # LoginRequiredMiddleware lets only signed-in users reach this view.
    user = cast("User", await request.auser())
    message = await sync_to_async(message_get_for_user)(user=user, pk=pk)

    async def events() -> AsyncIterator[bytes]:
        # Padding comment flushes proxies' buffers so the first token shows at once.
        yield b": stream open\n\n"
        render = StreamingRender()
        finished = None
        async for event in answer_events(message.pk):
            if isinstance(event, Delta):
                html = render.feed(event.text)
                if html is not None:
                    yield sse_event("chunk", html)
            else:
                finished = event
        if finished is not None and finished.error:
            # Not named "error": that is EventSource's own connection-error event.
            yield sse_event("failed", finished.error)
        try:
            final = (
                await Message.objects.prefetch_related("attachments")
                .select_related("thread__workspace")
                .aget(pk=message.pk)
            )
        except DatabaseError:
            yield sse_event("failed", "The answer could not be read back: try again shortly.")
            yield _RETRY_LATER
            return
        if final.status in (MessageStatus.PENDING, MessageStatus.STREAMING):
            # Another stream is answering it (a second tab), or one that died left it so. A
            # `done` row would carry sse-connect again and reconnect at once, in a loop; the
            # browser instead reconnects after the `retry` delay.
            yield _RETRY_LATER
            return

        def row() -> str:
            context = _rows_context([final], final.thread)
            return render_to_string("chat/thread.html#message-row", {**context, "message": final})

        html = await sync_to_async(row)()
        yield sse_event("done", html)

    response = StreamingHttpResponse(events(), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


# SSE reconnection delay for a stream that has nothing to send yet (milliseconds).
_RETRY_LATER = b"retry: 5000\n\n"


@require_POST
def thread_model(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The thread's model picker, the same as typing a command: "auto" returns to the router
    (`/model auto`, and `/tier auto` when a tier was chosen), "tier:NAME" is `/tier NAME`, a
    ref pins the thread to a model (`/model ref`)."""
    thread = thread_get_for_user(user=request.user, pk=pk)
    value = request.POST.get("model", "auto").strip() or "auto"
    if value.startswith("tier:"):
        commands = [Command("tier", value.removeprefix("tier:"))]
    elif value == "auto" and thread.tier:
        commands = [Command("tier", "auto")]
        if thread.override_model_id is not None:
            commands.insert(0, Command("model", "auto"))
    else:
        commands = [Command("model", value)]
    try:
        notes = [command_run(thread=thread, command=command) for command in commands]
    except ValidationError as exc:
        return _composer_error(request, exc)
    if not request.htmx:
        return redirect("thread", pk=thread.pk)
    return _render_rows(request, notes, thread, picker=True)


@require_POST
def route_preview(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Where the text being typed would go, from the calculated rules alone (no model call)."""
    workspace = workspace_get_for_user(user=request.user, pk=pk)
    thread_pk = id_param(request.POST.get("thread"), "thread")
    thread = None if thread_pk is None else thread_get_for_user(user=request.user, pk=thread_pk)
    preview = preview_route(
        user=request.user,
        workspace=workspace,
        thread=thread,
        text=request.POST.get("text", ""),
        attachment_types=tuple(
            upload.content_type or services.guess_mime(upload.name or "")
            for upload in request.FILES.getlist("images")
        ),
        pick=request.POST.get("once_model", "").strip()[:300],
    )
    return render(
        request,
        "chat/thread.html#route-preview",
        {
            "preview": preview,
            "workspace": workspace,
            "thread": thread,
            "catalog": catalog_list_enabled(),
        },
    )


@require_http_methods(["GET", "POST"])
def workspace_members(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    workspace = workspace_get_for_user(user=request.user, pk=pk)
    if not workspace_can_manage(user=request.user, workspace=workspace):
        raise PermissionDenied(
            "Only the workspace's owner, managers and admins manage its members."
        )
    if request.method == "POST":
        person = get_object_or_404(User, pk=id_param(request.POST.get("user"), "user"))
        try:
            if request.POST.get("action") == "remove":
                people.workspace_member_remove(actor=request.user, workspace=workspace, user=person)
                flash.success(request, f"{person.username} left {workspace.name}.")
            else:
                people.workspace_member_add(actor=request.user, workspace=workspace, user=person)
                flash.success(request, f"{person.username} joined {workspace.name}.")
        except ValidationError as exc:
            flash.error(request, " ".join(exc.messages))
        return redirect("workspace_members", pk=workspace.pk)
    members = workspace.members.order_by("username")
    return render(
        request,
        "chat/workspace_members.html",
        {
            "workspace": workspace,
            "members": members,
            "candidates": User.objects.filter(is_active=True)
            .exclude(pk__in=members.values("pk"))
            .order_by("username"),
        },
    )


# --- Providers and the catalog (admins only) ---------------------------------------------


def _require_admin(request: HtmxHttpRequest) -> None:
    if not request.user.is_admin_role:
        raise PermissionDenied("Only admins manage providers and API keys.")


@require_GET
def provider_list(request: HtmxHttpRequest) -> HttpResponse:
    _require_admin(request)
    providers = Provider.objects.prefetch_related("models")
    return render(request, "chat/providers.html", {"providers": providers})


@require_http_methods(["GET", "POST"])
def provider_edit(request: HtmxHttpRequest, pk: int | None = None) -> HttpResponse:
    _require_admin(request)
    provider = get_object_or_404(Provider, pk=pk) if pk else None
    form = ProviderForm(request.POST or None, instance=provider)
    if request.method == "POST" and form.is_valid():
        provider = provider_services.provider_save(
            actor=request.user, provider=form.save(commit=False)
        )
        flash.success(request, f"Provider {provider.name} saved.")
        return redirect("provider_edit", pk=provider.pk)
    discovered: list[str] | None = None
    return render(
        request,
        "chat/provider_form.html",
        {"form": form, "provider": provider, "discovered": discovered},
    )


@require_POST
def provider_discover(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """List the server's models (OpenAI-compatible `/v1/models`) and offer to add them."""
    _require_admin(request)
    provider = get_object_or_404(Provider, pk=pk)
    try:
        ids = provider_services.provider_list_remote_models(provider=provider)
        error = None
    except provider_services.DiscoveryError as exc:
        ids, error = [], str(exc)
    known = set(provider.models.values_list("model_id", flat=True))
    return render(
        request,
        "chat/provider_form.html#discovered",
        {
            "provider": provider,
            "discovered": [(i, i in known) for i in ids],
            "discover_error": error,
        },
    )


@require_POST
def provider_add_model(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    _require_admin(request)
    provider = get_object_or_404(Provider, pk=pk)
    model_id = request.POST.get("model_id", "").strip()
    if model_id:
        provider_services.catalog_model_add(
            actor=request.user, provider=provider, model_id=model_id
        )
        flash.success(
            request, f"Added {model_id} to the catalog; set its prices and context window below."
        )
    return redirect("provider_edit", pk=provider.pk)


@require_http_methods(["GET", "POST"])
def catalog_model_edit(
    request: HtmxHttpRequest, provider_pk: int, pk: int | None = None
) -> HttpResponse:
    _require_admin(request)
    provider = get_object_or_404(Provider, pk=provider_pk)
    instance = (
        get_object_or_404(CatalogModel, pk=pk, provider=provider)
        if pk
        else CatalogModel(provider=provider)
    )
    form = CatalogModelForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        provider_services.catalog_model_save(actor=request.user, model=form.save(commit=False))
        flash.success(request, "Model saved.")
        return redirect("provider_edit", pk=provider.pk)
    return render(
        request, "chat/model_form.html", {"form": form, "provider": provider, "model": instance}
    )
