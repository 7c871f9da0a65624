from __future__ import annotations

import json

import pytest
from django.urls import reverse

from chat.models import Workspace, WorkspaceMode
from routers import services
from routers.models import Router, Rule
from tests.routers.conftest import add_rules

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def _rule_post(**overrides):
    data = {
        "name": "Tickets",
        "kind": "calculated",
        "match": "all",
        "target_model": "demo/coder",
        "fallbacks": "",
        "description": "",
        "cond": ["a1"],
        "cond-a1-property": "regex",
        "cond-a1-operator": "matches",
        "cond-a1-text": r"\b[A-Z]+-\d+\b",
    }
    data.update(overrides)
    return data


# --- who may see and change what ---------------------------------------------------------------


def test_anonymous_users_are_sent_to_the_login_page(client, shared_router):
    for url in [reverse("router_list"), reverse("router_detail", args=[shared_router.pk])]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))
    response = client.post(
        reverse("rule_toggle", args=[shared_router.pk, shared_router.rules.first().pk])
    )
    assert response.status_code == 302
    assert shared_router.rules.first().enabled


def test_the_list_shows_my_routers_and_shared_ones_with_owner_and_visibility(
    client_for, private_router, shared_router, teammate
):
    mine = services.router_create(
        owner=teammate, name="Toms desk", slug="toms", primary_model="demo/small", actor=teammate
    )
    html = client_for(teammate).get(reverse("router_list")).content.decode()
    assert mine.name in html and shared_router.name in html
    assert private_router.name not in html
    assert "olivia" in html and "Shared" in html


def test_the_owner_sees_edit_controls(client_for, owner, private_router):
    html = (
        client_for(owner).get(reverse("router_detail", args=[private_router.pk])).content.decode()
    )
    assert reverse("rule_create", args=[private_router.pk]) in html
    assert "data-sortable" in html
    # Rules appear in their order, with their kind.
    assert html.index("Code") < html.index("Legal") < html.index("Images")
    assert "kind-badge llm" in html


def test_a_teammate_sees_and_tests_a_shared_router_but_cannot_change_it(
    client_for, teammate, shared_router
):
    client = client_for(teammate)
    detail = client.get(reverse("router_detail", args=[shared_router.pk]))
    assert detail.status_code == 200
    html = detail.content.decode()
    assert reverse("rule_create", args=[shared_router.pk]) not in html
    assert "data-sortable" not in html

    tested = client.post(
        reverse("router_test", args=[shared_router.pk]), {"message": "a python bug"}, **HTMX
    )
    assert tested.status_code == 200

    rule = shared_router.rules.first()
    version = shared_router.version
    for url, data in [
        (reverse("rule_toggle", args=[shared_router.pk, rule.pk]), {}),
        (reverse("rule_delete", args=[shared_router.pk, rule.pk]), {}),
        (reverse("rule_edit", args=[shared_router.pk, rule.pk]), _rule_post()),
        (reverse("rule_create", args=[shared_router.pk]), _rule_post()),
        (reverse("rule_reorder", args=[shared_router.pk]), {"rule_ids": [rule.pk]}),
        (reverse("router_edit", args=[shared_router.pk]), {"name": "Hijacked"}),
        (reverse("router_delete", args=[shared_router.pk]), {}),
    ]:
        assert client.post(url, data).status_code == 403, url
    assert client.get(reverse("router_edit", args=[shared_router.pk])).status_code == 403
    shared_router.refresh_from_db()
    assert shared_router.version == version
    assert Rule.objects.filter(router=shared_router).count() == 3


def test_a_manager_may_edit_a_shared_router(client_for, manager, shared_router):
    rule = shared_router.rules.first()
    response = client_for(manager).post(
        reverse("rule_toggle", args=[shared_router.pk, rule.pk]), **HTMX
    )
    assert response.status_code == 200
    rule.refresh_from_db()
    assert rule.enabled is False


def test_an_outsider_gets_404_for_a_private_router(client_for, outsider, private_router):
    client = client_for(outsider)
    rule = private_router.rules.first()
    assert client.get(reverse("router_detail", args=[private_router.pk])).status_code == 404
    assert client.get(reverse("router_export", args=[private_router.pk])).status_code == 404
    assert (
        client.post(reverse("router_test", args=[private_router.pk]), {"message": "hi"}).status_code
        == 404
    )
    assert client.post(reverse("rule_toggle", args=[private_router.pk, rule.pk])).status_code == 404
    assert client.get(reverse("rule_edit", args=[private_router.pk, rule.pk])).status_code == 404


def test_a_rule_reached_through_another_routers_url_is_404(
    client_for, owner, private_router, make_router
):
    other = make_router(slug="other")
    foreign, *_ = add_rules(other)
    client = client_for(owner)
    for name in ["rule_detail", "rule_edit"]:
        assert (
            client.get(reverse(name, args=[private_router.pk, foreign.pk]), **HTMX).status_code
            == 404
        )
    for name in ["rule_toggle", "rule_delete"]:
        assert (
            client.post(reverse(name, args=[private_router.pk, foreign.pk]), **HTMX).status_code
            == 404
        )
    assert Rule.objects.get(pk=foreign.pk).enabled


# --- routers ---------------------------------------------------------------------------------


def test_creating_a_router_redirects_to_its_page(client_for, owner, demo_catalog):
    response = client_for(owner).post(
        reverse("router_create"),
        {"name": "Support desk", "slug": "", "visibility": "private", "primary_model": "demo/small",
         "classifier_model": "", "fallbacks": "demo/large", "cooldown_minutes": 30, "time_zone": "Europe/Berlin"},
    )  # fmt: skip
    router = Router.objects.get(slug="support-desk")
    assert response.status_code == 302
    assert response["Location"] == reverse("router_detail", args=[router.pk])
    assert router.owner == owner and router.fallbacks == ["demo/large"]


def test_router_form_errors_keep_the_input(client_for, owner, private_router):
    response = client_for(owner).post(
        reverse("router_edit", args=[private_router.pk]),
        {"name": "Renamed", "slug": private_router.slug, "visibility": "private", "primary_model": "demo/small",
         "classifier_model": "", "fallbacks": "demo/large, demo/ghost", "cooldown_minutes": 30, "time_zone": "Atlantis/Capital"},
    )  # fmt: skip
    html = response.content.decode()
    assert response.status_code == 422
    assert "demo/ghost" in html and "Atlantis/Capital" in html and 'value="Renamed"' in html
    assert "Unknown model &#x27;demo/ghost&#x27;" in html
    assert "is not an IANA time zone" in html
    private_router.refresh_from_db()
    assert private_router.name == "Private-One"


def test_delete_asks_first_and_lists_workspaces_then_switches_them(
    client_for, owner, private_router, demo_catalog
):
    ws = Workspace.objects.create(
        name="Helpdesk", owner=owner, mode=WorkspaceMode.ROUTER, router=private_router
    )
    client = client_for(owner)
    confirm = client.get(reverse("router_delete", args=[private_router.pk]))
    assert confirm.status_code == 200 and "Helpdesk" in confirm.content.decode()
    assert Router.objects.filter(pk=private_router.pk).exists()

    response = client.post(reverse("router_delete", args=[private_router.pk]))
    assert response.status_code == 302
    ws.refresh_from_db()
    assert ws.mode == WorkspaceMode.MODEL and ws.model == demo_catalog["small"]
    assert not Router.objects.filter(pk=private_router.pk).exists()


# --- rules -----------------------------------------------------------------------------------


def test_adding_a_rule_with_htmx_returns_its_row_and_says_the_draft_changed(
    client_for, owner, private_router
):
    version = private_router.version
    response = client_for(owner).post(
        reverse("rule_create", args=[private_router.pk]), _rule_post(), **HTMX
    )
    assert response.status_code == 200
    rule = Rule.objects.get(router=private_router, name="Tickets")
    html = response.content.decode()
    assert f'id="rule-{rule.pk}"' in html
    assert response["HX-Retarget"] == "#rules" and response["HX-Reswap"] == "beforeend"
    assert "Draft — unpublished changes" in html  # the badge, out of band
    private_router.refresh_from_db()
    assert private_router.version == version + 1
    assert rule.conditions == [
        {"property": "regex", "operator": "matches", "value": r"\b[A-Z]+-\d+\b"}
    ]
    assert rule.position == 3


def test_a_bad_regex_is_shown_inline_and_keeps_what_was_typed(client_for, owner, private_router):
    response = client_for(owner).post(
        reverse("rule_create", args=[private_router.pk]),
        _rule_post(**{"cond-a1-text": "([A-Z]+"}),
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert 'value="([A-Z]+"' in html
    assert "Regex: unbalanced parenthesis" in html
    assert 'value="Tickets"' in html
    assert not Rule.objects.filter(name="Tickets").exists()


def test_an_empty_keyword_list_is_shown_on_its_row(client_for, owner, private_router):
    post = _rule_post(
        **{
            "cond-a1-property": "keywords",
            "cond-a1-operator": "contains_any",
            "cond-a1-text": " , ",
        }
    )
    response = client_for(owner).post(
        reverse("rule_create", args=[private_router.pk]), post, **HTMX
    )
    assert response.status_code == 422
    assert "add at least one keyword" in response.content.decode()


def test_an_llm_rule_without_description_and_an_unknown_fallback_are_reported(
    client_for, owner, private_router
):
    post = _rule_post(kind="llm", description="", fallbacks="demo/ghost")
    response = client_for(owner).post(
        reverse("rule_create", args=[private_router.pk]), post, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 422
    assert "Describe when this rule applies" in html
    assert "Unknown model &#x27;demo/ghost&#x27;" in html
    assert 'value="demo/ghost"' in html


def test_editing_a_rule_replaces_its_row(client_for, owner, private_router):
    rule = private_router.rules.get(name="Images")
    client = client_for(owner)
    form = client.get(reverse("rule_edit", args=[private_router.pk, rule.pk]), **HTMX)
    assert form.status_code == 200 and "Image attached" in form.content.decode()
    post = _rule_post(
        name="Pictures", **{"cond-a1-property": "has_image", "cond-a1-operator": "is_true"}
    )
    response = client.post(reverse("rule_edit", args=[private_router.pk, rule.pk]), post, **HTMX)
    assert response.status_code == 200
    rule.refresh_from_db()
    assert rule.name == "Pictures"
    assert rule.conditions == [{"property": "has_image", "operator": "is_true", "value": None}]
    assert "message has an image" in response.content.decode()


def test_toggle_flips_the_rule_in_one_click(client_for, owner, private_router):
    rule = private_router.rules.first()
    client = client_for(owner)
    response = client.post(reverse("rule_toggle", args=[private_router.pk, rule.pk]), **HTMX)
    assert response.status_code == 200 and 'aria-checked="false"' in response.content.decode()
    rule.refresh_from_db()
    assert rule.enabled is False
    client.post(reverse("rule_toggle", args=[private_router.pk, rule.pk]), **HTMX)
    rule.refresh_from_db()
    assert rule.enabled is True


def test_deleting_a_rule(client_for, owner, private_router):
    rule = private_router.rules.first()
    response = client_for(owner).post(
        reverse("rule_delete", args=[private_router.pk, rule.pk]), **HTMX
    )
    assert response.status_code == 200
    assert not Rule.objects.filter(pk=rule.pk).exists()


def test_reorder_saves_the_new_order_in_one_post(client_for, owner, private_router):
    code, legal, images = private_router.rules.order_by("position")
    response = client_for(owner).post(
        reverse("rule_reorder", args=[private_router.pk]),
        {"rule_ids": [images.pk, code.pk, legal.pk]},
        **HTMX,
    )
    assert response.status_code == 200 and "Order saved" in response.content.decode()
    assert list(private_router.rules.order_by("position")) == [images, code, legal]


def test_reorder_with_a_foreign_rule_id_changes_nothing(
    client_for, owner, private_router, make_router
):
    foreign, *_ = add_rules(make_router(slug="other"))
    code, legal, images = private_router.rules.order_by("position")
    response = client_for(owner).post(
        reverse("rule_reorder", args=[private_router.pk]),
        {"rule_ids": [images.pk, code.pk, legal.pk, foreign.pk]},
        **HTMX,
    )
    assert response.status_code == 422
    assert "not rules of this router" in response.content.decode()
    assert list(private_router.rules.order_by("position")) == [code, legal, images]


def test_the_condition_row_follows_the_chosen_property(client_for, owner, private_router):
    client = client_for(owner)
    url = reverse("condition_row", args=[private_router.pk])
    html = client.get(
        url,
        {"cond": "k1", "cond-k1-property": "time_of_day", "cond-k1-operator": "contains_any"},
        **HTMX,
    ).content.decode()
    # contains_any does not apply to a time: the first allowed operator (between) is chosen.
    assert 'value="between" selected' in html and 'value="contains_any"' not in html
    assert html.count('type="time"') == 2
    html = client.get(
        url, {"cond": "k1", "cond-k1-property": "day_of_week"}, **HTMX
    ).content.decode()
    assert html.count('type="checkbox"') == 7
    html = client.get(url, {"cond": "k1", "cond-k1-property": "has_code"}, **HTMX).content.decode()
    assert "no value needed" in html
    html = client.get(
        url,
        {"cond": "k1", "cond-k1-property": "message_tokens", "cond-k1-operator": "between"},
        **HTMX,
    ).content.decode()
    assert html.count('type="number"') == 2


# --- test panel ------------------------------------------------------------------------------


def test_the_test_panel_names_the_winning_calculated_rule(client_for, owner, private_router):
    response = client_for(owner).post(
        reverse("router_test", args=[private_router.pk]),
        {"message": "There is a bug in my python"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert 'class="winner-name">Code<' in html
    assert "Demo Coder" in html
    assert "found &quot;python&quot;" in html or "found &quot;bug&quot;" in html
    assert "No classifier call was needed." in html


def test_the_test_panel_shows_the_classifiers_verdict_for_llm_rules(
    client_for, owner, private_router
):
    response = client_for(owner).post(
        reverse("router_test", args=[private_router.pk]),
        {"message": "Can you review this contract for compliance with the law?"},
        **HTMX,
    )
    html = response.content.decode()
    assert 'class="winner-name">Legal<' in html
    assert "picked “Legal”" in html
    assert " ms" in html


def test_the_test_panel_honours_image_and_time_inputs(client_for, owner, private_router):
    response = client_for(owner).post(
        reverse("router_test", args=[private_router.pk]),
        {"message": "what is this?", "has_image": "on", "time_of_day": "23:30", "turns": "3"},
        **HTMX,
    )
    assert 'class="winner-name">Images<' in response.content.decode()


def test_the_test_panel_rejects_an_empty_message(client_for, owner, private_router):
    response = client_for(owner).post(
        reverse("router_test", args=[private_router.pk]), {"message": ""}, **HTMX
    )
    assert response.status_code == 422


# --- import / export -------------------------------------------------------------------------


def test_export_downloads_slug_router_json(client_for, teammate, shared_router):
    response = client_for(teammate).get(reverse("router_export", args=[shared_router.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="shared-one.router.json"'
    data = json.loads(response.content)
    assert data["format"] == "routerweb.router" and [
        r["name"] for r in data["router"]["rules"]
    ] == ["Code", "Legal", "Images"]


def test_importing_pasted_json_creates_a_router_owned_by_the_importer(
    client_for, teammate, shared_router
):
    exported = services.router_export(router=shared_router)
    response = client_for(teammate).post(
        reverse("router_import"), {"json": json.dumps(exported), "slug": ""}
    )
    created = Router.objects.get(slug="shared-one-2")
    assert response.status_code == 302 and response["Location"] == reverse(
        "router_detail", args=[created.pk]
    )
    assert created.owner == teammate and created.rules.count() == 3


def test_importing_a_bad_file_changes_nothing_and_says_where(client_for, teammate, shared_router):
    data = services.router_export(router=shared_router)
    data["router"]["rules"][0]["conditions"][0] = {
        "property": "regex",
        "operator": "matches",
        "value": "(x",
    }
    upload = _upload("bad.router.json", json.dumps(data))
    response = client_for(teammate).post(reverse("router_import"), {"file": upload})
    html = response.content.decode()
    assert response.status_code == 422
    assert "condition 1, value: Regex: unbalanced parenthesis" in html
    assert "rule 1 “" in html
    assert Router.objects.count() == 1


def _upload(name: str, text: str):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, text.encode(), content_type="application/json")


def test_the_builder_works_without_javascript(client_for, owner, private_router):
    client = client_for(owner)
    page = client.get(reverse("rule_create", args=[private_router.pk]))
    assert page.status_code == 200 and "<html" in page.content.decode()
    response = client.post(reverse("rule_create", args=[private_router.pk]), _rule_post())
    assert response.status_code == 302 and response["Location"] == reverse(
        "router_detail", args=[private_router.pk]
    )
    rule = Rule.objects.get(router=private_router, name="Tickets")
    assert client.post(reverse("rule_toggle", args=[private_router.pk, rule.pk])).status_code == 302
    tested = client.post(
        reverse("router_test", args=[private_router.pk]), {"message": "ticket ABC-123"}
    )
    assert (
        tested.status_code == 200 and 'class="winner-name">Tickets<' not in tested.content.decode()
    )
