"""The planner's policy step: runs before the routing rules, for chat and /v1 alike.

`policy_apply` checks every text that would leave (system prompt, conversation, new message)
against the policies of the instance, the workspace and the router, and returns:

- the request and the routing input as they may leave (masked where a policy masks), so the
  answering model *and* the classifier only ever see the masked text;
- a `Restriction` when a policy allows only approved models: `aroute` passes it to the engine,
  which drops unapproved models from the chain (saying so), lets the router pick among the
  approved ones, and does not call an unapproved classifier at all;
- a refusal when a policy refuses.

A manual override (`/model`, "Send to", a model named in /v1) is no way around it:
`policy_restrict_models` filters those chains the same way.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine import RouteInput, RuleError
from engine.policy import NO_POLICY, PolicyOutcome, PolicySet
from engine.types import HistoryMessage, Restriction
from providers.adapters.base import ChatMessage, ChatRequest


@dataclass(frozen=True)
class PolicyResult:
    outcome: PolicyOutcome
    request: ChatRequest
    restriction: Restriction | None = None
    refusal: str = ""
    policies: PolicySet = PolicySet(())

    def mask_input(self, inp: RouteInput) -> RouteInput:
        """The routing input as it may leave (the classifier reads it)."""
        if not self.outcome.masked:
            return inp
        texts = self.policies.check([inp.text, *(h.text for h in inp.history)]).texts
        history = tuple(
            HistoryMessage(role=h.role, text=text, images=h.images)
            for h, text in zip(inp.history, texts[1:], strict=True)
        )
        return dataclasses.replace(inp, text=texts[0], history=history)

    def routing_facts(self) -> dict[str, Any]:
        """What the badge and the log show: policy names, actions, what kind of data —
        never the matched text."""
        if not self.outcome.hits:
            return {}
        facts = self.outcome.to_dict()
        if self.outcome.masked and self.request.messages:
            # The user sees what left instead of their text (their own message, masked).
            facts["sent_text"] = self.request.messages[-1].text[:2000]
        return {"policy": facts}


def policy_apply(policies: PolicySet, request: ChatRequest) -> PolicyResult:
    if not policies:
        return PolicyResult(NO_POLICY, request)
    texts = [request.system, *(m.text for m in request.messages)]
    outcome = policies.check(texts)
    if outcome.masked:
        messages = tuple(
            ChatMessage(role=m.role, text=text, images=m.images)
            for m, text in zip(request.messages, outcome.texts[1:], strict=True)
        )
        request = dataclasses.replace(request, system=outcome.texts[0], messages=messages)
    restriction = None
    if outcome.approved is not None:
        restriction = Restriction(models=outcome.approved, label=outcome.restriction_label)
    return PolicyResult(outcome, request, restriction, outcome.refusal, policies)


def policy_error(exc: RuleError) -> PolicyResult:
    """A stored policy that no longer compiles: refuse rather than let data leave unchecked."""
    return PolicyResult(
        NO_POLICY,
        ChatRequest(model="", messages=()),
        refusal=f"A data policy is invalid ({exc.message}); an admin must fix it.",
    )


def policy_restrict_models(
    refs: Sequence[str],
    result: PolicyResult,
    catalog: Mapping[str, Any],
    *,
    has_image: bool = False,
) -> tuple[list[str], str]:
    """For chains no router chose (override, single-model workspace, a model named in /v1):
    the approved ones among `refs`, else the policy's approved models that are enabled (and
    take images when needed). Returns the refs and a note for the reason ("" if unchanged)."""
    restriction = result.restriction
    if restriction is None:
        return list(refs), ""
    kept = [ref for ref in refs if ref in restriction.models]
    if kept == list(refs):
        return kept, ""
    dropped = ", ".join(ref for ref in refs if ref not in restriction.models)
    if not kept:
        kept = [
            ref
            for ref in restriction.models
            if ref in catalog and (not has_image or catalog[ref].supports_images)
        ]
    note = f"{dropped} skipped: not approved by {restriction.label}"
    if not kept:
        note += "; no approved model is available"
    return kept, note
