"""The surfaces added after issue 11 (versions, tiers, semantic rules, golden sets, replays,
experiments, preferences) against the same hostile input: every bad input a clear 4xx that
changes nothing, never a 500; the cost of embedding what a form posts is bounded; a router
editor cannot read a colleague's chat through the golden set."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client
from django.urls import reverse

from chat.models import Message, Thread, Workspace
from decisions.models import RoutingDecision
from engine.limits import MAX_EXAMPLE_CHARS_PER_ROUTER, MAX_EXAMPLES_PER_ROUTER
from engine.semantic import MAX_EXAMPLES
from evaluation.golden import MAX_TURN_CHARS, golden_case_create, golden_case_from_decision
from evaluation.models import GoldenCase
from routers import semantic, services
from routers.models import Router, Rule
from routerweb.http import whole_number
from tests.routers.conftest import add_rules

LONE = "\\ud800"  # as JSON spells it: a lone surrogate once parsed
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def router(make_router):
    router = make_router(slug="hostile")
    add_rules(router)
    return router


@pytest.fixture
def api(token_for, owner, demo_catalog):
    token = token_for(owner)
    client = Client(raise_request_exception=False)

    def call(method: str, path: str, raw: str):
        return getattr(client, method)(
            f"/api{path}",
            data=raw,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )

    return call


@pytest.fixture
def ui(client_for, owner, demo_catalog):
    client = client_for(owner)
    client.raise_request_exception = False
    return client


def _state() -> tuple:
    return (
        list(Router.objects.values_list("name", "description", "version")),
        list(Rule.objects.values_list("name", "examples", "conditions")),
        GoldenCase.objects.count(),
    )


# --- lone surrogates in JSON bodies: pydantic lets them through fields without constraints ---


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("post", "/routers", '{"name": "a%s", "primary_model": "demo/small"}'),
        ("patch", "/routers/{id}", '{"description": "a%s"}'),
        (
            "post",
            "/routers/{id}/rules",
            '{"name": "S", "kind": "semantic", "examples": ["a%s", "b"], '
            '"target_model": "demo/small"}',
        ),
        (
            "post",
            "/routers/{id}/rules",
            '{"name": "K", "kind": "calculated", "target_model": "demo/small", "conditions": '
            '[{"property": "keywords", "operator": "contains_any", "value": ["a%s"]}]}',
        ),
        ("post", "/routers/{id}/golden", '{"message": "a", "history": [["user", "x%s"]]}'),
        ("post", "/routers/{id}/golden", '{"message": "a", "groups": ["x%s"]}'),
    ],
)
def test_a_lone_surrogate_anywhere_in_a_json_api_body_is_a_422(api, router, method, path, body):
    before = _state()
    response = api(method, path.format(id=router.pk), body % LONE)
    assert response.status_code == 422, response.content[:300]
    assert "surrogate" in json.dumps(response.json())
    assert _state() == before


def test_services_refuse_a_lone_surrogate_too(router, owner):
    with pytest.raises(ValidationError, match="surrogate"):
        services.router_create(
            owner=owner, actor=owner, name="a\ud800", slug="s", primary_model="demo/small"
        )
    with pytest.raises(ValidationError, match="surrogate"):
        services.rule_create(
            router=router,
            name="S",
            kind="semantic",
            examples=["refund please", "money back\ud800"],
            target_model="demo/small",
            actor=owner,
        )
    with pytest.raises(ValidationError, match="surrogate"):
        golden_case_create(router=router, actor=owner, message="a", history=[["user", "\ud800"]])
    with pytest.raises(ValidationError, match="NUL"):
        golden_case_create(router=router, actor=owner, message="a", groups=["ops\x00"])
    assert not GoldenCase.objects.exists()


def test_an_earlier_turn_of_a_golden_case_is_capped(router, owner):
    with pytest.raises(ValidationError) as caught:
        golden_case_create(
            router=router, actor=owner, message="a", history=[["user", "x" * (MAX_TURN_CHARS + 1)]]
        )
    assert "history" in caught.value.message_dict
    assert not GoldenCase.objects.exists()


# --- ids and numbers in forms: "²".isdigit() is True, int("²") is a ValueError --------------


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "-1", "1.5"])
def test_whole_number_takes_only_what_an_id_column_holds(value):
    assert whole_number(value) is None


def test_whole_number_reads_an_id():
    assert whole_number(" 42 ") == 42 and whole_number(7) == 7 and whole_number(True) is None


@pytest.mark.parametrize("value", ["²", "9" * 5000])
@pytest.mark.parametrize(
    ("method", "url", "field"),
    [
        ("get", "router_compare", "old"),
        ("post", "rule_examples_check", "rule_id"),
        ("post", "rule_suggest_threshold", "rule_id"),
        ("post", "golden_run", "version"),
        ("post", "experiment_start", "percent"),
        ("post", "experiment_start", "variant"),
    ],
)
def test_a_number_that_is_not_one_is_never_a_500(ui, router, method, url, field, value):
    data = {"percent": "50", "variant": "1", field: value}
    response = getattr(ui, method)(reverse(url, args=[router.pk]), data)
    assert response.status_code < 500
    assert not router.experiments.exists()


# --- the cost of what a rule form posts: every example may be a paid embedding -------------


@pytest.fixture
def embeddings(monkeypatch):
    calls: list[int] = []

    def fake(target, texts):
        calls.append(len(texts))
        raise AssertionError("embedded")

    monkeypatch.setattr(semantic, "_embed_sync", fake)
    return calls


def _rows(texts: list[str]) -> dict[str, list[str] | str]:
    data: dict[str, list[str] | str] = {"ex": [f"r{i}" for i in range(len(texts))]}
    for i, text in enumerate(texts):
        data[f"ex-r{i}"] = text
    return data


def test_the_form_checks_no_more_examples_than_a_rule_may_hold(ui, router, embeddings):
    too_many = [f"example number {i}" for i in range(MAX_EXAMPLES + 1)]
    response = ui.post(reverse("rule_examples_check", args=[router.pk]), _rows(too_many), **HTMX)
    assert f"at most {MAX_EXAMPLES} examples" in response.content.decode()
    response = ui.post(
        reverse("rule_suggest_threshold", args=[router.pk]),
        {"examples": "\n".join(too_many)},
        **HTMX,
    )
    assert f"at most {MAX_EXAMPLES} examples" in response.content.decode()
    response = ui.post(
        reverse("rule_suggest_threshold", args=[router.pk]),
        {"examples": "short one\n" + "x" * 2001},
        **HTMX,
    )
    assert "at most 2,000 characters" in response.content.decode()
    assert embeddings == []


def test_pasting_more_examples_than_a_rule_holds_is_refused(ui, router):
    response = ui.post(
        reverse("rule_examples_paste", args=[router.pk]),
        {"examples": "\n".join(f"line {i}" for i in range(MAX_EXAMPLES + 1)), "paste_box": "new"},
        **HTMX,
    )
    assert response.status_code == 422
    assert f"at most {MAX_EXAMPLES} examples" in response.content.decode()
    assert response["HX-Retarget"] == "#request-errors"


def _semantic(router, owner, n: int, *, chars: int = 20):
    return services.rule_create(
        router=router,
        name=f"S{n}",
        kind="semantic",
        examples=[f"{n}-{i}-".ljust(chars, "x") for i in range(MAX_EXAMPLES)],
        target_model="demo/small",
        actor=owner,
    )


def test_a_router_holds_a_bounded_number_of_examples(router, owner):
    for n in range(MAX_EXAMPLES_PER_ROUTER // MAX_EXAMPLES):
        _semantic(router, owner, n)
    with pytest.raises(ValidationError, match=f"at most {MAX_EXAMPLES_PER_ROUTER:,} examples"):
        _semantic(router, owner, 99)
    assert router.rules.filter(kind="semantic").count() == MAX_EXAMPLES_PER_ROUTER // MAX_EXAMPLES


def test_a_router_holds_a_bounded_number_of_example_characters(router, owner):
    per_rule = MAX_EXAMPLES * 1000
    for n in range(MAX_EXAMPLE_CHARS_PER_ROUTER // per_rule):
        _semantic(router, owner, n, chars=1000)
    with pytest.raises(ValidationError, match="characters in all"):
        _semantic(router, owner, 99, chars=1000)


def test_an_import_over_the_example_limits_is_refused(owner, demo_catalog):
    rules = [
        {
            "name": f"S{n}",
            "kind": "semantic",
            "examples": [f"{n} {i}" for i in range(MAX_EXAMPLES)],
            "target_model": "demo/small",
        }
        for n in range(MAX_EXAMPLES_PER_ROUTER // MAX_EXAMPLES + 1)
    ]
    doc = {
        "format": "routerweb.router",
        "version": 1,
        "router": {"name": "Many", "slug": "many", "primary_model": "demo/small", "rules": rules},
    }
    with pytest.raises(ValidationError, match="examples"):
        services.router_import(owner=owner, data=doc)
    assert not Router.objects.exists()


# --- a shared router's editor and its users' chats ---------------------------------------


@pytest.fixture
def colleagues_decision(make_router, teammate):
    shared = make_router(slug="team", visibility="shared")
    add_rules(shared)
    workspace = Workspace.objects.create(name="Team", owner=teammate, mode="router", router=shared)
    thread = Thread.objects.create(workspace=workspace, owner=teammate)
    Message.objects.create(thread=thread, role="user", content="my salary is 1234, python bug")
    answer = Message.objects.create(thread=thread, role="assistant", content="ok")
    return RoutingDecision.objects.create(
        router=shared,
        router_version=1,
        rule_name="Code",
        source="rule",
        model_ref="demo/coder",
        user=teammate,
        workspace_id=workspace.pk,
        message_id=answer.pk,
        created_at=datetime.now(UTC),
    )


def test_an_editor_cannot_copy_a_colleagues_chat_into_the_golden_set(colleagues_decision, owner):
    shared = colleagues_decision.router
    with pytest.raises(PermissionDenied):
        golden_case_from_decision(router=shared, decision=colleagues_decision, actor=owner)
    assert not GoldenCase.objects.exists()


def test_nor_through_the_page_or_the_api(colleagues_decision, owner, client_for, token_for):
    shared = colleagues_decision.router
    client = client_for(owner)
    page = client.get(reverse("golden_page", args=[shared.pk])).content.decode()
    assert reverse("golden_from_decision", args=[shared.pk, colleagues_decision.pk]) not in page
    client.post(reverse("golden_from_decision", args=[shared.pk, colleagues_decision.pk]))
    response = Client().post(
        f"/api/routers/{shared.pk}/golden/from-decision/{colleagues_decision.pk}",
        HTTP_AUTHORIZATION=f"Bearer {token_for(owner)}",
    )
    assert response.status_code == 403
    assert not GoldenCase.objects.exists()


def test_an_admin_still_may(colleagues_decision, admin_user):
    case = golden_case_from_decision(
        router=colleagues_decision.router, decision=colleagues_decision, actor=admin_user
    )
    assert case.message.startswith("my salary")


# --- dates at the ends of the calendar: time-zone arithmetic overflowed (500) ---------------


@pytest.mark.parametrize("path", ["replays/estimate", "replays"])
@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("0001-01-01T00:00:00+14:00", "0001-01-01T10:00:00+14:00"),
        ("9999-12-31T00:00:00-12:00", "9999-12-31T10:00:00-12:00"),
    ],
)
def test_a_replay_period_at_the_calendars_ends_is_a_422(api, router, path, start, end):
    body = json.dumps({"start": start, "end": end, "cap": "1"})
    response = api("post", f"/routers/{router.pk}/{path}", body)
    assert response.status_code == 422
    assert "between 1970 and 9998" in response.content.decode()
    assert not router.replays.exists()


@pytest.mark.parametrize("url", ["replay_estimate", "replay_start"])
def test_the_replay_form_refuses_such_dates(ui, router, url):
    data = {"start": "9999-12-30", "end": "9999-12-31", "cap": "1"}
    response = ui.post(reverse(url, args=[router.pk]), data)
    assert response.status_code in (200, 422)
    assert "between 1970 and 9998" in response.content.decode()
    assert not router.replays.exists()


def test_analytics_for_such_dates_shows_the_default_range_and_why(ui, router):
    response = ui.get(reverse("router_analytics", args=[router.pk]), {"start": "9999-12-31"})
    assert response.status_code == 200
    assert "between 1970 and 9998" in response.content.decode()
