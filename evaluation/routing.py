"""Routing a message with one version of a router (or its draft), for golden sets and replays.

The same pieces the planner routes with — the compiled router (cached per revision), the
classifier call, the semantic embedder, the engine's `aroute` — and the same data policies
(`routers.policies`: refuse, mask what the classifier reads, restrict to approved models), so
a case can expect a policy's refusal or the model it forces. Not what depends on the moment
or the person sending: budgets (today's spend would decide yesterday's traffic, and a golden
set would pass or fail with the month) and stickiness (a thread's last rule, kept in the
shared cache for minutes; a golden case has no thread, and a replay cannot know what the
cache held then). The answering model is never called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from asgiref.sync import async_to_sync

from engine import Decision, RouteInput, RuleError
from engine.compile import CompiledRouter
from engine.policy import PolicySet
from governance.selectors import policy_set_for
from providers.adapters.base import ChatMessage, ChatRequest
from providers.models import CatalogModel
from providers.selectors import catalog_list_enabled
from routers.compiling import compiled_router_for
from routers.models import Router
from routers.policies import policy_apply, policy_error
from routers.routing import ClassifierTarget, aroute, classifier_target_for
from routers.semantic import SemanticEmbedder, semantic_embedder_for
from routers.versions import router_at, version_get


class UnknownVersion(LookupError):
    pass


@dataclass(frozen=True)
class Evaluated:
    """A message evaluated as sending would: the decision, or the policy's refusal."""

    decision: Decision | None
    refusal: str = ""
    policy: str = ""  # the policies that applied, in the badge's words ("" for none)
    refused_by: str = ""  # the refusing policy's name

    @property
    def model(self) -> str:
        return (self.decision.model or "") if self.decision is not None else ""


def request_of_input(inp: RouteInput) -> ChatRequest:
    """The request a routing input stands for, as the data policies read it: the earlier
    turns and the message (policies read text; images play no part)."""
    return ChatRequest(
        model="",
        messages=(
            *(
                ChatMessage(role="assistant" if h.role == "assistant" else "user", text=h.text)
                for h in inp.history
            ),
            ChatMessage(role="user", text=inp.text),
        ),
    )


@dataclass
class Evaluator:
    """One router (a version or the draft), prepared once for many messages."""

    router: Router
    label: str  # "the draft", "v3"
    catalog: dict[str, CatalogModel]
    compiled: CompiledRouter | None = None
    error: str = ""  # why it cannot route (it does not compile)
    target: ClassifierTarget | None = None
    embedder: SemanticEmbedder | None = field(default=None, repr=False)

    # The data policies by workspace id (None: the instance's and the router's only).
    _policies: dict[int | None, PolicySet | RuleError] = field(default_factory=dict, repr=False)

    def decide(self, inp: RouteInput) -> Decision:
        """What the rules decide, no policy applied."""
        assert self.compiled is not None
        return async_to_sync(aroute)(self.compiled, inp, target=self.target, embedder=self.embedder)

    def policies_for(self, workspace_id: int | None) -> PolicySet | RuleError:
        if workspace_id not in self._policies:
            try:
                policies: PolicySet | RuleError = policy_set_for(
                    workspace_id=workspace_id, router_id=self.router.pk
                )
            except RuleError as exc:
                policies = exc
            self._policies[workspace_id] = policies
        return self._policies[workspace_id]

    def evaluate(self, inp: RouteInput, *, workspace_id: int | None = None) -> Evaluated:
        """What sending would decide, the data policies included (the instance's, the
        router's and, given `workspace_id`, the workspace's): a refusal, or the rules'
        decision on the text as it may leave, limited to the approved models."""
        assert self.compiled is not None
        policies = self.policies_for(workspace_id)
        request = request_of_input(inp)
        guard = (
            policy_error(policies)
            if isinstance(policies, RuleError)
            else policy_apply(policies, request)
        )
        summary = str(guard.routing_facts().get("policy", {}).get("summary") or "")
        if guard.refusal:
            hit = guard.outcome.refused_by
            return Evaluated(
                None,
                refusal=guard.refusal,
                policy=summary,
                refused_by=hit.policy if hit is not None else "",
            )
        decision = async_to_sync(aroute)(
            self.compiled,
            guard.mask_input(inp),
            target=self.target,
            embedder=self.embedder,
            restriction=guard.restriction,
        )
        return Evaluated(decision, policy=summary)

    def classifier_cost(self, decision: Decision) -> Decimal:
        """What this decision's classifier call cost at catalog prices (0 when cached)."""
        verdict = decision.classifier
        if not decision.classifier_called or verdict is None or verdict.cached:
            return Decimal("0")
        model = self.catalog.get(self.target.ref) if self.target is not None else None
        if model is None:
            return Decimal("0")
        return model.cost(verdict.input_tokens, verdict.output_tokens)

    def classifier_model(self) -> CatalogModel | None:
        return self.catalog.get(self.target.ref) if self.target is not None else None


def evaluator_for(router: Router, number: int | None) -> Evaluator:
    """The draft (`number` None) or version `number`; UnknownVersion when there is none."""
    if number is None:
        subject, label = router, "the draft"
    else:
        version = version_get(router=router, number=number)
        if version is None:
            raise UnknownVersion(f"This router has no version {number}.")
        subject, label = router_at(router, version), f"v{number}"
    evaluator = Evaluator(
        router=subject, label=label, catalog={m.ref: m for m in catalog_list_enabled()}
    )
    try:
        evaluator.compiled = compiled_router_for(subject)
    except RuleError as exc:
        evaluator.error = f"{label} cannot route: {exc.message}"
        return evaluator
    evaluator.target = classifier_target_for(subject)
    if evaluator.compiled.has_semantic:
        evaluator.embedder = semantic_embedder_for(subject)
    return evaluator
