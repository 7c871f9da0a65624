"""The ninja JSON API at /api/: routers, rules, dry-run, workspaces, decisions, auth and CSRF."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from chat.models import Workspace
from decisions.log import new_payload
from decisions.models import RoutingDecision
from decisions.services import decision_write
from routers import services
from routers.models import Router, Rule


class Api:
    """A JSON client for one user, by bearer token (default) or by session."""

    def __init__(self, client: Client, token: str | None = None) -> None:
        self.client = client
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}

    def __getattr__(self, method: str):
        def call(path: str, body=None, **extra):
            kwargs = {**self.headers, **extra}
            if body is not None:
                kwargs["data"] = json.dumps(body)
                kwargs["content_type"] = "application/json"
            return getattr(self.client, method)(f"/api{path}", **kwargs)

        return call


@pytest.fixture
def api_as(token_for):
    def make(user) -> Api:
        return Api(Client(), token_for(user))

    return make


@pytest.fixture
def api(api_as, owner):
    return api_as(owner)


ROUTER = {"name": "Support", "slug": "support-api", "primary_model": "demo/small"}


# --- auth ------------------------------------------------------------------------------------


def test_anonymous_calls_get_a_401_not_a_login_redirect(client, private_router):
    for path in (
        "/api/routers",
        f"/api/routers/{private_router.pk}",
        "/api/workspaces",
        "/api/decisions",
    ):
        response = client.get(path)
        assert response.status_code == 401, path


def test_a_bad_bearer_token_is_a_401(client, private_router):
    assert client.get("/api/routers", HTTP_AUTHORIZATION="Bearer rw_nope").status_code == 401


def test_session_reads_work_and_session_writes_need_the_csrf_token(owner, demo_catalog):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    assert browser.get("/api/routers").status_code == 200
    refused = browser.post("/api/routers", json.dumps(ROUTER), content_type="application/json")
    assert refused.status_code == 403
    assert not Router.objects.exists()
    browser.get("/account/tokens/")  # any page sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/routers", json.dumps(ROUTER), content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert accepted.status_code == 201


def test_bearer_writes_need_no_csrf_token(owner, demo_catalog, token_for):
    api = Api(Client(enforce_csrf_checks=True), token_for(owner))
    assert api.post("/routers", ROUTER).status_code == 201


# --- routers ----------------------------------------------------------------------------------


def test_a_router_is_created_read_updated_and_deleted(api, owner, demo_catalog):
    created = api.post("/routers", {**ROUTER, "fallbacks": ["demo/large"], "visibility": "shared"})
    assert created.status_code == 201
    data = created.json()
    assert data["owner"] == owner.username and data["model"] == "router:support-api"
    assert data["fallbacks"] == ["demo/large"] and data["can_edit"] and data["rules"] == []

    pk = data["id"]
    assert api.get(f"/routers/{pk}").json()["name"] == "Support"
    assert [r["slug"] for r in api.get("/routers").json()] == ["support-api"]

    patched = api.patch(f"/routers/{pk}", {"description": "Helps", "sticky": True})
    assert patched.status_code == 200
    assert patched.json()["description"] == "Helps" and patched.json()["sticky"]
    assert patched.json()["version"] == data["version"] + 1
    assert patched.json()["fallbacks"] == ["demo/large"], "fields not sent are kept"

    assert api.delete(f"/routers/{pk}").status_code == 204
    assert not Router.objects.filter(pk=pk).exists()


def test_service_validation_errors_are_422_with_the_field(api, demo_catalog):
    response = api.post(
        "/routers", {**ROUTER, "primary_model": "nope/nothing", "time_zone": "Mars/Olympus"}
    )
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"primary_model", "time_zone"}
    assert "nope/nothing" in response.json()["detail"]


def test_schema_errors_are_422(api, demo_catalog):
    assert api.post("/routers", {"name": "x"}).status_code == 422
    assert api.post("/routers", {**ROUTER, "visibility": "public"}).status_code == 422


def test_other_peoples_private_routers_are_404_and_shared_ones_read_only(
    api_as, teammate, private_router, shared_router
):
    api = api_as(teammate)
    assert api.get(f"/routers/{private_router.pk}").status_code == 404
    assert api.patch(f"/routers/{private_router.pk}", {"name": "mine"}).status_code == 404
    assert [r["slug"] for r in api.get("/routers").json()] == ["shared-one"]
    shared = api.get(f"/routers/{shared_router.pk}").json()
    assert not shared["can_edit"] and len(shared["rules"]) == 3
    forbidden = api.patch(f"/routers/{shared_router.pk}", {"name": "mine"})
    assert forbidden.status_code == 403 and "owner" in forbidden.json()["detail"]
    assert api.delete(f"/routers/{shared_router.pk}").status_code == 403
    assert (
        api.post(
            f"/routers/{shared_router.pk}/rules/{shared_router.rules.first().pk}/disable"
        ).status_code
        == 403
    )
    assert Router.objects.filter(pk=shared_router.pk, name="Shared-One").exists()


def test_a_manager_may_edit_a_shared_router(api_as, manager, shared_router):
    assert (
        api_as(manager)
        .patch(f"/routers/{shared_router.pk}", {"description": "managed"})
        .status_code
        == 200
    )


def test_export_then_import_round_trips(api, private_router):
    exported = api.get(f"/routers/{private_router.pk}/export").json()
    imported = api.post("/routers/import", exported)
    assert imported.status_code == 201, imported.json()
    assert imported.json()["slug"] == "private-one-2"
    assert [r["name"] for r in imported.json()["rules"]] == ["Code", "Legal", "Images"]


# --- rules ------------------------------------------------------------------------------------


def test_rules_are_created_updated_toggled_and_deleted(api, private_router):
    base = f"/routers/{private_router.pk}/rules"
    created = api.post(
        base,
        {
            "name": "Long",
            "kind": "calculated",
            "conditions": [{"property": "message_chars", "operator": "gt", "value": 2000}],
            "target_model": "demo/large",
        },
    )
    assert created.status_code == 201, created.json()
    rule = created.json()
    assert rule["position"] == 3 and rule["enabled"]
    assert [r["name"] for r in api.get(base).json()] == ["Code", "Legal", "Images", "Long"]

    updated = api.patch(f"{base}/{rule['id']}", {"name": "Very long"})
    assert (
        updated.json()["name"] == "Very long" and updated.json()["conditions"] == rule["conditions"]
    )
    assert api.post(f"{base}/{rule['id']}/disable").json()["enabled"] is False
    assert api.post(f"{base}/{rule['id']}/enable").json()["enabled"] is True
    assert api.delete(f"{base}/{rule['id']}").status_code == 204
    assert not Rule.objects.filter(pk=rule["id"]).exists()


def test_a_bad_condition_is_a_422_naming_the_field(api, private_router):
    response = api.post(
        f"/routers/{private_router.pk}/rules",
        {
            "name": "Bad",
            "kind": "calculated",
            "conditions": [{"property": "regex", "operator": "matches", "value": "(unclosed"}],
            "target_model": "demo/large",
        },
    )
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["field"] == "conditions[0].value"
    assert error["message"].startswith("Regex: unbalanced parenthesis")


def test_a_rule_of_another_router_is_not_reachable_through_mine(api, private_router, make_router):
    other = make_router(slug="other")
    foreign = services.rule_create(
        router=other,
        name="X",
        kind="llm",
        description="x",
        target_model="demo/small",
        actor=other.owner,
    )
    assert api.get(f"/routers/{private_router.pk}/rules/{foreign.pk}").status_code == 404
    assert api.delete(f"/routers/{private_router.pk}/rules/{foreign.pk}").status_code == 404
    assert Rule.objects.filter(pk=foreign.pk).exists()


def test_rules_are_reordered_and_the_version_bumps(api, private_router):
    ids = list(private_router.rules.order_by("position").values_list("pk", flat=True))
    version = private_router.version
    response = api.put(f"/routers/{private_router.pk}/rules/order", {"rule_ids": ids[::-1]})
    assert response.status_code == 200
    assert [r["id"] for r in response.json()] == ids[::-1]
    assert [r["position"] for r in response.json()] == [0, 1, 2]
    private_router.refresh_from_db()
    assert private_router.version == version + 1


def test_a_partial_reorder_is_refused_whole(api, private_router):
    ids = list(private_router.rules.order_by("position").values_list("pk", flat=True))
    response = api.put(f"/routers/{private_router.pk}/rules/order", {"rule_ids": ids[:2]})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "rule_ids"
    assert list(private_router.rules.order_by("position").values_list("pk", flat=True)) == ids


# --- dry run ----------------------------------------------------------------------------------


def test_dry_run_returns_the_decision_without_answering(api, private_router, monkeypatch):
    def no_answers(*args, **kwargs):
        raise AssertionError("the answering model must not be called")

    monkeypatch.setattr("providers.failover.run_chain", no_answers)
    response = api.post(f"/routers/{private_router.pk}/dry-run", {"message": "A python bug"})
    assert response.status_code == 200
    decision = response.json()
    assert (
        decision["source"] == "rule"
        and decision["rule_name"] == "Code"
        and decision["model"] == "demo/coder"
    )
    assert decision["classifier_called"] is False  # "Code" matched before the LLM rule "Legal"
    assert [v["name"] for v in decision["verdicts"]][0] == "Code"
    assert not RoutingDecision.objects.exists()


def test_dry_run_with_an_image_picks_the_image_rule(api, private_router):
    decision = api.post(
        f"/routers/{private_router.pk}/dry-run", {"message": "see this", "has_image": True}
    ).json()
    assert decision["rule_name"] in ("Images", "Legal")
    assert decision["chain"]


def test_dry_run_is_allowed_on_a_shared_router_but_not_a_private_one(
    api_as, teammate, private_router, shared_router
):
    api = api_as(teammate)
    assert api.post(f"/routers/{shared_router.pk}/dry-run", {"message": "hi"}).status_code == 200
    assert api.post(f"/routers/{private_router.pk}/dry-run", {"message": "hi"}).status_code == 404


def test_dry_run_rejects_a_bad_time(api, private_router):
    assert (
        api.post(
            f"/routers/{private_router.pk}/dry-run", {"message": "hi", "time_of_day": "25:00"}
        ).status_code
        == 422
    )


# --- workspaces -------------------------------------------------------------------------------


def test_workspaces_are_created_listed_and_read_by_members_only(
    api, api_as, owner, outsider, private_router
):
    created = api.post(
        "/workspaces", {"name": "Support desk", "router": private_router.pk, "tags": ["help"]}
    )
    assert created.status_code == 201, created.json()
    data = created.json()
    assert (
        data["mode"] == "router"
        and data["router_model"] == "router:private-one"
        and data["tags"] == ["help"]
    )
    assert [w["name"] for w in api.get("/workspaces").json()] == ["Support desk"]
    assert api.get(f"/workspaces/{data['id']}").status_code == 200
    assert api_as(outsider).get(f"/workspaces/{data['id']}").status_code == 404
    assert api_as(outsider).get("/workspaces").json() == []


def test_a_workspace_cannot_use_someone_elses_private_router(api_as, teammate, private_router):
    response = api_as(teammate).post("/workspaces", {"name": "Sneaky", "router": private_router.pk})
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "router"
    assert not Workspace.objects.exists()


def test_a_workspace_needs_a_model_or_a_router(api, demo_catalog):
    assert api.post("/workspaces", {"name": "Nothing"}).status_code == 422
    response = api.post("/workspaces", {"name": "One model", "model": "demo/small"})
    assert response.status_code == 201 and response.json()["model"] == "demo/small"


# --- decisions --------------------------------------------------------------------------------


def _decision(router, user, *, rule=None, answered_by="demo/small", days_ago=0, channel="chat"):
    return decision_write(
        new_payload(
            router_id=router.pk if router else None,
            router_version=1,
            rule_id=rule.pk if rule else None,
            rule_name=rule.name if rule else "",
            source="rule" if rule else "primary",
            reason="test",
            model_ref=answered_by,
            answered_by=answered_by,
            attempts=[],
            verdicts=[],
            channel=channel,
            user_id=user.pk,
            created_at=timezone.now() - timedelta(days=days_ago),
        )
    )


def test_decisions_are_filtered_and_paginated(api, owner, private_router):
    code = private_router.rules.get(name="Code")
    first = _decision(private_router, owner, rule=code, answered_by="demo/coder", days_ago=3)
    second = _decision(private_router, owner, answered_by="demo/small", days_ago=1)
    third = _decision(private_router, owner, answered_by="demo/small", channel="api")

    def uids(query: str) -> list[str]:
        response = api.get(f"/decisions{query}")
        assert response.status_code == 200, response.json()
        return [d["uid"] for d in response.json()["items"]]

    assert uids("") == [str(third.uid), str(second.uid), str(first.uid)]
    assert uids(f"?rule={code.pk}") == [str(first.uid)]
    assert uids("?model=demo/small") == [str(third.uid), str(second.uid)]
    assert uids("?channel=api") == [str(third.uid)]
    day = (timezone.now() - timedelta(days=2)).date().isoformat()
    assert uids(f"?date_from={day}") == [str(third.uid), str(second.uid)]
    assert uids(f"?date_to={day}") == [str(first.uid)]
    assert uids(f"?router={private_router.pk}&page_size=2") == [str(third.uid), str(second.uid)]
    page = api.get("/decisions?page=2&page_size=2").json()
    assert page["count"] == 3 and [d["uid"] for d in page["items"]] == [str(first.uid)]


def test_decisions_are_visible_to_editors_and_to_the_person_who_asked(
    api_as, owner, teammate, outsider, manager, shared_router, private_router
):
    mine = _decision(private_router, owner)
    theirs_on_shared = _decision(shared_router, teammate)
    outsiders_own = _decision(None, outsider)

    def seen(user) -> set[str]:
        return {d["uid"] for d in api_as(user).get("/decisions").json()["items"]}

    assert seen(owner) == {str(mine.uid), str(theirs_on_shared.uid)}  # owner edits both routers
    assert seen(teammate) == {str(theirs_on_shared.uid)}  # their own, not the router's others
    assert seen(manager) == {str(theirs_on_shared.uid)}  # may edit shared routers
    assert seen(outsider) == {str(outsiders_own.uid)}


def test_null_in_a_patch_is_refused_except_for_the_classifier(api, private_router):
    for field in ("visibility", "fallbacks", "sticky", "name"):
        response = api.patch(f"/routers/{private_router.pk}", {field: None})
        assert response.status_code == 422, field
    private_router.classifier_model = private_router.primary_model
    private_router.save()
    cleared = api.patch(f"/routers/{private_router.pk}", {"classifier_model": None})
    assert cleared.status_code == 200 and cleared.json()["classifier_model"] is None


def test_ids_beyond_64_bits_are_not_found_rather_than_server_errors(api, private_router):
    huge = 2**70
    assert api.get(f"/routers/{huge}").status_code == 404
    assert api.get(f"/routers/{private_router.pk}/rules/{huge}").status_code == 404
    assert api.get(f"/workspaces/{huge}").status_code == 404
    assert api.get(f"/decisions?rule={huge}").status_code == 422
    assert api.get("/decisions?page=10086971878532092277030912").status_code == 422


def test_a_routers_failure_policy_is_read_and_set_through_the_api(
    api, api_as, teammate, private_router, shared_router
):
    assert api.get(f"/routers/{private_router.pk}").json()["failover_policy"] == {}
    version = private_router.version

    response = api.put(
        f"/routers/{private_router.pk}/failover-policy",
        {"first_token_timeout": 5, "continue_cut_answers": False},
    )

    assert response.status_code == 200
    assert response.json()["failover_policy"] == {
        "first_token_timeout": 5.0,
        "continue_cut_answers": False,
    }
    assert response.json()["version"] == version + 1
    bad = api.put(f"/routers/{private_router.pk}/failover-policy", {"stall_timeout": 0})
    assert bad.status_code == 422
    unknown = api.put(f"/routers/{private_router.pk}/failover-policy", {"retries": 3})
    assert unknown.status_code == 422
    forbidden = api_as(teammate).put(
        f"/routers/{shared_router.pk}/failover-policy", {"stall_timeout": 5}
    )
    assert forbidden.status_code == 403
    private_router.refresh_from_db()
    assert private_router.failover_policy == {
        "first_token_timeout": 5.0,
        "continue_cut_answers": False,
    }
