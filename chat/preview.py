"""The composer's live route preview: calculated rules only, never a model call."""

from __future__ import annotations

from dataclasses import dataclass, replace

from chat.selectors import thread_pin_problem
from engine import RuleError, decide, evaluate
from providers.selectors import catalog_list_enabled
from routers.compiling import compiled_router_for
from routers.routing import history_for_engine, route_input_for_test
from routers.selectors import router_can_use, router_unavailable_message


@dataclass(frozen=True)
class Preview:
    model: str = ""
    model_name: str = ""
    rule_name: str = ""
    source: str = ""
    pending_llm_rules: tuple[str, ...] = ()
    note: str = ""


def preview_route(*, user, workspace, thread, text: str, has_image: bool) -> Preview:
    enabled = {m.ref: m.display_name for m in catalog_list_enabled()}
    if thread is not None and thread.override_model is not None:
        m = thread.override_model
        if pinned := thread_pin_problem(thread=thread, enabled_refs=enabled):
            return Preview(source="override", note=pinned)
        return Preview(
            model=m.ref, model_name=m.display_name, source="override", note="manual override"
        )
    if workspace.mode != "router" or workspace.router is None:
        m = workspace.model
        return Preview(
            model=m.ref if m else "", model_name=m.display_name if m else "", source="workspace"
        )
    router = workspace.router
    if not router_can_use(user=user, router=router):
        return Preview(source="router", note=router_unavailable_message(router))
    try:
        compiled = compiled_router_for(router)
    except RuleError as exc:
        return Preview(note=f"router is invalid: {exc.message}")
    inp = route_input_for_test(
        router=router,
        text=text,
        has_image=has_image,
        user=user,
        workspace=workspace.name,
        workspace_tags=tuple(workspace.tags or ()),
    )
    if thread is not None:
        history = list(
            thread.messages.filter(role__in=["user", "assistant"]).prefetch_related("attachments")
        )

        inp = replace(inp, history=history_for_engine(history))
    evaluation = evaluate(compiled, inp)
    decision = decide(compiled, evaluation, classifier=None, inp=inp)
    names = {r.id: r.name for r in compiled.rules}
    pending = tuple(names[i] for i in evaluation.offered)
    return Preview(
        model=decision.model or "",
        model_name=enabled.get(decision.model or "", decision.model or ""),
        rule_name=decision.rule_name or "",
        source=decision.source,
        pending_llm_rules=pending,
    )
