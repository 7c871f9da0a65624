"""Chat commands typed in the composer: `/model provider/model-id`, `/model auto`, `/tier NAME`,
`/tier auto`, `/tier`, `/status`.

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

HELP = (
    "Commands: /model provider/model-id (answer with that model), /model auto (back to the "
    "router), /tier NAME (answer with that tier of the router), /tier auto, /tier (which tier "
    "and why), /status."
)


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


def _router_tiers(thread: Thread) -> list[dict]:
    """The tiers of the version traffic uses (the published one), never the draft's."""
    workspace = thread.workspace
    if workspace.mode != "router" or workspace.router is None:
        return []
    return [t for t in router_published(workspace.router).tiers or () if isinstance(t, dict)]


def thread_tier_names(thread: Thread) -> list[str]:
    """The tiers `/tier NAME` accepts in this thread (none outside a router workspace)."""
    return [str(t.get("name")) for t in _router_tiers(thread)]


def _tier_line(tiers: list[dict], name: str) -> str:
    """'coding → demo/coder' or 'deep (unset → smart → demo/large)'."""
    by_name = {str(t.get("name")): t for t in tiers}
    seen: list[str] = []
    current = by_name.get(name)
    while current is not None and str(current.get("name")) not in seen:
        seen.append(str(current.get("name")))
        if current.get("model"):
            model = str(current["model"])
            if len(seen) == 1:
                return f"“{name}” → {model}"
            return f"“{name}” (unset → {' → '.join(seen[1:])} → {model})"
        current = by_name.get(str(current.get("fallback") or ""))
    return f"“{name}” (unset; the router's primary model answers)"


def thread_tier_report(*, thread: Thread) -> str:
    """Which tier this thread's next message uses, and why (the resolution order of tiers)."""
    workspace = thread.workspace
    tiers = _router_tiers(thread)
    if not tiers:
        return "Tiers belong to routers; this workspace does not use one."
    assert workspace.router is not None
    router = router_published(workspace.router)  # its default tier and escalation apply
    names = [str(t.get("name")) for t in tiers]
    listing = ", ".join(names)
    if thread.override_model is not None:
        return (
            f"No tier: /model pinned {thread.override_model.ref}, which outranks tiers. "
            f"Tiers of “{router.name}”: {listing}."
        )
    if thread.tier and thread.tier in names:
        why = f"Tier {_tier_line(tiers, thread.tier)}: you chose it with /tier (type /tier auto to undo)."
    elif workspace.tier and workspace.tier in names:
        why = f"Tier {_tier_line(tiers, workspace.tier)}: the workspace's tier."
    elif router.default_tier:
        escalation = (
            " The classifier may escalate a message to a higher tier." if router.escalation else ""
        )
        why = (
            f"Rules decide first; otherwise the default tier {_tier_line(tiers, router.default_tier)}."
            f"{escalation}"
        )
    else:
        why = f"Rules decide; otherwise the primary model {router.primary_model.ref} (no default tier)."
    stale = ""
    if thread.tier and thread.tier not in names:
        stale = f" (Your /tier “{thread.tier}” no longer exists on this router and is ignored.)"
    return f"{why}{stale} Tiers of “{router.name}”: {listing}."


def thread_set_tier(*, thread: Thread, name: str) -> str:
    """Answer this thread's messages with a tier of the workspace's router, or "auto"."""
    tiers = _router_tiers(thread)
    if not tiers:
        raise ValidationError("Tiers belong to routers; this workspace does not use one.")
    wanted = name.strip().lower()
    if wanted in ("auto", ""):
        thread.tier = ""
        thread.save(update_fields=["tier", "updated_at"])
        return f"Back to automatic tiers. {thread_tier_report(thread=thread)}"
    names = [str(t.get("name")) for t in tiers]
    if wanted not in names:
        raise ValidationError(f"Unknown tier {name!r}. This router's tiers: {', '.join(names)}.")
    thread.tier = wanted
    thread.save(update_fields=["tier", "updated_at"])
    note = ""
    if thread.override_model is not None:
        note = f" Note: /model pinned {thread.override_model.ref}, which outranks it; type /model auto."
    return (
        f"This thread now answers with the tier {_tier_line(tiers, wanted)} until /tier auto.{note}"
    )


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
        otherwise = (
            f"the default tier “{router.default_tier}”"
            if router.default_tier
            else router.primary_model.display_name
        )
        tier = ""
        if last is not None and last.routing.get("tier"):
            tier = (
                f" Last answer's tier: {last.routing['tier']} ({last.routing.get('tier_source')})."
            )
        return (
            f"Router “{router.name}” (v{router.version}) decides; first matching rule wins: {listed}; "
            f"otherwise {otherwise}.{sticky} {thread_tier_report(thread=thread)}{tier}{tail}"
        )
    return f"{_current_route(thread).capitalize()}."


def command_run(*, thread: Thread, command: Command) -> Message:
    """Run a command and store its outcome as a note in the thread. Raises ValidationError."""
    if command.name == "model":
        if not command.argument:
            raise ValidationError("Say which model: /model provider/model-id, or /model auto.")
        text = thread_set_override(thread=thread, ref=command.argument)
    elif command.name == "tier":
        if command.argument:
            text = thread_set_tier(thread=thread, name=command.argument)
        else:
            text = thread_tier_report(thread=thread)
    elif command.name == "status":
        text = thread_status(thread=thread)
    else:
        raise ValidationError(f"Unknown command /{command.name}. {HELP}")
    # The command's name lets the page refresh what it changed (the model picker).
    return Message.objects.create(
        thread=thread, role="note", content=text, routing={"command": command.name}
    )
