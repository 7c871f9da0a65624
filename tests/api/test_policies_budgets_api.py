"""`/api/policies` and `/api/budgets`: the pages' validation (errors located at the field),
permissions (policies by scope; budgets for admins and managers) and audit, through the API."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from governance.models import Budget, Policy
from routers import services
from tests.api.test_json_api import api_as  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def own_router(owner, demo_catalog):
    return services.router_create(
        owner=owner, actor=owner, name="Mine", slug="mine", primary_model="demo/small"
    )


def _fields(response):
    return {e["field"] for e in response.json()["errors"]}


def test_a_router_owner_manages_its_policies_and_nobody_elses(
    api_as,  # noqa: F811
    owner,
    outsider,
    admin_user,
    own_router,
):
    api, stranger, admin = api_as(owner), api_as(outsider), api_as(admin_user)
    body = {
        "name": "Customer data",
        "scope": "router",
        "router_id": own_router.pk,
        "detectors": ["card"],
        "action": "restrict",
        "approved": ["demo/small"],
    }
    bad = api.post("/policies", {**body, "patterns": "ACME-(\\d{6}"})
    assert bad.status_code == 422 and _fields(bad) == {"patterns"}
    assert "Pattern" in bad.json()["errors"][0]["message"]
    assert _fields(api.post("/policies", {**body, "approved": ["demo/ghost"]})) == {"approved"}
    assert _fields(api.post("/policies", {**body, "detectors": ["dna"]})) == {"detectors"}
    assert _fields(api.post("/policies", {**body, "router_id": None})) == {"router_id"}
    assert api.post("/policies", {**body, "router_id": 999999}).status_code == 422
    assert api.post("/policies", {**body, "scope": "instance"}).status_code == 403
    assert not Policy.objects.exists()

    created = api.post("/policies", body)
    assert created.status_code == 201, created.content
    policy = created.json()
    assert policy["can_edit"] and policy["router_id"] == own_router.pk
    assert AuditEntry.objects.filter(action="policy.create", actor=owner).exists()
    assert [p["name"] for p in api.get("/policies").json()] == ["Customer data"]

    assert stranger.get(f"/policies/{policy['id']}").status_code == 404
    assert stranger.patch(f"/policies/{policy['id']}", {"enabled": False}).status_code == 404
    assert stranger.post("/policies", body).status_code == 403  # not their router
    patched = api.patch(f"/policies/{policy['id']}", {"action": "mask", "approved": []})
    assert patched.status_code == 200 and patched.json()["action"] == "mask"
    assert _fields(api.patch(f"/policies/{policy['id']}", {"name": " "})) == {"name"}
    assert AuditEntry.objects.filter(action="policy.update").count() == 1

    instance = admin.post("/policies", {**body, "scope": "instance", "router_id": None})
    assert instance.status_code == 201 and instance.json()["scope"] == "instance"
    # Everyone sees an instance policy; only admins change it.
    assert api.get(f"/policies/{instance.json()['id']}").json()["can_edit"] is False
    assert api.delete(f"/policies/{instance.json()['id']}").status_code == 403
    assert api.delete(f"/policies/{policy['id']}").status_code == 204
    assert AuditEntry.objects.filter(action="policy.delete").count() == 1


def test_managers_set_budgets_with_the_pages_checks_and_people_read_their_own(
    api_as,  # noqa: F811
    owner,
    manager,
    own_router,
):
    api, boss = api_as(owner), api_as(manager)
    body = {"name": "Olga's", "scope": "user", "user_id": owner.pk, "limit": "10"}
    assert api.post("/budgets", body).status_code == 403
    assert _fields(boss.post("/budgets", {**body, "user_id": None})) == {"user_id"}
    assert _fields(boss.post("/budgets", {**body, "user_id": 987654})) == {"user_id"}
    assert _fields(boss.post("/budgets", {**body, "limit": "0"})) == {"limit"}
    assert _fields(boss.post("/budgets", {**body, "limit": "100000000"})) == {"limit"}
    assert boss.post("/budgets", {**body, "limit": "1e30"}).status_code == 422
    assert _fields(boss.post("/budgets", {**body, "step_percent": 100})) == {"step_percent"}
    assert _fields(boss.post("/budgets", {**body, "step_tier": "balanced"})) == {"step_percent"}
    assert _fields(boss.post("/budgets", {**body, "step_percent": 80, "step_tier": "Big One"})) == {
        "step_tier"
    }
    assert _fields(boss.post("/budgets", {**body, "over_action": "listed"})) == {"allowed"}
    assert _fields(
        boss.post("/budgets", {**body, "over_action": "listed", "allowed": ["demo/ghost"]})
    ) == {"allowed"}
    assert not Budget.objects.exists()

    created = boss.post("/budgets", {**body, "step_percent": 80, "limit": "10.123456"})
    assert created.status_code == 201, created.content
    budget = created.json()
    assert (budget["limit"], budget["spent"], budget["percent"]) == ("10.1235", "$0.00", 0)
    assert AuditEntry.objects.filter(action="budget.create", actor=manager).exists()
    # A router budget: only its own target is kept.
    moved = boss.patch(
        f"/budgets/{budget['id']}", {"scope": "router", "router_id": own_router.pk}
    ).json()
    assert (moved["scope"], moved["user_id"], moved["router_id"]) == ("router", None, own_router.pk)
    assert api.get("/budgets").json() == []  # it binds a router now, not them
    boss.patch(f"/budgets/{budget['id']}", {"scope": "user", "user_id": owner.pk})
    assert [b["name"] for b in api.get("/budgets").json()] == ["Olga's"]
    assert api.patch(f"/budgets/{budget['id']}", {"limit": "1000"}).status_code == 403
    assert api.delete(f"/budgets/{budget['id']}").status_code == 403
    assert boss.get("/budgets/123456").status_code == 404
    assert boss.delete(f"/budgets/{budget['id']}").status_code == 204
    assert AuditEntry.objects.filter(action="budget.delete").count() == 1
