"""Drafts and published versions: editing changes the draft, traffic uses the published
version until the draft is published; versions are kept, compared and rolled back."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from audit.models import AuditEntry
from chat.preview import preview_route
from chat.services import workspace_create
from planning.planner import decision_of, panel_request, plan_sync
from routers import services, versions
from routers.compiling import compiled_router_for
from routers.models import PublishedRouter, Router, RouterVersion, Rule
from tests.routers.conftest import add_rules

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def route(router, text):
    """What the planner decides for `text` with this router (the draft, or a version)."""
    plan = plan_sync(panel_request(router=router, user=router.owner, text=text))
    decision = decision_of(plan)
    return SimpleNamespace(
        rule_name=decision["rule_name"],
        model=decision["model"],
        router_version=decision["router_version"],
    )


def live(router):
    router = Router.objects.get(pk=router.pk)
    return versions.router_published(router)


# --- publishing ---------------------------------------------------------------------------------


def test_a_new_router_is_published_as_v1_with_what_it_was_created_with(make_router):
    router = make_router(slug="fresh")
    assert router.published_version.number == 1
    assert router.published_version.published_by == router.owner
    assert not versions.router_draft_changed(router=router)


def test_an_edit_changes_the_draft_and_traffic_keeps_the_published_version(make_router):
    router = make_router(slug="drafty")
    add_rules(router, publish=False)
    assert versions.router_draft_changed(router=router)
    # The draft (test panel) sees the new rule; traffic still routes with v1 (no rules).
    assert route(router, "a python bug").rule_name == "Code"
    published = live(router)
    assert isinstance(published, PublishedRouter) and published.version == 1
    decision = route(published, "a python bug")
    assert decision.rule_name is None and decision.model == "demo/small"
    assert decision.router_version == 1

    version = versions.router_publish(router=router, actor=router.owner, note="Three rules")
    assert version.number == 2 and version.note == "Three rules"
    decision = route(live(router), "a python bug")
    assert (decision.rule_name, decision.model, decision.router_version) == (
        "Code",
        "demo/coder",
        2,
    )
    assert not versions.router_draft_changed(router=Router.objects.get(pk=router.pk))


def test_publishing_is_audited_with_who_and_which_version(private_router):
    entry = AuditEntry.objects.filter(action="router.publish").latest("id")
    assert entry.actor == private_router.owner
    assert entry.object_id == str(private_router.pk)
    assert entry.changes["published_version"] == [1, 2]


def test_publishing_an_unchanged_draft_is_refused(private_router):
    with pytest.raises(ValidationError, match="Nothing to publish"):
        versions.router_publish(router=private_router, actor=private_router.owner)
    assert private_router.versions.count() == 2


def test_only_someone_who_may_edit_the_router_can_publish_or_roll_back(shared_router, teammate):
    services.router_update(router=shared_router, sticky=True, actor=shared_router.owner)
    with pytest.raises(PermissionDenied):
        versions.router_publish(router=shared_router, actor=teammate)
    with pytest.raises(PermissionDenied):
        versions.router_rollback(router=shared_router, number=1, actor=teammate)
    assert shared_router.versions.count() == 2


def test_a_manager_may_publish_a_shared_router(shared_router, manager):
    services.router_update(router=shared_router, sticky=True, actor=shared_router.owner)
    version = versions.router_publish(router=shared_router, actor=manager)
    assert version.published_by == manager


def test_a_draft_that_does_not_compile_is_not_published(private_router):
    # Broken behind the services' back (a hand edit in the database).
    Rule.objects.filter(router=private_router, name="Code").update(
        conditions=[{"property": "no_such_property", "operator": "eq", "value": 1}]
    )
    private_router.version += 1
    private_router.save(update_fields=["version"])
    with pytest.raises(ValidationError, match="cannot be published"):
        versions.router_publish(router=private_router, actor=private_router.owner)
    assert Router.objects.get(pk=private_router.pk).published_version.number == 2


def test_identity_changes_apply_at_once_and_are_not_a_draft_change(private_router):
    services.router_update(
        router=private_router, name="Renamed", description="new words", actor=private_router.owner
    )
    assert not versions.router_draft_changed(router=private_router)
    assert live(private_router).name == "Renamed"


# --- the compiled router and caches --------------------------------------------------------------


def test_the_compiled_router_is_cached_per_published_version_and_apart_from_the_draft(
    private_router,
):
    published = live(private_router)
    compiled = compiled_router_for(published)
    assert compiled.revision == "v2"
    assert compiled_router_for(live(private_router)) is compiled, "one compile per version"
    draft = compiled_router_for(private_router)
    assert draft.revision == f"draft:{private_router.version}" and draft is not compiled

    rule = private_router.rules.get(name="Code")
    services.rule_update(rule=rule, target_model="demo/large", actor=private_router.owner)
    assert compiled_router_for(live(private_router)) is compiled, "a draft edit is not live"
    versions.router_publish(router=private_router, actor=private_router.owner)
    again = compiled_router_for(live(private_router))
    assert again.revision == "v3" and again is not compiled
    assert again.rules_by_id[rule.pk].target == "demo/large"


def test_a_published_router_cannot_be_saved(private_router):
    with pytest.raises(TypeError):
        live(private_router).save()


def test_rules_keep_their_ids_across_versions(private_router):
    ids = set(private_router.rules.values_list("pk", flat=True))
    snapshot = private_router.published_version.snapshot
    assert {r["id"] for r in snapshot["router"]["rules"]} == ids


# --- rollback -----------------------------------------------------------------------------------


def test_a_rollback_publishes_the_old_snapshot_as_a_new_version_and_keeps_the_draft(
    private_router,
):
    owner = private_router.owner
    services.rule_delete(rule=private_router.rules.get(name="Code"), actor=owner)
    versions.router_publish(router=private_router, actor=owner)  # v3: no Code rule
    assert route(live(private_router), "a python bug").rule_name is None

    version = versions.router_rollback(router=private_router, number=2, actor=owner)
    assert (version.number, version.restored_from) == (3 + 1, 2)
    decision = route(live(private_router), "a python bug")
    assert decision.rule_name == "Code" and decision.router_version == 4
    assert not private_router.rules.filter(name="Code").exists(), "the draft is untouched"
    entry = AuditEntry.objects.filter(action="router.rollback").latest("id")
    assert entry.actor == owner and entry.changes["restored_from"] == [None, 2]


def test_rolling_back_to_the_live_version_or_an_unknown_one_is_refused(private_router):
    with pytest.raises(ValidationError, match="already the published version"):
        versions.router_rollback(router=private_router, number=2, actor=private_router.owner)
    with pytest.raises(ValidationError, match="no version 9"):
        versions.router_rollback(router=private_router, number=9, actor=private_router.owner)


def test_deleting_a_router_deletes_its_versions(private_router):
    services.router_delete(router=private_router, actor=private_router.owner)
    assert not RouterVersion.objects.filter(router_id=private_router.pk).exists()


# --- comparing ----------------------------------------------------------------------------------


def test_the_diff_names_added_removed_changed_and_reordered_rules_and_settings(private_router):
    owner = private_router.owner
    code, legal, images = (private_router.rules.get(name=n) for n in ("Code", "Legal", "Images"))
    services.rule_update(rule=code, target_model="demo/large", name="Coding", actor=owner)
    services.rule_delete(rule=legal, actor=owner)
    services.rule_create(
        router=private_router,
        name="Tickets",
        kind="calculated",
        conditions=[{"property": "regex", "operator": "matches", "value": r"[A-Z]+-\d+"}],
        target_model="demo/coder",
        actor=owner,
    )
    services.router_reorder(
        router=private_router,
        rule_ids=[images.pk, code.pk, private_router.rules.get(name="Tickets").pk],
        actor=owner,
    )
    services.router_update(router=private_router, sticky=True, actor=owner)

    diff = versions.snapshot_diff(
        private_router.published_version.snapshot,
        services.router_snapshot(router=private_router),
    )
    assert diff.added == ["Tickets"] and diff.removed == ["Legal"]
    (change,) = diff.changed
    assert (change.name, change.old_name) == ("Coding", "Code")
    assert change.fields == [("target_model", "demo/coder", "demo/large")]
    assert diff.settings == [("Sticky", False, True)]
    assert diff.reordered and diff.old_order == ["Coding", "Images"]
    assert diff.new_order == ["Images", "Coding"]


def test_two_equal_snapshots_have_an_empty_diff(private_router):
    snapshot = private_router.published_version.snapshot
    assert versions.snapshot_diff(snapshot, snapshot).empty


# --- pages ----------------------------------------------------------------------------------------


def test_the_router_page_says_published_or_draft_and_publishes_in_one_click(
    client_for, private_router
):
    client = client_for(private_router.owner)
    url = reverse("router_detail", args=[private_router.pk])
    page = client.get(url).content.decode()
    assert "Published v2" in page and "unpublished changes" not in page

    code = private_router.rules.get(name="Code")
    response = client.post(reverse("rule_toggle", args=[private_router.pk, code.pk]), **HTMX)
    assert "Draft — unpublished changes" in response.content.decode(), "badge updated in place"
    page = client.get(url).content.decode()
    assert "Draft — unpublished changes" in page and "Publish</button>" in page

    response = client.post(reverse("router_publish", args=[private_router.pk]), **HTMX)
    assert response.status_code == 200
    assert "Published v3" in response.content.decode()
    assert "unpublished" not in response.content.decode()
    response = client.post(reverse("router_publish", args=[private_router.pk]), **HTMX)
    assert response.status_code == 422 and "Nothing to publish" in response.content.decode()


def test_without_javascript_publish_redirects_with_a_message(client_for, private_router):
    client = client_for(private_router.owner)
    services.router_update(router=private_router, sticky=True, actor=private_router.owner)
    response = client.post(reverse("router_publish", args=[private_router.pk]), follow=True)
    assert "Published v3" in response.content.decode()


def test_people_who_may_not_edit_see_versions_but_cannot_publish(
    client_for, shared_router, teammate, outsider
):
    services.router_update(router=shared_router, sticky=True, actor=shared_router.owner)
    client = client_for(teammate)
    page = client.get(reverse("router_detail", args=[shared_router.pk])).content.decode()
    assert "Draft — unpublished changes" in page and "Publish</button>" not in page
    assert client.get(reverse("router_versions", args=[shared_router.pk])).status_code == 200
    assert client.post(reverse("router_publish", args=[shared_router.pk])).status_code == 403
    rollback = reverse("router_rollback", args=[shared_router.pk, 1])
    assert client.post(rollback).status_code == 403
    private = Router.objects.filter(visibility="private").first() or shared_router
    assert private is not None
    assert Router.objects.get(pk=shared_router.pk).published_version.number == 2


def test_the_versions_page_lists_every_version_and_rolls_back(client_for, private_router):
    client = client_for(private_router.owner)
    page = client.get(reverse("router_versions", args=[private_router.pk])).content.decode()
    assert "v1" in page and "v2" in page and "Roll back to v1" in page
    response = client.post(reverse("router_rollback", args=[private_router.pk, 1]), **HTMX)
    assert response.status_code == 200 and response.headers["HX-Redirect"]
    assert Router.objects.get(pk=private_router.pk).published_version.restored_from == 1
    page = client.get(reverse("router_versions", args=[private_router.pk])).content.decode()
    assert "Rollback to v1" in page


def test_the_compare_page_shows_the_rules_diff(client_for, private_router):
    owner = private_router.owner
    services.rule_update(
        rule=private_router.rules.get(name="Code"), target_model="demo/large", actor=owner
    )
    page = client_for(owner).get(reverse("router_compare", args=[private_router.pk])).content
    text = page.decode()
    assert "From v2 (published) to the draft" in text
    assert "target_model" in text and "demo/large" in text
    old = client_for(owner).get(
        reverse("router_compare", args=[private_router.pk]) + "?old=1&new=2"
    )
    assert "Added:" in old.content.decode() and "Legal" in old.content.decode()
    missing = client_for(owner).get(reverse("router_compare", args=[private_router.pk]) + "?old=9")
    assert missing.status_code == 404


def test_the_test_panel_tests_the_draft_or_a_chosen_version(client_for, private_router):
    owner = private_router.owner
    services.rule_delete(rule=private_router.rules.get(name="Code"), actor=owner)
    client = client_for(owner)
    url = reverse("router_test", args=[private_router.pk])
    draft = client.post(url, {"message": "a python bug"}, **HTMX).content.decode()
    assert "No rule matched" in draft and "tested on the draft" in draft
    v2 = client.post(url, {"message": "a python bug", "version": "2"}, **HTMX).content.decode()
    assert "Winning rule" in v2 and "Code" in v2 and "tested on v2" in v2
    bad = client.post(url, {"message": "x", "version": "7"}, **HTMX)
    assert bad.status_code == 422


def test_a_version_exports_as_a_router_file_without_ids(client_for, private_router):
    response = client_for(private_router.owner).get(
        reverse("router_version_export", args=[private_router.pk, 2])
    )
    data = response.json()
    assert data["format"] == "routerweb.router"
    assert [r["name"] for r in data["router"]["rules"]] == ["Code", "Legal", "Images"]
    assert all("id" not in r for r in data["router"]["rules"])


# --- traffic: chat preview ------------------------------------------------------------------


def test_the_composer_preview_follows_the_published_version(private_router):
    owner = private_router.owner
    workspace = workspace_create(owner=owner, name="W", router=private_router)
    services.rule_update(
        rule=private_router.rules.get(name="Code"), target_model="demo/large", actor=owner
    )
    preview = preview_route(user=owner, workspace=workspace, thread=None, text="a python bug")
    assert preview.model == "demo/coder"
    versions.router_publish(router=private_router, actor=owner)
    workspace.refresh_from_db()
    preview = preview_route(user=owner, workspace=workspace, thread=None, text="a python bug")
    assert preview.model == "demo/large"


# --- import into the draft -----------------------------------------------------------------------


def test_a_file_imported_into_the_draft_replaces_it_and_keeps_rule_ids_by_name(private_router):
    owner = private_router.owner
    code_id = private_router.rules.get(name="Code").pk
    data = services.router_export(router=private_router)
    body = data["router"]
    body["name"] = "Ignored name"
    body["sticky"] = True
    body["rules"] = [r for r in body["rules"] if r["name"] != "Legal"]
    body["rules"][0]["target_model"] = "demo/large"  # Code
    body["rules"].append(
        {
            "name": "Tickets",
            "kind": "calculated",
            "conditions": [{"property": "regex", "operator": "matches", "value": "[A-Z]+-[0-9]+"}],
            "target_model": "demo/coder",
        }
    )
    services.router_draft_import(router=private_router, data=data, actor=owner)
    private_router.refresh_from_db()
    assert private_router.name == "Private-One" and private_router.sticky is True
    rules = list(private_router.rules.order_by("position"))
    assert [r.name for r in rules] == ["Code", "Images", "Tickets"]
    assert rules[0].pk == code_id and rules[0].target_model.ref == "demo/large"
    assert versions.router_draft_changed(router=private_router), "not live until published"
    assert route(live(private_router), "a python bug").model == "demo/coder"
    diff = versions.snapshot_diff(
        private_router.published_version.snapshot, services.router_snapshot(router=private_router)
    )
    assert diff.added == ["Tickets"] and diff.removed == ["Legal"]
    assert AuditEntry.objects.filter(action="router.import_draft").exists()


def test_a_bad_file_changes_nothing_in_the_draft(private_router):
    before = services.router_snapshot(router=private_router)
    data = services.router_export(router=private_router)
    data["router"]["rules"][0]["target_model"] = "nope/none"
    with pytest.raises(
        ValidationError, match="Unknown model 'nope/none': it is not in the enabled catalog"
    ):
        services.router_draft_import(router=private_router, data=data, actor=private_router.owner)
    assert services.router_snapshot(router=private_router) == before


def test_the_versions_page_and_the_api_import_into_the_draft(client_for, private_router):
    import json

    from django.test import Client

    from accounts.tokens import api_token_create

    data = services.router_export(router=private_router)
    data["router"]["sticky"] = True
    client = client_for(private_router.owner)
    response = client.post(
        reverse("router_draft_import", args=[private_router.pk]), {"json": json.dumps(data)}
    )
    assert response.status_code == 302
    private_router.refresh_from_db()
    assert private_router.sticky is True
    bad = client.post(reverse("router_draft_import", args=[private_router.pk]), {"json": "{"})
    assert bad.status_code == 422

    token = api_token_create(user=private_router.owner, name="t")[1]
    data["router"]["sticky"] = False
    api = Client().put(
        f"/api/routers/{private_router.pk}/draft",
        data=json.dumps(data),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert api.status_code == 200 and api.json()["sticky"] is False
