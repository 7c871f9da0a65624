"""Golden sets: cases, runs on the draft or a version, the confusion matrix, classifier cost,
one-click cases from decisions and chat answers, the pages, the JSON API and `router_test`."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.urls import reverse

from audit.models import AuditEntry
from evaluation.golden import NO_RULE, golden_case_create, golden_case_from_decision, golden_run
from evaluation.models import GoldenCase
from routers import services
from tests.api.test_json_api import Api, api, api_as  # noqa: F401

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def add(router, message, expected="", **extra):
    return golden_case_create(
        router=router, actor=router.owner, message=message, expected=expected, **extra
    )


@pytest.fixture
def golden(private_router):
    add(private_router, "my python bug", "Code")
    add(private_router, "is this contract legal under the law?", "Legal")
    add(private_router, "look at this", "Images", has_image=True)
    add(private_router, "hello there", "")
    add(private_router, "my python bug", "demo/coder", expect="model")
    return private_router


def test_every_case_passes_on_a_router_that_routes_as_expected(golden):
    report = golden_run(router=golden)
    assert (report.passed, report.failed, report.ok) == (5, 0, True)
    assert report.label == "the draft"
    by_message = {r.case.message: r for r in report.results if r.case.expect == "rule"}
    assert by_message["hello there"].actual_rule == NO_RULE
    legal = by_message["is this contract legal under the law?"]
    assert legal.classifier_called and legal.actual_model == "demo/large"
    # One classifier call at the demo classifier's catalog price (the primary, demo/small).
    assert report.classifier_calls >= 1 and report.classifier_cost > 0
    assert report.classifier_cost == sum(r.classifier_cost for r in report.results)


def test_a_broken_draft_fails_cases_and_the_matrix_shows_where(golden):
    owner = golden.owner
    code = golden.rules.get(name="Code")
    services.rule_update(
        rule=code,
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["rust"]}],
        actor=owner,
    )
    report = golden_run(router=golden)
    assert report.failed == 2 and not report.ok
    failed = {(r.expected, r.actual_rule) for r in report.results if not r.passed}
    assert ("Code", NO_RULE) in failed and ("demo/coder", NO_RULE) in failed
    labels, rows = report.matrix()
    assert labels[-1] == NO_RULE
    matrix = dict(rows)
    assert matrix["Code"][labels.index(NO_RULE)] == 1
    assert matrix[NO_RULE][labels.index(NO_RULE)] == 1

    # The published version still routes as it did.
    assert golden_run(router=golden, version=2).ok


def test_context_fields_reach_the_rules(private_router):
    owner = private_router.owner
    services.rule_create(
        router=private_router,
        name="Night",
        kind="calculated",
        conditions=[
            {"property": "time_of_day", "operator": "between", "value": ["22:00", "06:00"]}
        ],
        target_model="demo/small",
        actor=owner,
    )
    services.rule_create(
        router=private_router,
        name="Team",
        kind="calculated",
        conditions=[{"property": "workspace_tags", "operator": "contains_any", "value": ["vip"]}],
        target_model="demo/large",
        actor=owner,
    )
    add(private_router, "what time is it", "Night", time_of_day="23:30")
    add(private_router, "what time is it", NO_RULE, time_of_day="12:00")
    # At noon: a case without a time is judged at the clock's, and after 22:00 "Night" (the
    # first rule) would answer before "Team" is reached.
    add(
        private_router,
        "hi",
        "Team",
        workspace_tags=["vip"],
        workspace_name="W",
        time_of_day="12:00",
    )
    assert golden_run(router=private_router).ok


def test_bad_cases_are_refused_with_the_field(private_router, teammate):
    with pytest.raises(ValidationError) as caught:
        add(private_router, " ", "Code", time_of_day="25:00")
    assert set(caught.value.message_dict) == {"message", "time_of_day"}
    with pytest.raises(ValidationError):
        add(private_router, "x", "not-a-ref", expect="model")
    with pytest.raises(PermissionDenied):
        golden_case_create(router=private_router, actor=teammate, message="x")
    assert not GoldenCase.objects.exists()


def test_a_case_comes_from_a_logged_decision_in_one_click(private_router, log_message):
    when = datetime(2026, 11, 20, 23, 15, tzinfo=UTC)
    decision = log_message(
        private_router, "my python bug again", "Code", "demo/coder", when, earlier=("hello",)
    )
    case = golden_case_from_decision(
        router=private_router, decision=decision, actor=private_router.owner
    )
    assert (case.message, case.expected, case.expect) == ("my python bug again", "Code", "rule")
    assert case.history == [["user", "hello"], ["assistant", "ok"]]
    assert case.workspace_name == "Support" and case.workspace_tags == ["help"]
    assert case.user_name == private_router.owner.username
    assert case.source.startswith("decision ")
    assert AuditEntry.objects.filter(action="golden.add").exists()


def test_a_decision_whose_text_is_gone_cannot_be_added(private_router, log_message):
    decision = log_message(
        private_router, "secret", "Code", "demo/coder", datetime(2026, 11, 20, tzinfo=UTC)
    )
    decision.message_id = None  # an API call: no text kept
    with pytest.raises(ValidationError, match="not kept"):
        golden_case_from_decision(
            router=private_router, decision=decision, actor=private_router.owner
        )


# --- pages --------------------------------------------------------------------------------------


def test_the_golden_page_adds_runs_and_removes_cases(client_for, golden, log_message):
    client = client_for(golden.owner)
    page = client.get(reverse("golden_page", args=[golden.pk])).content.decode()
    assert "Golden set of" in page and "Run 5 cases" in page

    response = client.post(
        reverse("golden_add", args=[golden.pk]),
        {"message": "fix my python", "expect": "rule", "expected": "Code"},
    )
    assert response.status_code == 302
    bad = client.post(reverse("golden_add", args=[golden.pk]), {"message": "", "expect": "rule"})
    assert bad.status_code == 422

    run = client.post(reverse("golden_run", args=[golden.pk]), {"version": ""}, **HTMX)
    html = run.content.decode()
    assert "6 passed, 0 failed" in html and "expected ↓ / got →" in html
    v1 = client.post(reverse("golden_run", args=[golden.pk]), {"version": "1"}, **HTMX)
    assert "failed" in v1.content.decode() and "on v1" in v1.content.decode()
    assert client.post(reverse("golden_run", args=[golden.pk]), {"version": "9"}).status_code == 404

    case = golden.golden_cases.last()
    client.post(reverse("golden_delete", args=[golden.pk, case.pk]))
    assert golden.golden_cases.count() == 5

    decision = log_message(golden, "python crash", "Code", "demo/coder", datetime.now(UTC))
    page = client.get(reverse("golden_page", args=[golden.pk])).content.decode()
    assert reverse("golden_from_decision", args=[golden.pk, decision.pk]) in page
    client.post(reverse("golden_from_decision", args=[golden.pk, decision.pk]))
    assert golden.golden_cases.filter(message="python crash").exists()


def test_people_who_may_only_use_the_router_run_but_do_not_change_it(
    client_for, shared_router, teammate
):
    add(shared_router, "my python bug", "Code")
    client = client_for(teammate)
    page = client.get(reverse("golden_page", args=[shared_router.pk])).content.decode()
    assert "Add a case" not in page
    run = client.post(reverse("golden_run", args=[shared_router.pk]), {}, **HTMX)
    assert "1 passed" in run.content.decode()
    denied = client.post(reverse("golden_add", args=[shared_router.pk]), {"message": "x"})
    assert denied.status_code == 403


def test_a_chat_answer_is_added_from_its_badge(client_for, private_router, log_message):
    decision = log_message(
        private_router, "is my contract legal", "Legal", "demo/large", datetime.now(UTC)
    )
    client = client_for(private_router.owner)
    response = client.post(reverse("golden_from_message", args=[decision.message_id]))
    assert response.status_code == 302
    case = private_router.golden_cases.get()
    assert (case.message, case.expected) == ("is my contract legal", "Legal")
    assert case.source == f"chat message {decision.message_id}"


# --- API and command ------------------------------------------------------------------------------


def test_the_api_lists_adds_and_runs_cases(api: Api, golden):  # noqa: F811
    url = f"/routers/{golden.pk}/golden"
    assert len(api.get(url).json()) == 5
    created = api.post(
        url, {"message": "my python", "expected": "Code", "history": [["user", "hi"]]}
    )
    assert created.status_code == 201 and created.json()["history"] == [["user", "hi"]]
    assert api.post(url, {"message": "x", "time_of_day": "9am"}).status_code == 422
    report = api.post(f"{url}/run", {}).json()
    assert report["ok"] and report["passed"] == 6 and report["tested"] == "the draft"
    assert report["confusion"]["labels"][-1] == NO_RULE
    assert api.post(f"{url}/run", {"version": 1}).json()["ok"] is False
    assert api.post(f"{url}/run", {"version": 77}).status_code == 404
    assert api.delete(f"{url}/{created.json()['id']}").status_code == 204
    assert api.delete(f"{url}/{created.json()['id']}").status_code == 404


def test_router_test_exits_non_zero_on_a_failing_case(golden):
    out = io.StringIO()
    call_command("router_test", golden.slug, stdout=out)
    assert "5 passed, 0 failed" in out.getvalue()

    with pytest.raises(SystemExit) as exited:
        call_command("router_test", golden.slug, "--version", "1", stdout=io.StringIO())
    assert exited.value.code == 1

    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("router_test", golden.slug, "--version", "1", "--json", stdout=out)
    assert json.loads(out.getvalue())["failed"] > 0


def test_router_test_refuses_unknown_routers_and_versions(golden):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError) as unknown:
        call_command("router_test", "nope")
    assert unknown.value.returncode == 2
    with pytest.raises(CommandError) as version:
        call_command("router_test", golden.slug, "--version", "40")
    assert version.value.returncode == 2


def test_classifier_cost_is_priced_at_the_catalog(golden):
    report = golden_run(router=golden)
    legal = next(r for r in report.results if r.expected == "Legal")
    model = golden.primary_model  # the classifier defaults to the primary
    assert legal.classifier_cost > Decimal("0")
    assert legal.classifier_cost <= model.cost(10_000, 100)
