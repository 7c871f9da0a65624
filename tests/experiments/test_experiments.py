"""Experiments: a router's traffic split between its published version and another, sticky per
thread (per user on /v1), decisions recording the arm, the arms compared, and ending by
publishing the variant or keeping the control — audited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from audit.models import AuditEntry
from chat.models import Thread
from decisions.models import RoutingDecision
from experiments.assign import arm_of
from experiments.models import Experiment
from experiments.services import experiment_end, experiment_start
from planning.planner import prepare
from routers import services as router_services
from tests.chat.routed import HX, regenerate, routed_thread_for, send

CODE = "My python function throws a stack trace"


@pytest.fixture
def routed(owner, demo_catalog):
    return routed_thread_for(owner)


@pytest.fixture
def router(routed):
    return routed.workspace.router


def _draft_sends_code_to_large(router):
    rule = router.rules.get(name="Code questions")
    router_services.rule_update(rule=rule, target_model="demo/large", actor=router.owner)


def _thread_in(arm, experiment, first):
    """A thread of `first`'s workspace that falls in `arm`."""
    for _ in range(200):
        thread = Thread.objects.create(workspace=first.workspace, owner=first.owner)
        if (
            arm_of(
                experiment_id=experiment.pk, key=f"thread:{thread.pk}", percent=experiment.percent
            )
            == arm
        ):
            return thread
    raise AssertionError(f"no thread fell in the {arm} arm")


def test_arms_are_stable_and_split_by_the_percentage():
    keys = [f"thread:{i}" for i in range(4000)]
    variant = [k for k in keys if arm_of(experiment_id=7, key=k, percent=10) == "variant"]
    assert 300 < len(variant) < 500, "about 10%"
    assert all(arm_of(experiment_id=7, key=k, percent=10) == "variant" for k in variant)
    again = [k for k in keys if arm_of(experiment_id=8, key=k, percent=10) == "variant"]
    assert set(again) != set(variant), "another experiment splits otherwise"


def test_starting_from_the_draft_publishes_it_for_the_experiment_only(owner, router):
    live = router.published_version
    _draft_sends_code_to_large(router)
    experiment = experiment_start(router=router, actor=owner, variant="draft", percent=10)
    router.refresh_from_db()
    assert router.published_version == live, "traffic outside the experiment is unchanged"
    assert experiment.control == live
    assert experiment.variant.number == live.number + 1
    assert experiment.percent == 10 and experiment.running
    entry = AuditEntry.objects.get(action="experiment.start")
    assert entry.actor == owner and entry.changes["percent"] == [None, 10]
    with pytest.raises(ValidationError, match="already running"):
        experiment_start(router=router, actor=owner, variant="1", percent=10)


def test_bad_starts_are_refused_and_change_nothing(owner, teammate, router):
    versions_before = router.versions.count()
    with pytest.raises(ValidationError, match="routes exactly like"):
        experiment_start(router=router, actor=owner, variant="draft", percent=10)
    with pytest.raises(ValidationError, match="is the live version"):
        experiment_start(
            router=router, actor=owner, variant=str(router.published_version.number), percent=10
        )
    with pytest.raises(ValidationError, match="Pick the draft"):
        experiment_start(router=router, actor=owner, variant="99", percent=10)
    _draft_sends_code_to_large(router)
    for percent in (0, 100, -5):
        with pytest.raises(ValidationError, match="between 1% and 99%"):
            experiment_start(router=router, actor=owner, variant="draft", percent=percent)
    # The demo router is shared: a member may use it, not experiment with it.
    with pytest.raises(PermissionDenied):
        experiment_start(router=router, actor=teammate, variant="draft", percent=10)
    assert not Experiment.objects.exists() and router.versions.count() == versions_before


def test_each_thread_routes_with_its_arm_and_decisions_record_it(
    client_for, owner, routed, router, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _draft_sends_code_to_large(router)
    experiment = experiment_start(router=router, actor=owner, variant="draft", percent=50)
    control = _thread_in("control", experiment, routed)
    variant = _thread_in("variant", experiment, routed)
    client = client_for(owner)
    for _ in range(2):  # sticky: the same arm every time
        a = send(client, capture, control, CODE)
        b = send(client, capture, variant, CODE)
        assert a.model_ref == "demo/coder" and b.model_ref == "demo/large"
    assert b.routing["experiment"] == {
        "id": experiment.pk,
        "name": "",
        "arm": "variant",
        "version": experiment.variant.number,
    }
    page = client.get(reverse("thread", args=[variant.pk])).content.decode()
    assert "this chat is in the variant arm" in page
    rows = RoutingDecision.objects.filter(experiment_id=experiment.pk)
    assert sorted(rows.order_by().values_list("arm", "router_version").distinct()) == [
        ("control", experiment.control.number),
        ("variant", experiment.variant.number),
    ]
    assert rows.count() == 4


def test_on_v1_the_arm_is_the_user_s(owner, teammate, router, demo_catalog):
    _draft_sends_code_to_large(router)
    experiment = experiment_start(router=router, actor=owner, variant="draft", percent=50)
    for user in (owner, teammate):
        arm = arm_of(experiment_id=experiment.pk, key=f"user:{user.pk}", percent=50)
        version = experiment.variant if arm == "variant" else experiment.control
        for _ in range(2):
            # What a /v1 call for `router:demo` prepares (and keeps for the user's next calls).
            prepared = prepare(user=user, name="router:demo")
            assert prepared.experiment["arm"] == arm
            assert prepared.router.version == version.number
            target = prepared.router.snapshot_rules[0]
            assert prepared.compiled is not None and target is not None


def test_the_arms_are_compared_and_ending_publishes_the_variant(
    client_for, owner, routed, router, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _draft_sends_code_to_large(router)
    client = client_for(owner)
    response = client.post(
        reverse("experiment_start", args=[router.pk]), {"variant": "draft", "percent": "50"}
    )
    assert response.status_code == 302
    experiment = Experiment.objects.get()
    control = _thread_in("control", experiment, routed)
    variant = _thread_in("variant", experiment, routed)
    answer = send(client, capture, control, CODE)
    regenerate(client, capture, answer, "demo/small")  # an override in the control arm
    answer = send(client, capture, variant, CODE)
    client.post(reverse("message_feedback", args=[answer.pk]), {"rating": "up"}, **HX)

    page = client.get(reverse("router_experiments", args=[router.pk])).content.decode()
    assert "Publish v2 (the variant)" in page and "Keep the published v1" in page
    table = page[page.index("data-arms") : page.index("</table>", page.index("data-arms"))]
    assert "Override rate" in table and "100.0%" in table and "👍 1" in table

    client.post(reverse("experiment_end", args=[router.pk, experiment.pk]), {"outcome": "variant"})
    experiment.refresh_from_db()
    router.refresh_from_db()
    assert experiment.outcome == "variant" and not experiment.running
    assert router.published_version == experiment.variant
    assert AuditEntry.objects.filter(action="experiment.end", actor=owner).exists()
    after = send(client, capture, control, CODE)
    assert after.model_ref == "demo/large", "every thread now routes with the winner"
    assert "experiment" not in after.routing
    detail = client.get(reverse("experiment_detail", args=[router.pk, experiment.pk]))
    assert detail.status_code == 200 and "published the variant" in detail.content.decode()


def test_ending_by_keeping_the_control_changes_no_publication(owner, router):
    _draft_sends_code_to_large(router)
    live = router.published_version
    experiment = experiment_start(router=router, actor=owner, variant="draft", percent=10)
    experiment_end(experiment=experiment, actor=owner, publish_variant=False)
    router.refresh_from_db()
    assert router.published_version == live and experiment.outcome == "control"
    with pytest.raises(ValidationError, match="ended already"):
        experiment_end(experiment=experiment, actor=owner, publish_variant=True)


def test_only_editors_see_the_experiments_page(client_for, teammate, outsider, router):
    assert (
        client_for(teammate).get(reverse("router_experiments", args=[router.pk])).status_code == 403
    )
    response = client_for(router.owner).post(
        reverse("experiment_start", args=[router.pk]), {"variant": "draft", "percent": "abc"}
    )
    assert response.status_code == 422
    assert not Experiment.objects.exists()
