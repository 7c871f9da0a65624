"""The composer's live route preview: what sending would do, short of the classifier call.

It asks the planner exactly what the answer asks it (`chat.selectors.plan_request_for`, channel
"preview"): the same router access and catalog checks, the same input (the thread's history as
the answer will see it, the attachments' types, user and workspace), the same stickiness,
policies and budgets. Only LLM-classified rules are left undecided (listed as pending) and
semantic rules unjudged, since judging them costs a model call."""

from __future__ import annotations

from dataclasses import dataclass

from asgiref.sync import async_to_sync

from chat.models import Thread, Workspace
from chat.selectors import plan_request_for
from chat.services import thread_history
from planning.planner import Plan, plan_message
from routers.routing import Turn


@dataclass(frozen=True)
class Preview:
    model: str = ""
    model_name: str = ""
    rule_name: str = ""
    rule_id: int | None = None
    source: str = ""
    pending_llm_rules: tuple[str, ...] = ()
    # Semantic rules the preview could not judge (it embeds nothing).
    pending_semantic_rules: tuple[str, ...] = ()
    note: str = ""


def preview_route(
    *,
    user,
    workspace: Workspace,
    thread: Thread | None,
    text: str,
    attachment_types: tuple[str, ...] = (),
    pick: str = "",
) -> Preview:
    req = plan_request_for(
        user=user,
        workspace=workspace,
        thread=thread,
        history=thread_history(thread_id=thread.pk) if thread is not None else [],
        extra=(Turn("user", text, attachment_types),),
        pick=pick,
        channel="preview",
    )
    return preview_of(async_to_sync(plan_message)(req))


def preview_of(plan: Plan) -> Preview:
    facts = plan.facts
    if not plan.chain:
        return Preview(source=facts.source, note=plan.problem)
    model = plan.chain[0]
    note = ""
    if facts.source == "override" and plan.req is not None:
        note = "for this message only" if plan.req.pick else "manual override"
    elif plan.prepared is not None and plan.prepared.compile_error:
        note = f"router is invalid ({plan.prepared.compile_error}); the primary model answers"
    return Preview(
        model=model.ref,
        model_name=model.display_name,
        rule_name=facts.rule_name if facts.source in ("rule", "sticky") else "",
        rule_id=facts.rule_id if facts.source in ("rule", "sticky") else None,
        source=facts.source,
        # Rules on category/complexity wait for the classifier like LLM rules.
        pending_llm_rules=plan.pending_llm_rules + plan.pending_facet_rules,
        pending_semantic_rules=plan.pending_semantic_rules,
        note=note,
    )
