"""The composer's live route preview: what sending would do, short of the classifier call.

The same checks (router access, a pin held to the enabled catalog), the same input (the
thread's history as the answer will see it, the attachments' types, user and workspace) and
the same stickiness as the answer (chat/answering.py); only LLM-classified rules are left
undecided (listed as pending), since judging them costs a model call."""

from __future__ import annotations

from dataclasses import dataclass

from asgiref.sync import async_to_sync

from chat.selectors import thread_pin_problem
from chat.services import thread_history
from engine import RuleError, decide, evaluate
from engine.semantic import SemanticInput
from providers.selectors import catalog_list_enabled
from routers.compiling import compiled_router_for
from routers.routing import asticky_get, route_input_for
from routers.selectors import router_can_use, router_unavailable_message


@dataclass(frozen=True)
class Preview:
    model: str = ""
    model_name: str = ""
    rule_name: str = ""
    source: str = ""
    pending_llm_rules: tuple[str, ...] = ()
    # Semantic rules the preview could not judge (it embeds nothing).
    pending_semantic_rules: tuple[str, ...] = ()
    note: str = ""


def preview_route(
    *, user, workspace, thread, text: str, attachment_types: tuple[str, ...] = ()
) -> Preview:
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
        # As the answer does: an invalid router falls back to its primary model.
        primary = router.primary_model
        return Preview(
            model=primary.ref,
            model_name=primary.display_name,
            source="primary",
            note=f"router is invalid ({exc.message}); the primary model answers",
        )
    inp = route_input_for(
        user=user,
        workspace=workspace,
        text=text,
        earlier=thread_history(thread_id=thread.pk) if thread is not None else [],
        attachment_types=attachment_types,
    )
    sticky = (
        async_to_sync(asticky_get)(router, f"thread:{thread.pk}")
        if router.sticky and thread is not None
        else None
    )
    evaluation = evaluate(compiled, inp)
    pending_semantic: tuple[str, ...] = ()
    if evaluation.needs_embedding:
        # The preview calls no model, the embedding model included: semantic rules are shown
        # as still possible, and the rules after them are evaluated as if none matched.
        evaluation = evaluate(
            compiled, inp, semantic=SemanticInput(model="", error="not embedded in the preview")
        )
        pending_semantic = tuple(
            r.name for r in compiled.rules if r.id in evaluation.semantic_scores
        )
    decision = decide(compiled, evaluation, classifier=None, sticky=sticky, inp=inp)
    names = {r.id: r.name for r in compiled.rules}
    pending = tuple(names[i] for i in evaluation.offered)
    return Preview(
        model=decision.model or "",
        model_name=enabled.get(decision.model or "", decision.model or ""),
        rule_name=decision.rule_name or "",
        source=decision.source,
        pending_llm_rules=pending,
        pending_semantic_rules=pending_semantic,
    )
