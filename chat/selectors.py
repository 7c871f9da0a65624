"""Reads for the chat app. Every object a user reaches goes through one of these scoped queries."""

from __future__ import annotations

from collections.abc import Collection

from django.db.models import Q, QuerySet
from django.http import Http404

from accounts.models import User
from chat.models import Attachment, Message, Thread, Workspace


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


def thread_pin_problem(*, thread: Thread, enabled_refs: Collection[str]) -> str:
    """Why the thread's `/model` pin cannot answer, or "": a pinned model is held to the
    enabled catalog exactly like a per-message pick."""
    pinned = thread.override_model
    if pinned is None or pinned.ref in enabled_refs:
        return ""
    back = "the router" if thread.workspace.mode == "router" else "the workspace model"
    return (
        f"This chat is pinned to {pinned.ref}, which is not enabled any more. "
        f"Type /model auto to return to {back}, or pin another model."
    )
