"""Routing a long message never holds the event loop (issue 11, item 3): its rules are
evaluated in a worker thread while the loop goes on serving other requests. Checked by
behaviour, not by time: the evaluation waits for a signal that only another task on the loop
can send, which it could not if the evaluation ran on the loop."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import pytest

import routers.routing as routing
from engine import ModelInfo, RouteInput, RouterSpec, RuleSpec, compile_router

MODELS = {ref: ModelInfo(ref, ref, 1_000_000, True) for ref in ("a/primary", "a/code")}


def compiled_router():
    rule = RuleSpec(
        1,
        "Code",
        "calculated",
        "a/code",
        conditions=(
            {"property": "keywords", "operator": "contains_any", "value": ["w " * 95 + "x7"]},
        ),
    )
    return compile_router(RouterSpec(1, "a/primary", rules=(rule,), models=MODELS))


def long_input(tail: str = "x7") -> RouteInput:
    text = "w " * (routing.EVALUATE_IN_THREAD_CHARS // 2 + 10) + tail
    return RouteInput(text, now=datetime(2026, 3, 11, 12, tzinfo=UTC))


@pytest.fixture
def gated_evaluate(monkeypatch):
    """Evaluation that first waits until a task on the event loop has run."""
    loop_ran = threading.Event()
    seen: dict[str, object] = {}
    real = routing.evaluate

    def evaluate(compiled, inp, **kwargs):
        seen["thread"] = threading.current_thread()
        # A deadlock guard, not a timing assertion: if this ran on the loop, the task that
        # sets the event could never run, and the test fails below instead of hanging.
        seen["loop_ran_meanwhile"] = loop_ran.wait(timeout=10)
        return real(compiled, inp, **kwargs)

    monkeypatch.setattr(routing, "evaluate", evaluate)
    return loop_ran, seen


async def test_a_long_message_is_evaluated_while_the_loop_serves_another_task(gated_evaluate):
    loop_ran, seen = gated_evaluate

    async def another_request() -> None:
        loop_ran.set()

    decision, _ = await asyncio.gather(
        routing.aroute(compiled_router(), long_input(), target=None), another_request()
    )
    assert seen["loop_ran_meanwhile"] is True
    assert seen["thread"] is not threading.main_thread()
    assert decision.rule_id == 1  # and the answer is the same as on the loop


async def test_the_decision_is_the_same_either_way():
    compiled = compiled_router()
    for tail, rule_id in (("x7", 1), ("x8", None)):
        offloaded = await routing.aroute(compiled, long_input(tail), target=None)
        assert offloaded.rule_id == rule_id


async def test_a_short_message_stays_on_the_loop(monkeypatch):
    calls: list[threading.Thread] = []
    real = routing.evaluate

    def evaluate(compiled, inp, **kwargs):
        calls.append(threading.current_thread())
        return real(compiled, inp, **kwargs)

    monkeypatch.setattr(routing, "evaluate", evaluate)
    inp = RouteInput("w x7", now=datetime(2026, 3, 11, 12, tzinfo=UTC))
    await routing.aroute(compiled_router(), inp, target=None)
    assert calls == [threading.main_thread()]
