"""Chat commands typed in the composer: `/model provider/model-id`, `/model auto`, `/status`.

A command changes the thread (or reports on it) and posts a note into the thread; it is never
sent to a model.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from chat.feedback import pin_record
from chat.models import Message, Thread
from providers.selectors import catalog_get_by_ref
from routers.selectors import router_can_use, router_unavailable_message
from routers.versions import router_published, router_rule_names

HELP = "Commands: /model provider/model-id (answer with that model), /model auto (back to the router), /status."


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def parse_command(text: str) -> Command | None:
    stripped = text.strip()
    if not stripped.startswith("/") or "\n" in stripped:
        return None
    name, _, argument = stripped[1:].partition(" ")
    return Command(name=name.lower(), argument=argument.strip())


def thread_set_override(*, thread: Thread, ref: str) -> str:
    """Pin the thread to a model (`ref`), or return it to its router/model with "auto"."""
    if ref.lower() in ("auto", ""):
        thread.override_model = None
        thread.save(update_fields=["override_model", "updated_at"])
        return f"Back to automatic: {_current_route(thread)}."
    model = catalog_get_by_ref(ref)
    if model is None:
        raise ValidationError(
            f"Unknown model {ref!r}. Use provider/model-id, e.g. demo/large (see Providers)."
        )
    pin_record(thread=thread, model_ref=model.ref)
    thread.override_model = model
    thread.save(update_fields=["override_model", "updated_at"])
    return f"This thread now answers with {model.display_name} ({model.ref}); routing is bypassed until /model auto."


def _current_route(thread: Thread) -> str:
    workspace = thread.workspace
    if workspace.mode == "router" and workspace.router is not None:
        return f"router “{workspace.router.name}” decides"
    if workspace.model is not None:
        return f"{workspace.model.display_name} answers"
    return "this workspace has no model configured"


def thread_status(*, thread: Thread) -> str:
    if thread.override_model is not None:
        return (
            f"Manual override: {thread.override_model.display_name} ({thread.override_model.ref}) answers every "
            "message; type /model auto to return to automatic routing."
        )
    workspace = thread.workspace
    if workspace.mode == "router" and workspace.router is not None:
        router = router_published(workspace.router)
        if not router_can_use(user=thread.owner, router=router):
            return router_unavailable_message(router)
        rules = router_rule_names(router)
        listed = (
            ", ".join(
                f"{name} ({ {'llm': 'LLM', 'semantic': 'semantic'}.get(kind, 'calculated') })"
                for name, kind in rules
            )
            or "none"
        )
        last = thread.messages.filter(role="assistant", status="complete").order_by("-id").first()
        tail = ""
        if last is not None and last.routing.get("reason"):
            tail = f" Last answer: {last.model_ref} — {last.routing['reason']}"
        sticky = f" Sticky for {router.cooldown_minutes} min." if router.sticky else ""
        return (
            f"Router “{router.name}” (v{router.version}) decides; first matching rule wins: {listed}; "
            f"otherwise {router.primary_model.display_name}.{sticky}{tail}"
        )
    return f"{_current_route(thread).capitalize()}."


def command_run(*, thread: Thread, command: Command) -> Message:
    """Run a command and store its outcome as a note in the thread. Raises ValidationError."""
    if command.name == "model":
        if not command.argument:
            raise ValidationError("Say which model: /model provider/model-id, or /model auto.")
        text = thread_set_override(thread=thread, ref=command.argument)
    elif command.name == "status":
        text = thread_status(thread=thread)
    else:
        raise ValidationError(f"Unknown command /{command.name}. {HELP}")
    # The command's name lets the page refresh what it changed (the model picker).
    return Message.objects.create(
        thread=thread, role="note", content=text, routing={"command": command.name}
    )
