"""Replay: a version (or the draft) routes the logged messages of a period; what changes, at
what cost, with the replay's own classifier cost estimated, capped and counted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from audit.models import AuditEntry
from chat.models import Message
from evaluation.models import ReplayRun, ReplayStatus
from evaluation.replay import replay_estimate, replay_execute
from evaluation.services import replay_start
from routers import services
from tests.api.test_json_api import Api, api, api_as  # noqa: F401

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
START, END = DAY - timedelta(days=1), DAY + timedelta(days=1)


@pytest.fixture
def traffic(private_router, log_message):
    """Four logged messages routed by v2 (Code, Code, no rule, Legal) and one outside."""
    log_message(private_router, "my python bug", "Code", "demo/coder", DAY)
    log_message(private_router, "python crash", "Code", "demo/coder", DAY + timedelta(minutes=1))
    log_message(private_router, "hello", "", "demo/small", DAY + timedelta(minutes=2))
    log_message(
        private_router, "is my contract legal", "Legal", "demo/large", DAY + timedelta(minutes=3)
    )
    log_message(private_router, "old one", "Code", "demo/coder", DAY - timedelta(days=5))
    return private_router


def start(router, **extra):
    extra.setdefault("cap", Decimal("1"))
    return replay_start(router=router, actor=router.owner, start=START, end=END, **extra)


def test_a_replay_counts_what_changes_from_which_rule_and_model_and_what_it_costs(
    traffic, django_capture_on_commit_callbacks
):
    code = traffic.rules.get(name="Code")
    services.rule_update(rule=code, target_model="demo/small", actor=traffic.owner)
    with django_capture_on_commit_callbacks(execute=True):
        run = start(traffic)
    run.refresh_from_db()
    assert run.status == ReplayStatus.DONE and run.label == "the draft"
    assert (run.total, run.processed, run.skipped_no_text) == (4, 4, 0)
    assert run.changed == 2
    assert run.transitions == [
        {
            "from_rule": "Code",
            "to_rule": "Code",
            "from_model": "demo/coder",
            "to_model": "demo/small",
            "count": 2,
        }
    ]
    # 1,000 tokens in and out each: coder $0.005, small $0.00075, large $0.018.
    assert run.cost_before == Decimal("0.005") * 2 + Decimal("0.00075") + Decimal("0.018")
    assert run.cost_after == Decimal("0.00075") * 3 + Decimal("0.018")
    assert run.classifier_calls >= 1 and run.classifier_cost > 0
    assert run.classifier_cost <= run.estimate_cost
    assert AuditEntry.objects.filter(action="replay.start").exists()


def test_the_published_version_replays_unchanged(traffic, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = start(traffic, version=2)
    run.refresh_from_db()
    assert run.status == ReplayStatus.DONE and run.changed == 0 and run.label == "v2"
    assert run.cost_before == run.cost_after


def test_messages_whose_text_is_gone_are_skipped_and_counted(
    traffic, django_capture_on_commit_callbacks
):
    Message.objects.filter(role="user", content="hello").update(content="")
    Message.objects.filter(role="user", content="python crash").delete()
    with django_capture_on_commit_callbacks(execute=True):
        run = start(traffic)
    run.refresh_from_db()
    assert (run.processed, run.skipped_no_text) == (4, 2)


def test_the_estimate_comes_first_and_a_cap_below_it_refuses_the_replay(traffic):
    estimate = replay_estimate(router=traffic, version=None, start=START, end=END)
    assert (estimate.total, estimate.with_text) == (4, 4)
    assert estimate.calls == 4 and estimate.cost > 0 and estimate.classifier == "demo/small"
    with pytest.raises(ValidationError, match="more than the cap"):
        start(traffic, cap=estimate.cost / 2)
    assert not ReplayRun.objects.exists()


def test_a_replay_stops_at_its_cap(traffic, django_capture_on_commit_callbacks):
    estimate = replay_estimate(router=traffic, version=None, start=START, end=END)
    with django_capture_on_commit_callbacks(execute=True):
        run = start(traffic, cap=estimate.cost)
    # The real calls cost less than the estimate: it finishes. A tiny cap after the start
    # (as if prices rose) stops it at the first classifier call.
    ReplayRun.objects.filter(pk=run.pk).update(status=ReplayStatus.QUEUED, cap=Decimal("0.000001"))
    cache.clear()  # the classifier's verdicts were cached by the first run
    run = replay_execute(run_id=run.pk)
    assert run.status == ReplayStatus.CAPPED and run.processed < run.total


def test_bad_periods_versions_and_people_are_refused(traffic, teammate):
    with pytest.raises(ValidationError) as caught:
        replay_start(router=traffic, actor=traffic.owner, start=END, end=START)
    assert "end" in caught.value.message_dict
    with pytest.raises(ValidationError):
        replay_start(router=traffic, actor=traffic.owner, start=START, end=END, version=9)
    with pytest.raises(ValidationError, match="No logged messages"):
        replay_start(router=traffic, actor=traffic.owner, start=END, end=END + timedelta(days=1))
    with pytest.raises(PermissionDenied):
        replay_start(router=traffic, actor=teammate, start=START, end=END)


def test_the_replay_pages_estimate_start_and_poll_progress(
    client_for, traffic, django_capture_on_commit_callbacks
):
    client = client_for(traffic.owner)
    page = client.get(reverse("replay_page", args=[traffic.pk])).content.decode()
    assert "Replay traffic on" in page
    form = {"version": "", "start": "2026-11-19", "end": "2026-11-21", "cap": "1"}
    estimate = client.post(reverse("replay_estimate", args=[traffic.pk]), form).content.decode()
    assert "4 logged messages" in estimate and "classifier call" in estimate
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("replay_start", args=[traffic.pk]), form)
    assert response.status_code == 302
    run = ReplayRun.objects.get()
    detail = client.get(response["Location"]).content.decode()
    assert "Decisions that change" in detail and 'hx-trigger="every 1s"' not in detail
    ReplayRun.objects.filter(pk=run.pk).update(status=ReplayStatus.RUNNING)
    fragment = client.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'hx-trigger="every 1s"' in fragment, "a running replay keeps polling"
    too_small = client.post(reverse("replay_start", args=[traffic.pk]), form | {"cap": "0"})
    assert too_small.status_code == 422 and "more than the cap" in too_small.content.decode()


def test_the_api_estimates_starts_and_reads_a_replay(
    api: Api,  # noqa: F811
    traffic,
    django_capture_on_commit_callbacks,
):
    body = {"start": START.isoformat(), "end": END.isoformat(), "cap": "1"}
    estimate = api.post(f"/routers/{traffic.pk}/replays/estimate", body).json()
    assert estimate["total"] == 4 and estimate["classifier_calls"] == 4
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(f"/routers/{traffic.pk}/replays", body)
    assert created.status_code == 201
    run = api.get(f"/routers/{traffic.pk}/replays/{created.json()['id']}").json()
    assert run["status"] == "done" and run["changed"] == 0
    assert api.post(f"/routers/{traffic.pk}/replays", body | {"cap": "0"}).status_code == 422
    assert api.get(f"/routers/{traffic.pk}/replays/999").status_code == 404
