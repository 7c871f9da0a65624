"""The JSON API for drafts and versions: list, read, publish, roll back, diff, dry-run a version."""

from __future__ import annotations

import pytest

from routers import services
from tests.api.test_json_api import Api, api, api_as  # noqa: F401

pytestmark = pytest.mark.django_db


def test_versions_are_listed_and_read_with_their_snapshot(api: Api, private_router):  # noqa: F811
    listed = api.get(f"/routers/{private_router.pk}/versions").json()
    assert [(v["number"], v["live"]) for v in listed] == [(2, True), (1, False)]
    one = api.get(f"/routers/{private_router.pk}/versions/1").json()
    assert one["snapshot"]["router"]["rules"] == [] and one["note"] == "Created."
    assert api.get(f"/routers/{private_router.pk}/versions/9").status_code == 404
    router = api.get(f"/routers/{private_router.pk}").json()
    assert router["published_version"] == 2


def test_publish_answers_201_then_422_when_nothing_changed(api: Api, private_router):  # noqa: F811
    url = f"/routers/{private_router.pk}/publish"
    assert api.post(url, {}).status_code == 422
    api.patch(f"/routers/{private_router.pk}", {"sticky": True})
    response = api.post(url, {"note": "sticky now"})
    assert response.status_code == 201, response.content
    assert response.json() | {"published_at": None} == {
        "number": 3,
        "published_at": None,
        "published_by": "olivia",
        "restored_from": None,
        "note": "sticky now",
        "live": True,
    }


def test_rollback_and_diff(api: Api, private_router):  # noqa: F811
    rule = private_router.rules.get(name="Code")
    services.rule_delete(rule=rule, actor=private_router.owner)
    diff = api.get(f"/routers/{private_router.pk}/diff").json()
    assert diff["rules_removed"] == ["Code"] and diff["old"] == "live" and diff["new"] == "draft"
    diff = api.get(f"/routers/{private_router.pk}/diff?old=1&new=2").json()
    assert diff["rules_added"] == ["Code", "Legal", "Images"]
    assert api.get(f"/routers/{private_router.pk}/diff?old=nope").status_code == 422
    assert api.get(f"/routers/{private_router.pk}/diff?old=8").status_code == 404

    response = api.post(f"/routers/{private_router.pk}/versions/1/rollback")
    assert response.status_code == 201 and response.json()["restored_from"] == 1
    assert response.json()["number"] == 3
    again = api.post(f"/routers/{private_router.pk}/versions/3/rollback")
    assert again.status_code == 422
    assert api.post(f"/routers/{private_router.pk}/versions/99/rollback").status_code == 404


def test_people_who_may_only_use_a_router_cannot_publish(api_as, shared_router, teammate):  # noqa: F811
    member = api_as(teammate)
    assert member.get(f"/routers/{shared_router.pk}/versions").status_code == 200
    assert member.post(f"/routers/{shared_router.pk}/publish", {}).status_code == 403
    rollback = member.post(f"/routers/{shared_router.pk}/versions/1/rollback")
    assert rollback.status_code == 403


def test_dry_run_routes_with_the_draft_or_a_version(api: Api, private_router):  # noqa: F811
    services.rule_delete(rule=private_router.rules.get(name="Code"), actor=private_router.owner)
    url = f"/routers/{private_router.pk}/dry-run"
    draft = api.post(url, {"message": "a python bug"}).json()
    assert draft["rule_name"] is None
    v2 = api.post(url, {"message": "a python bug", "version": 2}).json()
    assert v2["rule_name"] == "Code" and v2["router_version"] == 2
    assert api.post(url, {"message": "x", "version": 5}).status_code == 404
