"""Personal preferences: applied after routing (and skipped, saying why, when unsuitable or
off), suggested once from a pattern of overrides, accepted or dismissed from the chat, written
as a file and imported, switched off per router by its managers."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEntry
from governance.models import Budget, SpendEntry
from preferences.models import Preference, RouterPreferences, Suggestion
from preferences.services import preference_set
from providers.models import CatalogModel
from tests.chat.routed import HX, regenerate, routed_thread_for, send

CODE = "My python function throws a stack trace"


@pytest.fixture
def routed(owner, demo_catalog):
    return routed_thread_for(owner)


def _code_rule(thread):
    return thread.workspace.router.rules.get(name="Code questions")


def test_a_user_accepts_a_suggested_preference_and_the_next_message_follows_it(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    client = client_for(owner)
    # Four code questions, each answer regenerated with the large model: not yet a pattern
    # (fewer than five messages of the rule).
    for _ in range(4):
        answer = send(client, capture, routed, CODE)
        assert answer.model_ref == "demo/coder"
        regenerate(client, capture, answer, "demo/large")
    assert not Suggestion.objects.exists()
    answer = send(client, capture, routed, CODE)
    response = client.post(
        reverse("message_regenerate", args=[answer.pk]), {"model": "demo/large"}, **HX
    )
    body = response.content.decode()
    assert 'id="suggestion-slot" class="suggestion-slot" hx-swap-oob="true"' in body
    assert "Always answer “Code questions” with <code>demo/large</code>?" in body
    assert "Of your 5 messages" in body and "you moved 5 to demo/large" in body
    suggestion = Suggestion.objects.get()
    assert suggestion.state == "pending" and suggestion.evidence["regenerated"] == 5
    # The chat page shows it too, until it is answered.
    page = client.get(reverse("thread", args=[routed.pk])).content.decode()
    assert "Use it for this rule" in page

    accepted = client.post(reverse("suggestion_accept", args=[suggestion.pk]), **HX)
    assert "now answers you with" in accepted.content.decode()
    suggestion.refresh_from_db()
    assert suggestion.state == "accepted"
    assert Preference.objects.get(user=owner).model.ref == "demo/large"
    assert AuditEntry.objects.filter(action="preference.set", actor=owner).exists()

    answer = send(client, capture, routed, "Another python stack trace, please help")
    assert answer.model_ref == "demo/large", "the next message follows the preference"
    assert answer.routing["rule_name"] == "Code questions" and answer.routing["source"] == "rule"
    assert answer.routing["preference"] == {
        "model": "demo/large",
        "applied": True,
        "note": "",
        "for": "rule",
    }
    assert "your preference: demo/large instead of demo/coder" in answer.routing["reason"]
    page = client.get(reverse("thread", args=[routed.pk])).content.decode()
    assert ">your preference</span>" in page
    assert "Use it for this rule" not in page, "suggested once"


def test_a_dismissed_suggestion_is_remembered_and_never_made_again(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    client = client_for(owner)
    for _ in range(5):
        regenerate(client, capture, send(client, capture, routed, CODE), "demo/large")
    suggestion = Suggestion.objects.get()
    response = client.post(reverse("suggestion_dismiss", args=[suggestion.pk]), **HX)
    assert "will not be suggested again" in response.content.decode()
    regenerate(client, capture, send(client, capture, routed, CODE), "demo/large")
    assert Suggestion.objects.get().state == "dismissed"
    assert not Preference.objects.exists()
    assert (
        "Use it for this rule"
        not in client.get(reverse("thread", args=[routed.pk])).content.decode()
    )
    # Answered once, it cannot be answered again.
    again = client.post(reverse("suggestion_accept", args=[suggestion.pk]), **HX)
    assert "already answered" in again.content.decode()
    assert not Preference.objects.exists()


def test_no_suggestion_below_the_threshold(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    client = client_for(owner)
    # Six messages of the rule, one moved (17%): no pattern.
    for i in range(6):
        answer = send(client, capture, routed, CODE)
        if i == 0:
            regenerate(client, capture, answer, "demo/large")
    assert not Suggestion.objects.exists()


def test_a_disabled_preferred_model_is_skipped_and_said(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    preference_set(
        actor=owner,
        router=routed.workspace.router,
        rule=_code_rule(routed),
        model=CatalogModel.objects.get(model_id="large"),
    )
    CatalogModel.objects.filter(model_id="large").update(enabled=False)
    client = client_for(owner)
    answer = send(client, django_capture_on_commit_callbacks, routed, CODE)
    assert answer.model_ref == "demo/coder", "the router's choice stands"
    assert answer.routing["preference"]["applied"] is False
    assert "disabled or not in the catalog" in answer.routing["preference"]["note"]
    assert "your preference demo/large skipped" in answer.routing["reason"]
    assert (
        "your preference skipped"
        in client.get(reverse("thread", args=[routed.pk])).content.decode()
    )


def test_managers_turn_preferences_off_for_a_router(
    client_for, owner, teammate, routed, django_capture_on_commit_callbacks
):
    router = routed.workspace.router
    preference_set(
        actor=owner,
        router=router,
        rule=_code_rule(routed),
        model=CatalogModel.objects.get(model_id="large"),
    )
    # The demo router is shared: a member may use it but not switch preferences off.
    assert (
        client_for(teammate).post(reverse("router_preferences", args=[router.pk])).status_code
        == 403
    )
    client = client_for(owner)
    page = client.get(reverse("router_preferences", args=[router.pk])).content.decode()
    assert "Code questions" in page and "demo/large" in page
    response = client.post(reverse("router_preferences", args=[router.pk]), {})
    assert response.status_code == 302
    assert RouterPreferences.objects.get(router=router).allowed is False
    assert AuditEntry.objects.filter(action="router.preferences", actor=owner).exists()
    answer = send(client, django_capture_on_commit_callbacks, routed, CODE)
    assert answer.model_ref == "demo/coder" and "preference" not in answer.routing
    # ...and no new one can be set meanwhile.
    added = client.post(
        reverse("preference_add"), {"rule": f"rule:{_code_rule(routed).pk}", "model": "demo/small"}
    )
    assert added.status_code == 422 and "turned off" in added.content.decode()
    client.post(reverse("router_preferences", args=[router.pk]), {"allowed": "on"})
    answer = send(client, django_capture_on_commit_callbacks, routed, CODE)
    assert answer.model_ref == "demo/large", "kept, and applied again"


def test_my_preferences_page_adds_and_removes(client_for, owner, teammate, routed):
    client = client_for(owner)
    rule = _code_rule(routed)
    page = client.get(reverse("preferences")).content.decode()
    assert "My preferences" in page and "Code questions" in page
    response = client.post(
        reverse("preference_add"), {"rule": f"rule:{rule.pk}", "model": "demo/large"}
    )
    assert response.status_code == 302
    preference = Preference.objects.get(user=owner, rule=rule)
    assert preference.model.ref == "demo/large"
    # Unknown model, unknown rule: refused, nothing changed.
    assert (
        client.post(
            reverse("preference_add"), {"rule": f"rule:{rule.pk}", "model": "demo/nope"}
        ).status_code
        == 422
    )
    assert (
        client.post(
            reverse("preference_add"), {"rule": "rule:999999", "model": "demo/small"}
        ).status_code
        == 422
    )
    assert Preference.objects.get(user=owner, rule=rule).model.ref == "demo/large"
    # Someone else cannot remove it.
    assert (
        client_for(teammate).post(reverse("preference_remove", args=[preference.pk])).status_code
        == 404
    )
    client = client_for(owner)  # the same test client, logged in as the owner again
    client.post(reverse("preference_remove", args=[preference.pk]))
    assert not Preference.objects.exists()
    assert AuditEntry.objects.filter(action="preference.delete", actor=owner).exists()


def test_a_preferences_file_is_imported_and_exported(client_for, owner, routed):
    client = client_for(owner)
    text = "# mine\ndemo / code questions = demo/large\n\ndemo / Everyday questions = demo/coder\n"
    response = client.post(reverse("preferences_import"), {"text": text})
    assert response.status_code == 302
    prefs = {p.rule.name: p.model.ref for p in Preference.objects.filter(user=owner)}
    assert prefs == {"Code questions": "demo/large", "Everyday questions": "demo/coder"}
    exported = client.get(reverse("preferences_export"))
    assert exported["Content-Disposition"].startswith("attachment")
    body = exported.content.decode()
    assert "demo / Code questions = demo/large" in body
    Preference.objects.all().delete()
    assert client.post(reverse("preferences_import"), {"text": body}).status_code == 302
    assert Preference.objects.filter(user=owner).count() == 2, "the export reads back"


def test_a_bad_preferences_file_changes_nothing_and_names_each_line(client_for, owner, routed):
    client = client_for(owner)
    preference_set(
        actor=owner,
        router=routed.workspace.router,
        rule=_code_rule(routed),
        model=CatalogModel.objects.get(model_id="small"),
    )
    text = (
        "demo / Code questions = demo/large\n"
        "demo / No such rule = demo/large\n"
        "nowhere / Code questions = demo/large\n"
        "demo / Everyday questions = demo/missing\n"
        "just words\n"
        "demo / code questions = demo/coder\n"
    )
    response = client.post(reverse("preferences_import"), {"text": text})
    assert response.status_code == 422
    page = response.content.decode()
    assert "Nothing was imported" in page
    assert "line 2: the router “demo” has no rule “No such rule”" in page
    assert "line 3: no router “nowhere” that you can use" in page
    assert "line 4: no enabled model “demo/missing”" in page
    assert "line 5: expected" in page
    assert "line 6: the rule “Code questions” of “demo” is already set on line 1" in page
    assert Preference.objects.get().model.ref == "demo/small", "nothing changed"
    assert (
        client.post(reverse("preferences_import"), {"text": "# only a comment\n"}).status_code
        == 422
    )


def test_a_budget_past_its_step_still_wins_over_a_preference(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    preference_set(
        actor=owner,
        router=routed.workspace.router,
        rule=_code_rule(routed),
        model=CatalogModel.objects.get(model_id="large"),
    )
    Budget.objects.create(
        name="Team monthly",
        scope="workspace",
        workspace_id=routed.workspace_id,
        period="month",
        limit=Decimal("10"),
        step_percent=80,
    )
    SpendEntry.objects.create(
        uid="seed",
        created_at=timezone.now(),
        cost=Decimal("8.50"),
        workspace_id=routed.workspace_id,
        user_id=owner.pk,
    )
    answer = send(client_for(owner), django_capture_on_commit_callbacks, routed, CODE)
    assert answer.routing["budget"]["step"] == "step_down"
    assert answer.model_ref != "demo/large", "the budget stepped the preference down"


def _code_rule_targets_the_coding_tier(thread):
    from routers import services as router_services
    from routers.versions import router_publish

    router = thread.workspace.router
    tiers = [dict(t) for t in router.tiers]
    for tier in tiers:
        if tier["name"] == "coding":
            tier["model"] = "demo/coder"
    router_services.router_set_tiers(router=router, tiers=tiers, actor=router.owner)
    router_services.rule_update(rule=_code_rule(thread), target_tier="coding", actor=router.owner)
    router.refresh_from_db()
    router_publish(router=router, actor=router.owner)
    return router


def test_a_tier_preference_applies_to_what_goes_to_that_tier(
    client_for, owner, routed, django_capture_on_commit_callbacks
):
    router = _code_rule_targets_the_coding_tier(routed)
    client = client_for(owner)
    response = client.post(
        reverse("preference_add"), {"rule": f"tier:{router.pk}:coding", "model": "demo/large"}
    )
    assert response.status_code == 302
    preference = Preference.objects.get(user=owner)
    assert preference.tier == "coding" and preference.rule is None
    answer = send(client, django_capture_on_commit_callbacks, routed, CODE)
    assert answer.routing["tier"] == "coding"
    assert answer.model_ref == "demo/large"
    assert answer.routing["preference"]["for"] == "tier"
    # A preference for the rule itself wins over the tier's.
    preference_set(
        actor=owner,
        router=router,
        rule=_code_rule(routed),
        model=CatalogModel.objects.get(model_id="small"),
    )
    answer = send(client, django_capture_on_commit_callbacks, routed, CODE)
    assert answer.model_ref == "demo/small" and answer.routing["preference"]["for"] == "rule"
    # An unknown tier is refused.
    bad = client.post(
        reverse("preference_add"), {"rule": f"tier:{router.pk}:nonsense", "model": "demo/large"}
    )
    assert bad.status_code == 422 and "has no tier “nonsense”" in bad.content.decode()


def test_the_preferences_file_names_tiers_too(client_for, owner, routed):
    _code_rule_targets_the_coding_tier(routed)
    client = client_for(owner)
    text = "demo / tier:coding = demo/large\ndemo / tier:nowhere = demo/large\n"
    response = client.post(reverse("preferences_import"), {"text": text})
    assert response.status_code == 422
    assert "line 2: the router “demo” has no tier “nowhere”" in response.content.decode()
    assert not Preference.objects.exists()
    assert (
        client.post(reverse("preferences_import"), {"text": text.splitlines()[0]}).status_code
        == 302
    )
    assert (
        "demo / tier:coding = demo/large"
        in client.get(reverse("preferences_export")).content.decode()
    )
