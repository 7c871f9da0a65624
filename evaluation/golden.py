"""Golden sets: a router's test messages and the rule, tier or model each should reach.

Writes (`golden_case_create`, `golden_case_delete`, `golden_case_from_decision`,
`golden_case_from_message`) are audited; `golden_run` routes every case with the draft or a
version and reports pass/fail per case, a confusion matrix of expected against actual rule,
and the classifier calls the run made with their cost at catalog prices.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from audit.services import audit_record
from chat.models import Message
from chat.services import thread_history
from decisions.models import RoutingDecision
from engine import RouteInput
from engine.limits import unstorable_problem
from evaluation.models import Expect, GoldenCase
from evaluation.routing import Evaluator, evaluator_for
from routers.models import Router
from routers.routing import Turn, at_time_of_day, route_input_of
from routers.selectors import router_can_edit
from routerweb import clock as clocks
from routerweb import shared_cache
from routerweb.cache_health import CacheDown

NO_RULE = "(no rule)"
REFUSED = "(refused by a policy)"
MAX_CASES = 500
MAX_HISTORY = 20
MAX_TURN_CHARS = 100_000  # an earlier turn, like a message
MAX_LABELS = 50  # groups, workspace tags
MAX_LABEL_CHARS = 150  # a group name (Django allows 150)
_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _check_editor(router: Router, actor: User) -> None:
    if not router_can_edit(user=actor, router=router):
        raise PermissionDenied("Only someone who may edit this router can change its golden set.")


def golden_case_create(
    *,
    router: Router,
    actor: User,
    message: str,
    expected: str = "",
    expect: str = Expect.RULE,
    history: list[list[str]] | None = None,
    has_image: bool = False,
    time_of_day: str = "",
    user_name: str = "",
    groups: list[str] | None = None,
    workspace_name: str = "",
    workspace_tags: list[str] | None = None,
    source: str = "",
) -> GoldenCase:
    """Add a case. `expected` is a rule name ("" or "(no rule)": the primary model answers),
    with expect="model" a model ref, with expect="tier" one of the router's tier names, with
    expect="refused" the name of the data policy that should refuse it ("": any policy).
    Raises ValidationError keyed by field."""
    _check_editor(router, actor)
    errors: dict[str, str] = {}
    message = (message or "").strip()
    if not message:
        errors["message"] = "Type the message to route."
    elif len(message) > 100_000:
        errors["message"] = "Use at most 100,000 characters."
    if expect not in Expect.values:
        errors["expect"] = "Expect a rule, a tier, a model or a policy's refusal."
    expected = (expected or "").strip()
    if expected == NO_RULE:
        expected = ""
    if expect == Expect.MODEL and "/" not in expected:
        errors["expected"] = "Name the model as provider/model-id."
    if expect == Expect.TIER:
        tiers = router_tier_names(router)
        if not tiers:
            errors["expected"] = "This router has no tiers to expect."
        elif expected not in tiers:
            named = f"“{expected}” is not" if expected else "Name"
            errors["expected"] = f"{named} one of this router's tiers: {', '.join(tiers)}."
    if len(expected) > 300:
        errors["expected"] = "Use at most 300 characters."
    time_of_day = (time_of_day or "").strip()
    if time_of_day and not _HHMM.match(time_of_day):
        errors["time_of_day"] = "Give the time as HH:MM (24-hour)."
    turns = []
    for item in history or []:
        if (
            not isinstance(item, (list, tuple))
            or len(item) != 2
            or item[0] not in ("user", "assistant")
            or not isinstance(item[1], str)
        ):
            errors["history"] = 'Each earlier turn is ["user" or "assistant", text].'
            break
        if len(item[1]) > MAX_TURN_CHARS:
            errors["history"] = f"An earlier turn holds at most {MAX_TURN_CHARS:,} characters."
            break
        turns.append([item[0], item[1]])
    if len(turns) > MAX_HISTORY:
        turns = turns[-MAX_HISTORY:]
    groups = [str(g) for g in groups or []][:MAX_LABELS]
    workspace_tags = [str(t) for t in workspace_tags or []][:MAX_LABELS]
    if any(len(label) > MAX_LABEL_CHARS for label in [*groups, *workspace_tags]):
        errors["groups"] = f"A group or tag name holds at most {MAX_LABEL_CHARS} characters."
    # Checked here, not only in the API's schema: no database can store these characters.
    for name, value in (
        ("message", message),
        ("expected", expected),
        ("history", turns),
        ("user_name", user_name),
        ("groups", groups),
        ("workspace_name", workspace_name),
        ("workspace_tags", workspace_tags),
    ):
        if problem := unstorable_problem(value):
            errors.setdefault(name, problem)
    if router.golden_cases.count() >= MAX_CASES:
        errors["message"] = f"A golden set holds at most {MAX_CASES} cases."
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        case = GoldenCase.objects.create(
            router=router,
            message=message,
            history=turns,
            has_image=bool(has_image),
            time_of_day=time_of_day,
            user_name=(user_name or "").strip()[:150],
            groups=groups,
            workspace_name=(workspace_name or "").strip()[:100],
            workspace_tags=workspace_tags,
            expect=expect,
            expected=expected,
            source=source[:100],
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="golden.add",
            obj=router,
            after={"message": message[:200], "expect": expect, "expected": expected or NO_RULE},
        )
    return case


def router_tier_names(router: Router) -> list[str]:
    """The names of the router's (draft's) tiers, in order."""
    return [str(t.get("name", "")) for t in router.tiers or [] if isinstance(t, dict)]


def golden_case_delete(*, case: GoldenCase, actor: User) -> None:
    _check_editor(case.router, actor)
    with transaction.atomic():
        audit_record(
            actor=actor,
            action="golden.delete",
            obj=case.router,
            before={"message": case.message[:200], "expected": case.expected or NO_RULE},
        )
        case.delete()


def _from_answer(assistant: Message, *, router: Router) -> dict[str, Any]:
    """The case a routed chat answer makes: its user message, the turns before it, whether
    an image came with it, when (in the router's zone), who and in which workspace."""
    earlier = thread_history(thread_id=assistant.thread_id, before=assistant.id)
    if not earlier or earlier[-1].role != "user" or not earlier[-1].content.strip():
        raise ValidationError("The text of this message is no longer kept, so it cannot be added.")
    asked = earlier[-1]
    thread = assistant.thread
    local = asked.created_at.astimezone(ZoneInfo(router.time_zone))
    return {
        "message": asked.content,
        "history": [[m.role, m.content] for m in earlier[:-1]][-MAX_HISTORY:],
        "has_image": any(a.is_image for a in asked.attachments.all()),
        "time_of_day": f"{local:%H:%M}",
        "user_name": thread.owner.username,
        "groups": list(thread.owner.groups.values_list("name", flat=True)),
        "workspace_name": thread.workspace.name,
        "workspace_tags": list(thread.workspace.tags or []),
    }


def golden_case_from_decision(
    *, router: Router, decision: RoutingDecision, actor: User, expect: str = Expect.RULE
) -> GoldenCase:
    """One click on a logged decision: its message, expecting the rule that decided it (or,
    with expect="tier", the tier the turn used)."""
    if decision.router_id != router.pk:
        raise ValidationError("This decision was not made by this router.")
    if expect not in (Expect.RULE, Expect.TIER):
        raise ValidationError({"expect": "Expect the decision's rule or its tier."})
    if expect == Expect.TIER and not decision.tier:
        raise ValidationError({"expect": "This decision used no tier, so expect its rule."})
    assistant = (
        Message.objects.select_related("thread__owner", "thread__workspace")
        .filter(pk=decision.message_id, role="assistant")
        .first()
        if decision.message_id
        else None
    )
    if assistant is None:
        raise ValidationError(
            "The text of this message is not kept (an API call, or a deleted chat), so it "
            "cannot be added."
        )
    # Threads are personal: editing a shared router does not open its users' chats.
    if assistant.thread.owner_id != actor.pk and not actor.is_admin_role:
        raise PermissionDenied("Only the chat's owner can add its messages to a golden set.")
    fields = _from_answer(assistant, router=router)
    return golden_case_create(
        router=router,
        actor=actor,
        expect=expect,
        expected=decision.tier if expect == Expect.TIER else decision.rule_name,
        source=f"decision {str(decision.uid)[:8]}",
        **fields,
    )


def golden_case_from_message(*, message: Message, actor: User) -> GoldenCase:
    """One click on a routed chat answer: its question, expecting the rule that answered."""
    if message.thread.owner_id != actor.pk and not actor.is_admin_role:
        raise PermissionDenied("Only the chat's owner can add its messages to a golden set.")
    router_id = (message.routing or {}).get("router_id")
    router = Router.objects.filter(pk=router_id).first() if router_id else None
    if message.role != "assistant" or router is None:
        raise ValidationError("Only an answer a router chose can be added to its golden set.")
    fields = _from_answer(message, router=router)
    return golden_case_create(
        router=router,
        actor=actor,
        expected=(message.routing or {}).get("rule_name") or "",
        source=f"chat message {message.pk}",
        **fields,
    )


# --- running ------------------------------------------------------------------------------------


def case_input(case: GoldenCase, router: Router) -> RouteInput:
    turns = [Turn(role, text) for role, text in case.history]
    turns.append(Turn("user", case.message, ("image/png",) if case.has_image else ()))
    return route_input_of(
        turns,
        user=case.user_name,
        groups=tuple(case.groups or ()),
        workspace=case.workspace_name,
        workspace_tags=tuple(case.workspace_tags or ()),
        now=at_time_of_day(router, case.time_of_day) if case.time_of_day else timezone.now(),
    )


@dataclass
class CaseResult:
    case: GoldenCase
    passed: bool
    expected: str  # a rule name, NO_RULE, a tier name or a model ref
    actual_rule: str  # a rule name or NO_RULE
    actual_model: str
    actual_tier: str  # the tier the turn resolved, "" when none
    reason: str
    classifier_called: bool = False
    classifier_cached: bool = False
    classifier_error: str = ""
    classifier_cost: Decimal = Decimal("0")

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case.pk,
            "message": self.case.message,
            "expect": self.case.expect,
            "expected": self.expected,
            "actual_rule": self.actual_rule,
            "actual_model": self.actual_model,
            "actual_tier": self.actual_tier,
            "passed": self.passed,
            "reason": self.reason,
            "classifier_called": self.classifier_called,
            "classifier_cached": self.classifier_cached,
            "classifier_error": self.classifier_error,
            "classifier_cost": str(self.classifier_cost),
        }


@dataclass
class GoldenReport:
    label: str
    results: list[CaseResult] = field(default_factory=list)
    error: str = ""
    # Cases the run did not reach: neither passed nor failed (see `golden_run`'s time limit).
    not_run: list[GoldenCase] = field(default_factory=list)
    not_run_reason: str = ""

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    @property
    def ok(self) -> bool:
        return not self.error and self.failed == 0 and not self.not_run

    @property
    def classifier_calls(self) -> int:
        return sum(r.classifier_called and not r.classifier_cached for r in self.results)

    @property
    def classifier_cost(self) -> Decimal:
        return sum((r.classifier_cost for r in self.results), Decimal("0"))

    def matrix(self) -> tuple[list[str], list[tuple[str, list[int]]]]:
        """Expected rule (rows) against actual rule (columns), over the rule-expecting cases."""
        pairs = Counter(
            (r.expected, r.actual_rule) for r in self.results if r.case.expect == Expect.RULE
        )
        labels = sorted({name for pair in pairs for name in pair}, key=lambda n: (n == NO_RULE, n))
        rows = [(e, [pairs.get((e, a), 0) for a in labels]) for e in labels]
        return labels, [(e, counts) for e, counts in rows if any(counts)]

    def to_dict(self) -> dict[str, Any]:
        labels, rows = self.matrix()
        return {
            "tested": self.label,
            "ok": self.ok,
            "error": self.error,
            "passed": self.passed,
            "failed": self.failed,
            "not_run": len(self.not_run),
            "not_run_reason": self.not_run_reason,
            "classifier_calls": self.classifier_calls,
            "classifier_cost": str(self.classifier_cost),
            "confusion": {
                "labels": labels,
                "rows": [{"expected": e, "actual": c} for e, c in rows],
            },
            "cases": [r.to_dict() for r in self.results],
            "not_run_cases": [{"case_id": c.pk, "message": c.message} for c in self.not_run],
        }


def _run_case(evaluator: Evaluator, case: GoldenCase) -> CaseResult:
    evaluated = evaluator.evaluate(case_input(case, evaluator.router))
    decision = evaluated.decision
    if decision is None:  # a data policy refused it: no rule, no model, no classifier call
        if case.expect == Expect.REFUSED:
            expected = case.expected or REFUSED
            passed = not case.expected or evaluated.refused_by == case.expected
        else:
            expected, passed = case.expected or NO_RULE, False
        return CaseResult(
            case=case,
            passed=passed,
            expected=expected,
            actual_rule=REFUSED,
            actual_model="",
            actual_tier="",
            reason=evaluated.refusal,
        )
    actual_rule = decision.rule_name or NO_RULE
    actual_model = decision.model or ""
    actual_tier = decision.tier or ""
    reason = f"{decision.reason} · {evaluated.policy}" if evaluated.policy else decision.reason
    if case.expect == Expect.REFUSED:
        expected, passed = case.expected or REFUSED, False
    elif case.expect == Expect.MODEL:
        expected, passed = case.expected, actual_model == case.expected
    elif case.expect == Expect.TIER:
        expected, passed = case.expected, actual_tier == case.expected
    else:
        expected = case.expected or NO_RULE
        passed = actual_rule == expected
    verdict = decision.classifier
    return CaseResult(
        case=case,
        passed=passed,
        expected=expected,
        actual_rule=actual_rule,
        actual_model=actual_model,
        actual_tier=actual_tier,
        reason=reason,
        classifier_called=decision.classifier_called,
        classifier_cached=bool(verdict and verdict.cached),
        classifier_error=(verdict.error or "") if verdict else "",
        classifier_cost=evaluator.classifier_cost(decision),
    )


def _route_cases(
    *, router: Router, version: int | None, limit: float, clock: clocks.Clock
) -> GoldenReport:
    """Route every case with the draft (`version` None) or that version, starting none once
    `limit` seconds have passed on `clock`: the rest are reported as not run."""
    evaluator = evaluator_for(router, version)
    report = GoldenReport(label=evaluator.label)
    if evaluator.error:
        report.error = evaluator.error
        return report
    start = clock.monotonic()
    for case in router.golden_cases.all():
        if report.not_run or clock.monotonic() - start >= limit:
            report.not_run.append(case)
            continue
        report.results.append(_run_case(evaluator, case))
    if report.not_run:
        report.not_run_reason = f"not run: the run's time limit of {limit:g} s was reached"
    return report


class GoldenRunBusy(Exception):
    """Another run of this router's golden set is in progress."""


BUSY = "This router's golden set is already being run; try again when that run ends."


@contextmanager
def _one_run_per_router(router: Router, limit: float) -> Iterator[None]:
    """Hold the router's run lock in the shared cache, or raise GoldenRunBusy. The lock
    expires by itself should the process die mid-run (a case may overrun the limit by one
    classifier or embedding call); with the cache down there is no lock, and the time limit
    still bounds the run."""
    key, token = f"golden-run:{router.pk}", uuid.uuid4().hex
    try:
        locked = shared_cache.add_now(key, token, ttl=min(limit, 86_400) + 120)
    except CacheDown:
        yield
        return
    if not locked:
        raise GoldenRunBusy(BUSY)
    try:
        yield
    finally:
        try:
            if shared_cache.get_now(key) == token:  # not a later run's, once ours expired
                shared_cache.delete_now(key)
        except CacheDown:
            pass


def golden_run(
    *,
    router: Router,
    version: int | None = None,
    time_limit: float | None = None,
    exclusive: bool = True,
    clock: clocks.Clock | None = None,
) -> GoldenReport:
    """Route every case with the draft (`version` None) or that version. Raises
    evaluation.routing.UnknownVersion for a version the router does not have.

    A run starts no case once `time_limit` seconds (default `settings.GOLDEN_RUN_SECONDS`;
    `math.inf`: none) have passed on `clock`: the rest are reported as not run. With
    `exclusive` (the pages and the API) one run per router at a time: a second raises
    GoldenRunBusy."""
    limit = settings.GOLDEN_RUN_SECONDS if time_limit is None else time_limit
    clock = clock or clocks.current()
    if not exclusive:
        return _route_cases(router=router, version=version, limit=limit, clock=clock)
    with _one_run_per_router(router, limit):
        return _route_cases(router=router, version=version, limit=limit, clock=clock)
