"""The classifier call goes through the provider layer like an answer: pooled adapter, circuit
breaker, one timeout on the injected clock. A dead classifier model opens its breaker, so later
messages skip it at once instead of each waiting out the classifier timeout."""

from __future__ import annotations

import pytest

from engine.types import ClassifierPrompt
from routers.routing import ClassifierTarget, classify
from tests.failover.conftest import candidate, sent_to


def _prompt(n: int) -> ClassifierPrompt:
    return ClassifierPrompt(
        model="fake/judge",
        system="Pick the rule that applies.",
        user=f"Message {n}: is this about contracts?",
        excerpt=f"Message {n}",
        labels=("r1", "none"),
        choices=(("r1", 7),),
        cache_key=f"case-{n}",  # distinct, so no verdict comes from the cache
    )


@pytest.fixture
def target(fake_upstream):
    c = candidate(fake_upstream, "judge")
    return ClassifierTarget(ref=c.ref, model_id=c.model_id, config=c.config, cache_namespace="t")


@pytest.fixture(autouse=True)
def _timeout(settings):
    settings.CLASSIFIER_TIMEOUT = 8.0


async def test_a_classifier_that_answers_picks_the_rule(fake_upstream, target):
    fake_upstream.script(model="judge", reply="r1")
    verdict = await classify(_prompt(1), target)
    assert (verdict.rule_id, verdict.label, verdict.error) == (7, "r1", None)


async def test_a_dead_classifier_opens_its_breaker_and_is_then_skipped_without_a_call(
    fake_upstream, target
):
    fake_upstream.script(model="judge", status=503)
    verdicts = [await classify(_prompt(n), target) for n in range(3)]
    assert all("failed: unavailable" in (v.error or "") for v in verdicts)
    calls = sent_to(fake_upstream, "judge")

    skipped = await classify(_prompt(3), target)
    assert skipped.rule_id is None and "is skipped" in (skipped.error or "")
    assert sent_to(fake_upstream, "judge") == calls, "an open breaker makes no call"


async def test_a_classifier_that_never_answers_times_out_on_the_clock_and_counts_as_a_failure(
    fake_upstream, target, clock
):
    fake_upstream.script(model="judge", delay_first_byte="forever")
    verdicts = [await classify(_prompt(n), target) for n in range(3)]
    assert all("did not answer within 8 s" in (v.error or "") for v in verdicts)
    assert clock.fired == [8.0, 8.0, 8.0], "one classifier timeout per call, nothing else"

    skipped = await classify(_prompt(3), target)
    assert "is skipped" in (skipped.error or "")
    assert clock.fired == [8.0, 8.0, 8.0], "the skipped call waits out no deadline"
