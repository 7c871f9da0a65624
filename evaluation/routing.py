"""Routing a message with one version of a router (or its draft), for golden sets and replays.

The same pieces the planner routes with — the compiled router (cached per revision), the
classifier call, the semantic embedder, the engine's `aroute` — without what belongs to the
person sending (their budgets, data policies, sticky thread): a golden set or a replay asks
what the router's *rules* decide. The answering model is never called.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from asgiref.sync import async_to_sync

from engine import Decision, RouteInput, RuleError
from engine.compile import CompiledRouter
from providers.models import CatalogModel
from providers.selectors import catalog_list_enabled
from routers.compiling import compiled_router_for
from routers.models import Router
from routers.routing import ClassifierTarget, aroute, classifier_target_for
from routers.semantic import SemanticEmbedder, semantic_embedder_for
from routers.versions import router_at, version_get


class UnknownVersion(LookupError):
    pass


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

    def decide(self, inp: RouteInput) -> Decision:
        assert self.compiled is not None
        return async_to_sync(aroute)(self.compiled, inp, target=self.target, embedder=self.embedder)

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
