"""Writes for the chat app: workspaces, threads, messages, and streaming an answer."""

from __future__ import annotations

import logging
import mimetypes
import re
from decimal import Decimal
from typing import Literal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from PIL import Image, UnidentifiedImageError

from accounts.models import User
from audit.services import audit_record, snapshot
from chat.models import (
    Attachment,
    Message,
    MessageStatus,
    Thread,
    Workspace,
    WorkspaceMode,
    WorkspaceType,
)
from planning.planner import pick_problem
from providers.adapters.base import (
    ALLOWED_IMAGE_TYPES,
    ChatMessage,
    ImagePart,
)
from providers.images import image_size_problem, images_problem
from providers.models import CatalogModel
from providers.selectors import catalog_get_by_ref

log = logging.getLogger(__name__)


def workspace_create(
    *,
    owner: User,
    name: str,
    system_prompt: str = "",
    model: CatalogModel | None = None,
    router=None,
    tags: list[str] | None = None,
    workspace_type: str = WorkspaceType.GENERAL,
    tier: str = "",
) -> Workspace:
    if workspace_type not in WorkspaceType.values:
        raise ValidationError(
            {"workspace_type": f"Choose one of: {', '.join(WorkspaceType.values)}."}
        )
    mode = WorkspaceMode.ROUTER if router is not None else WorkspaceMode.MODEL
    if mode == WorkspaceMode.MODEL and model is None:
        raise ValidationError({"model": "Pick the model that answers in this workspace."})
    workspace = Workspace.objects.create(
        owner=owner,
        name=name,
        system_prompt=system_prompt,
        mode=mode,
        model=model,
        router=router,
        tags=tags or [],
        workspace_type=workspace_type,
        tier=tier if router is not None else "",
    )
    workspace.members.add(owner)
    return workspace


_WORKSPACE_AUDIT_FIELDS = [
    "name",
    "system_prompt",
    "mode",
    "model",
    "router",
    "tags",
    "workspace_type",
    "tier",
]


@transaction.atomic
def workspace_update(*, actor: User, workspace: Workspace) -> Workspace:
    """Store a workspace's edited settings (built by the form) and audit the change."""
    stored = Workspace.objects.select_related("model__provider", "router").get(pk=workspace.pk)
    if workspace.mode == "model":
        workspace.router = None
        workspace.tier = ""
    workspace.save()
    audit_record(
        actor=actor,
        action="workspace.update",
        obj=workspace,
        before=snapshot(stored, _WORKSPACE_AUDIT_FIELDS),
        after=snapshot(workspace, _WORKSPACE_AUDIT_FIELDS),
    )
    return workspace


def thread_create(*, workspace: Workspace, owner: User, title: str = "New chat") -> Thread:
    return Thread.objects.create(workspace=workspace, owner=owner, title=title[:200] or "New chat")


_TITLE_CHARS = 60
_MARKDOWN_LEAD = re.compile(r"^(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)+")
_MARKDOWN_MARKS = re.compile(r"\*\*|__|`+|~~")


def thread_title_from(text: str) -> str:
    """A new chat's name from its first message: the first line of prose (a fenced code
    block's own lines only when there is nothing else), without markdown's marks."""
    lines = [line.strip() for line in text.splitlines()]
    fence = False
    prose: list[str] = []
    code: list[str] = []
    for line in lines:
        if line.startswith(("```", "~~~")):
            fence = not fence
        elif line:
            (code if fence else prose).append(line)
    first = (prose or code or [""])[0]
    first = " ".join(_MARKDOWN_MARKS.sub("", _MARKDOWN_LEAD.sub("", first)).split())
    if not first:
        return "New chat"
    if len(first) <= _TITLE_CHARS:
        return first
    return first[: _TITLE_CHARS - 1].rstrip() + "…"


def thread_rename(*, thread: Thread, title: str) -> Thread:
    title = " ".join(title.split())
    if not title:
        raise ValidationError("Give the chat a name.")
    if len(title) > 200:
        raise ValidationError(
            f"A chat's name has at most 200 characters (this one has {len(title)})."
        )
    thread.title = title
    thread.save(update_fields=["title", "updated_at"])
    return thread


def thread_delete(*, thread: Thread) -> None:
    """Delete a chat with its messages. Routing decisions already logged are kept (they are
    the router's history) and lose only their link to the message."""
    thread.delete()


_BUSY = (MessageStatus.PENDING, MessageStatus.STREAMING)


def _check_text(text: str) -> str:
    text = text.strip()
    if "\x00" in text:
        # Invisible in the composer, and PostgreSQL cannot store it: say so, keep the text.
        raise ValidationError(
            "This message contains a NUL character (\\u0000), usually from a pasted binary "
            "file; remove it and send again."
        )
    if len(text) > settings.MAX_MESSAGE_CHARS:
        raise ValidationError(
            f"This message is {len(text):,} characters; the limit is {settings.MAX_MESSAGE_CHARS:,}."
        )
    return text


def _check_model_ref(model_ref: str) -> dict:

    if not model_ref:
        return {}
    if catalog_get_by_ref(model_ref) is None:
        raise ValidationError(pick_problem(model_ref, enabled=()))
    return {"requested_model": model_ref}


def _reset_answer(answer: Message, routing: dict) -> Message:
    answer.content = ""
    answer.status = MessageStatus.PENDING
    answer.error = ""
    answer.model = None
    answer.model_ref = ""
    answer.input_tokens = answer.output_tokens = 0
    answer.usage_estimated = False
    answer.cost = Decimal("0")
    answer.routing = routing
    answer.save()
    return answer


def message_regenerate(*, message: Message, model_ref: str = "") -> Message:
    """Answer the thread's last question again, in place of its last answer.

    With no `model_ref` the answer is routed afresh exactly as a new message would be (router,
    or the thread's pinned model); with one, that model answers this once (an override). The
    old answer is replaced, so the conversation the models see stays a single line.
    Raises ValidationError.
    """
    if message.role != "assistant":
        raise ValidationError("Only an answer can be regenerated.")
    if message.status in _BUSY:
        raise ValidationError("This answer is still being written; stop it first.")
    later = Message.objects.filter(thread_id=message.thread_id, id__gt=message.id).exclude(
        role="note"
    )
    if later.exists():
        raise ValidationError("Only the last answer can be regenerated; edit a message instead.")
    routing = _check_model_ref(model_ref.strip())
    routing["regenerated"] = True
    with transaction.atomic():
        _reset_answer(message, routing)
        message.thread.save(update_fields=["updated_at"])
    return message


def message_continue(*, message: Message, model_ref: str) -> Message:
    """Ask `model_ref` to continue a cut-off last answer from where it stopped.

    The received text stays; the model's continuation is added only once verified to be one
    (providers.failover), else the answer stays cut off. Raises ValidationError.
    """
    if message.role != "assistant" or message.status != MessageStatus.INCOMPLETE:
        raise ValidationError("Only an answer that was cut off can be continued.")
    if not message.content.strip():
        raise ValidationError("There is nothing to continue; regenerate the answer instead.")
    later = Message.objects.filter(thread_id=message.thread_id, id__gt=message.id).exclude(
        role="note"
    )
    if later.exists():
        raise ValidationError("Only the last answer can be continued.")
    routing = _check_model_ref(model_ref.strip())
    if not routing:
        raise ValidationError("Pick the model that should continue the answer.")
    earlier = message.routing
    routing["continue_from"] = {
        "text": message.content,
        "models": earlier.get("models") or ([message.model_ref] if message.model_ref else []),
        "attempts": earlier.get("attempts", []),
        "chain": earlier.get("chain", []),
        "input_tokens": message.input_tokens,
        "output_tokens": message.output_tokens,
        "cost": str(message.cost),
        "estimated": message.usage_estimated,
    }
    with transaction.atomic():
        _reset_answer(message, routing)
        message.thread.save(update_fields=["updated_at"])
    return message


def message_edit_resend(*, message: Message, text: str) -> tuple[Message, Message]:
    """Replace what the user wrote in `message` and answer it again.

    Everything after it in the thread (the old answers and any later turns) is removed: they
    answered a question that is no longer there. Images attached to the message stay.
    Raises ValidationError and then changes nothing.
    """
    if message.role != "user":
        raise ValidationError("Only your own messages can be edited.")
    text = _check_text(text)
    if not text and not message.attachments.exists():
        raise ValidationError("Type a message first.")
    later = Message.objects.filter(thread_id=message.thread_id, id__gt=message.id)
    if later.filter(status__in=_BUSY).exists():
        raise ValidationError("An answer is still being written; stop it first.")
    with transaction.atomic():
        later.delete()
        message.content = text
        message.save(update_fields=["content"])
        answer = Message.objects.create(
            thread=message.thread, role="assistant", status=MessageStatus.PENDING
        )
        message.thread.save(update_fields=["updated_at"])
    return message, answer


def _check_image(upload: UploadedFile) -> str:
    """Return the image's MIME type, or raise: we only store what really is an image."""
    if upload.size is not None and upload.size > settings.MAX_IMAGE_BYTES:
        limit_mb = settings.MAX_IMAGE_BYTES / (1024 * 1024)
        raise ValidationError(f"The image {upload.name!r} is larger than {limit_mb:.0f} MB.")

    try:
        with Image.open(upload) as img:
            # The header's size, before anything is decoded.
            problem = image_size_problem(*img.size)
            if problem:
                raise ValidationError(f"The image {upload.name!r} {problem}.")
            img.verify()
            fmt = (img.format or "").lower()
    except Image.DecompressionBombError:
        # Pillow's own ceiling (twice its MAX_IMAGE_PIXELS), hit inside open() itself.
        raise ValidationError(
            f"The image {upload.name!r} declares more pixels than this server decodes; the "
            f"limit is {settings.MAX_IMAGE_PIXELS / 1_000_000:g} million pixels."
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise ValidationError(
            f"{upload.name!r} is not an image we can read (PNG, JPEG, GIF or WebP)."
        ) from None
    finally:
        upload.seek(0)
    mime = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}.get(
        fmt, ""
    )
    if mime not in ALLOWED_IMAGE_TYPES:
        raise ValidationError(
            f"{upload.name!r} is a {fmt or 'unknown'} image; use PNG, JPEG, GIF or WebP."
        )
    return mime


def message_post(
    *, thread: Thread, text: str, images: list[UploadedFile] | None = None, model_ref: str = ""
) -> tuple[Message, Message]:
    """Store the user's message and a pending assistant message that the stream will fill in.

    `model_ref` sends this one message to that model instead of the router (recorded as an
    override). Validation happens first, so a rejected message stores nothing.
    """
    routing = _check_model_ref(model_ref)
    images = images or []
    text = _check_text(text)
    if not text and not images:
        raise ValidationError("Type a message first.")
    problem = images_problem([upload.size or 0 for upload in images])
    if problem:
        raise ValidationError(problem)
    checked = [(upload, _check_image(upload)) for upload in images]
    with transaction.atomic():
        user_message = Message.objects.create(thread=thread, role="user", content=text)
        for upload, mime in checked:
            Attachment.objects.create(
                message=user_message, file=upload, mime_type=mime, size=upload.size or 0
            )
        assistant = Message.objects.create(
            thread=thread, role="assistant", status=MessageStatus.PENDING, routing=routing
        )
        if thread.title == "New chat" and text:
            thread.title = thread_title_from(text)
        thread.save(update_fields=["title", "updated_at"])
    return user_message, assistant


def history_for(assistant: Message) -> list[Message]:
    """Messages before `assistant` that the model should see (failed answers left out)."""
    return thread_history(thread_id=assistant.thread_id, before=assistant.id)


def thread_history(*, thread_id: int, before: int | None = None) -> list[Message]:
    """The thread's conversation as models and routing see it: user and assistant messages
    (failed and pending answers left out), oldest first, before message id `before` if given."""
    messages = Message.objects.filter(thread_id=thread_id, role__in=["user", "assistant"])
    if before is not None:
        messages = messages.filter(id__lt=before)
    return list(
        messages.exclude(role="assistant", status__in=[MessageStatus.ERROR, MessageStatus.PENDING])
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def to_chat_messages(history: list[Message]) -> tuple[ChatMessage, ...]:
    """Convert stored messages to the adapter format, merging same-role neighbours.

    Providers such as Anthropic require alternating roles; a user message whose answer failed
    would otherwise sit next to the user's retry.
    """
    merged: list[ChatMessage] = []
    for message in history:
        images = tuple(
            ImagePart(mime_type=a.mime_type, data=_read(a))
            for a in message.attachments.all()
            if a.is_image
        )
        role: Literal["user", "assistant"] = "assistant" if message.role == "assistant" else "user"
        if merged and merged[-1].role == role:
            prev = merged[-1]
            merged[-1] = ChatMessage(
                role=role,
                text=f"{prev.text}\n\n{message.content}".strip(),
                images=prev.images + images,
            )
        else:
            merged.append(ChatMessage(role=role, text=message.content, images=images))
    return tuple(merged)


def _read(attachment: Attachment) -> bytes:
    with attachment.file.open("rb") as fh:
        return fh.read()


def guess_mime(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
