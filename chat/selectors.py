"""Reads for the chat app. Every object a user reaches goes through one of these scoped queries."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from chat.models import Attachment, Message, Thread, Workspace
from planning.planner import Channel, PlanRequest
from planning.planner import Workspace as PlanWorkspace
from providers.adapters.base import ChatRequest
from routers.routing import Turn


def workspace_list_for_user(*, user: User) -> QuerySet[Workspace]:
    # Managers manage workspaces and their membership (README, roles), so they reach them all.
    if user.is_manager_role:
        return Workspace.objects.all()
    return Workspace.objects.filter(Q(owner=user) | Q(members=user)).distinct()


def workspace_get_for_user(*, user: User, pk: int) -> Workspace:
    workspace = (
        workspace_list_for_user(user=user)
        .filter(pk=pk)
        .select_related("model__provider", "router")
        .first()
    )
    if workspace is None:
        raise Http404("No such workspace.")
    return workspace


def thread_list_for_user(*, user: User, workspace: Workspace, query: str = "") -> QuerySet[Thread]:
    """The user's chats in `workspace`, newest first; `query` keeps those whose name or any
    message contains it (case-insensitive)."""
    # Threads are personal: a workspace member sees their own threads, never a colleague's.
    threads = Thread.objects.filter(workspace=workspace, owner=user)
    query = query.strip()[:200]
    if query:
        matching = Message.objects.filter(thread__in=threads, content__icontains=query).values(
            "thread_id"
        )
        threads = threads.filter(Q(title__icontains=query) | Q(pk__in=matching))
    return threads


def thread_get_for_user(*, user: User, pk: int) -> Thread:
    thread = (
        Thread.objects.filter(pk=pk, owner=user)
        .select_related(
            "workspace",
            "workspace__model__provider",
            "workspace__router",
            "override_model__provider",
        )
        .first()
    )
    # A thread whose workspace the user has since left is gone for them too.
    if (
        thread is None
        or not workspace_list_for_user(user=user).filter(pk=thread.workspace_id).exists()
    ):
        raise Http404("No such thread.")
    return thread


def message_get_for_user(*, user: User, pk: int) -> Message:
    message = Message.objects.filter(pk=pk).select_related("thread").first()
    if message is None:
        raise Http404("No such message.")
    thread_get_for_user(user=user, pk=message.thread_id)
    return message


def attachment_get_for_user(*, user: User, pk: int) -> Attachment:
    """An attached file, for whoever may read its message's thread (its owner, while still a
    member of the workspace); anyone else gets a 404, as for the thread itself."""
    attachment = Attachment.objects.filter(pk=pk).select_related("message").first()
    if attachment is None:
        raise Http404("No such attachment.")
    thread_get_for_user(user=user, pk=attachment.message.thread_id)
    return attachment


def workspace_can_manage(*, user: User, workspace: Workspace) -> bool:
    """Settings and membership: the owner, managers and admins."""
    return workspace.owner_id == user.pk or user.is_manager_role


def turns_of(messages: Iterable[Message]) -> tuple[Turn, ...]:
    """A thread's messages (oldest first, attachments prefetched) as the planner's turns."""
    return tuple(
        Turn(
            role="assistant" if m.role == "assistant" else "user",
            text=m.content,
            attachment_types=tuple(a.mime_type for a in m.attachments.all()),
        )
        for m in messages
    )


def plan_request_for(
    *,
    user: User,
    workspace: Workspace,
    thread: Thread | None,
    history: list[Message],
    extra: tuple[Turn, ...] = (),
    pick: str = "",
    request: ChatRequest | None = None,
    channel: Channel = "chat",
) -> PlanRequest:
    """The planner's request for a message in a workspace: the answer's (`history` ends with
    the user's message) and the composer preview's (`extra` is the message being typed), so
    both see the same conversation, target, pin, stickiness and workspace."""
    router = workspace.router if workspace.mode == "router" else None
    return PlanRequest(
        user=user,
        turns=turns_of(history) + extra,
        router=router,
        model=None if router is not None else workspace.model,
        pin=thread.override_model.ref
        if thread is not None and thread.override_model is not None
        else "",
        pick=pick,
        tier=thread.tier if thread is not None else "",
        workspace=PlanWorkspace(
            workspace.pk,
            workspace.name,
            tuple(workspace.tags or ()),
            workspace.workspace_type,
            tier=workspace.tier,
        ),
        thread_key=f"thread:{thread.pk}" if thread is not None else "",
        request=request,
        channel=channel,
    )
