"""Replay: route a router's logged messages of a period with its draft or a version.

Only routing runs — the answering models are never called. A replay reads each logged
decision's chat message and the turns before it, exactly as they are stored now: a message
whose text is gone (the chat was deleted, or it came through /v1, whose text is never stored)
is skipped and counted. Decisions a manual override made bypassed the rules and are left out.

What it reports: how many decisions change and from which rule/model to which, the cost of the
logged tokens at catalog prices with the old and the new model, and the classifier calls the
replay made and their cost. That cost is estimated before it starts (every message that has
text, when the version has LLM rules, priced at the classifier's catalog price) and a replay
whose estimate exceeds its cap is refused; one that reaches the cap while running stops there.
Runs as a Celery task (evaluation/tasks.py), saving its progress as it goes.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from chat.models import Message
from chat.services import thread_history
from decisions.models import RoutingDecision
from evaluation.models import ReplayRun, ReplayStatus
from evaluation.routing import Evaluator, UnknownVersion, evaluator_for
from providers.models import CatalogModel
from routers.models import Router, RuleKind
from routers.routing import Turn, route_input_of

log = logging.getLogger(__name__)

MAX_DAYS = 92
# Logged decisions live between these years; outside them a date's time-zone arithmetic
# overflows (0001-01-01 at +14:00 is before datetime.min in UTC).
EARLIEST_YEAR, LATEST_YEAR = 1970, 9998
_EARLIEST = datetime(EARLIEST_YEAR, 1, 1, tzinfo=UTC)
_LATEST = datetime(LATEST_YEAR, 12, 31, tzinfo=UTC)
PERIOD_RANGE = f"Pick dates between {EARLIEST_YEAR} and {LATEST_YEAR}."


def period_problem(start: datetime, end: datetime) -> str:
    """Why [start, end) is not a period to replay or estimate, or "" (its length aside)."""
    try:
        if not (_EARLIEST <= start <= _LATEST and _EARLIEST <= end <= _LATEST):
            return PERIOD_RANGE
    except OverflowError:
        return PERIOD_RANGE
    return ""


PROGRESS_EVERY = 10
# A classifier prompt's fixed part (instructions, labels) in tokens, and its answer's tokens.
_PROMPT_TOKENS = 250
_ANSWER_TOKENS = 8
_EXCERPT_CHARS = 4_000


def replay_decisions(
    *, router: Router, start: datetime, end: datetime
) -> QuerySet[RoutingDecision]:
    return RoutingDecision.objects.filter(
        router=router, created_at__gte=start, created_at__lt=end, overridden=False
    ).order_by("created_at", "id")


@dataclass
class Estimate:
    total: int
    with_text: int
    calls: int
    cost: Decimal
    classifier: str

    @property
    def without_text(self) -> int:
        return self.total - self.with_text


def _answers(message_ids: list[int]) -> dict[int, Message]:
    rows = Message.objects.filter(pk__in=message_ids, role="assistant").select_related(
        "thread__owner", "thread__workspace"
    )
    return {m.pk: m for m in rows}


def _asked_text(assistant: Message) -> str:
    asked = (
        Message.objects.filter(thread_id=assistant.thread_id, role="user", id__lt=assistant.id)
        .order_by("-id")
        .values_list("content", flat=True)
        .first()
    )
    return asked or ""


def replay_estimate(
    *, router: Router, version: int | None, start: datetime, end: datetime
) -> Estimate:
    """How many logged messages the period holds, how many still have their text, and the
    most the classifier calls of a replay would cost (every message with text classified).
    Raises ValidationError for a period outside the years logs can hold."""
    if problem := period_problem(start, end):
        raise ValidationError({"start": problem})
    evaluator = evaluator_for(router, version)
    decisions = list(
        replay_decisions(router=router, start=start, end=end).values_list("message_id", flat=True)
    )
    answers = _answers([m for m in decisions if m])
    texts = [_asked_text(answers[m]) for m in decisions if m in answers]
    texts = [t for t in texts if t.strip()]
    model = evaluator.classifier_model()
    has_llm = evaluator.compiled is not None and any(
        r.kind == RuleKind.LLM and r.enabled for r in evaluator.compiled.rules
    )
    calls = len(texts) if has_llm and model is not None else 0
    cost = Decimal("0")
    if calls and model is not None and evaluator.compiled is not None:
        described = sum(
            len(r.description) for r in evaluator.compiled.rules if r.kind == RuleKind.LLM
        )
        tokens_in = sum(
            _PROMPT_TOKENS + (described + min(len(t), _EXCERPT_CHARS)) // 4 for t in texts
        )
        cost = model.cost(tokens_in, _ANSWER_TOKENS * calls)
    return Estimate(
        total=len(decisions),
        with_text=len(texts),
        calls=calls,
        cost=cost,
        classifier=model.ref if model is not None else "",
    )


# A logged message that was refused, and a replayed one a data policy refuses, by what
# refused it (replays apply today's policies, not budgets: see evaluation/routing.py).
REFUSED_LABELS = {"policy": "(refused by a policy)", "budget": "(refused by a budget)"}


def _price(models: dict[str, CatalogModel], ref: str, tokens_in: int, tokens_out: int) -> Decimal:
    model = models.get(ref)
    return model.cost(tokens_in, tokens_out) if model is not None else Decimal("0")


def _input_for(decision: RoutingDecision, assistant: Message) -> Any:
    earlier = thread_history(thread_id=assistant.thread_id, before=assistant.id)
    turns = [
        Turn(m.role, m.content, tuple(a.mime_type for a in m.attachments.all())) for m in earlier
    ]
    user = decision.user
    workspace = assistant.thread.workspace
    return route_input_of(
        turns,
        user=user.username if user is not None else "",
        groups=tuple(user.groups.values_list("name", flat=True)) if user is not None else (),
        workspace=workspace.name,
        workspace_tags=tuple(workspace.tags or ()),
        now=decision.created_at,
    )


def replay_execute(*, run_id: int) -> ReplayRun:
    """Run (or finish) a replay. Idempotent: a finished run is returned as it is; a run the
    worker lost midway starts over from its first message."""
    run = ReplayRun.objects.select_related("router").get(pk=run_id)
    if run.finished:
        return run
    run.status = ReplayStatus.RUNNING
    run.processed = run.skipped_no_text = run.changed = run.classifier_calls = 0
    run.cost_before = run.cost_after = run.classifier_cost = Decimal("0")
    run.save()
    try:
        evaluator = evaluator_for(run.router, run.version_number)
    except UnknownVersion as exc:
        return _finish(run, ReplayStatus.FAILED, error=str(exc))
    if evaluator.error:
        return _finish(run, ReplayStatus.FAILED, error=evaluator.error)
    try:
        return _replay(run, evaluator)
    except Exception as exc:  # a failed replay says so on its page instead of spinning
        log.exception("replay %s failed", run.pk)
        return _finish(run, ReplayStatus.FAILED, error=f"The replay failed: {exc}")


def _replay(run: ReplayRun, evaluator: Evaluator) -> ReplayRun:
    prices = {m.ref: m for m in CatalogModel.objects.select_related("provider")}
    decisions = list(
        replay_decisions(router=run.router, start=run.start, end=run.end).select_related("user")
    )
    run.total = len(decisions)
    answers = _answers([d.message_id for d in decisions if d.message_id])
    transitions: Counter[tuple[str, str, str, str]] = Counter()
    status = ReplayStatus.DONE
    for index, decision in enumerate(decisions, start=1):
        assistant = answers.get(decision.message_id or 0)
        if assistant is None or not _asked_text(assistant).strip():
            run.skipped_no_text += 1
        else:
            evaluated = evaluator.evaluate(
                _input_for(decision, assistant), workspace_id=decision.workspace_id
            )
            new = evaluated.decision
            new_model = evaluated.model
            tokens = (decision.input_tokens, decision.output_tokens)
            run.cost_before += _price(prices, decision.model_ref, *tokens)
            run.cost_after += _price(prices, new_model, *tokens)
            if new is not None:
                verdict = new.classifier
                if new.classifier_called and not (verdict and verdict.cached):
                    run.classifier_calls += 1
                run.classifier_cost += evaluator.classifier_cost(new)
            old_rule = REFUSED_LABELS.get(decision.source, decision.rule_name or "")
            new_rule = (new.rule_name or "") if new is not None else REFUSED_LABELS["policy"]
            if old_rule != new_rule or decision.model_ref != new_model:
                run.changed += 1
                transitions[(old_rule, new_rule, decision.model_ref, new_model)] += 1
        run.processed = index
        if run.classifier_cost >= run.cap > 0 or (run.cap == 0 and run.classifier_cost > 0):
            status = ReplayStatus.CAPPED
            break
        if index % PROGRESS_EVERY == 0:
            run.transitions = _transitions(transitions)
            run.save()
    run.transitions = _transitions(transitions)
    return _finish(run, status)


def _transitions(counter: Counter[tuple[str, str, str, str]]) -> list[dict[str, Any]]:
    return [
        {"from_rule": a, "to_rule": b, "from_model": c, "to_model": d, "count": n}
        for (a, b, c, d), n in counter.most_common()
    ]


def _finish(run: ReplayRun, status: str, *, error: str = "") -> ReplayRun:
    run.status = status
    run.error = error
    run.finished_at = timezone.now()
    run.save()
    return run
