from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from chat.models import Workspace, WorkspaceMode
from routers import services
from routers.models import Router, Rule
from tests.routers.conftest import add_rules

pytestmark = pytest.mark.django_db


def _errors(exc_info) -> dict[str, list[str]]:
    return exc_info.value.message_dict


def test_it_creates_a_router_at_version_one_and_derives_the_slug(owner, demo_catalog):
    router = services.router_create(
        owner=owner, name="Team Support", primary_model="demo/small", actor=owner
    )
    assert router.slug == "team-support"
    assert router.version == 1
    assert router.primary_model == demo_catalog["small"]


def test_every_change_bumps_the_version_by_one(private_router):
    router = private_router
    start = router.version
    code, legal, images = router.rules.order_by("position")

    services.router_update(router=router, description="new text", actor=router.owner)
    assert router.version == start + 1
    services.rule_update(rule=code, name="Code questions", actor=code.router.owner)
    services.rule_set_enabled(rule=legal, enabled=False, actor=legal.router.owner)
    services.router_reorder(
        router=router, rule_ids=[images.pk, code.pk, legal.pk], actor=router.owner
    )
    services.rule_delete(rule=images, actor=images.router.owner)
    services.rule_create(
        router=router, name="Late", kind="calculated", target_model="demo/small",
        conditions=[{"property": "turns", "operator": "gt", "value": 10}], actor=router.owner,
    )  # fmt: skip
    router.refresh_from_db()
    assert router.version == start + 6


def test_setting_the_same_enabled_state_is_not_a_change(private_router):
    rule = private_router.rules.first()
    version = private_router.version
    services.rule_set_enabled(rule=rule, enabled=True, actor=rule.router.owner)
    private_router.refresh_from_db()
    assert private_router.version == version


def test_it_rejects_a_bad_regex_with_the_engines_message(private_router):
    with pytest.raises(ValidationError) as exc:
        services.rule_create(
            router=private_router, name="Tickets", kind="calculated", target_model="demo/coder",
            conditions=[{"property": "regex", "operator": "matches", "value": "(unclosed"}], actor=private_router.owner,
        )  # fmt: skip
    # Located at the condition's value, in the engine's words (as the form and an import).
    assert _errors(exc)["conditions[0].value"][0].startswith("Regex: unbalanced parenthesis")
    assert not Rule.objects.filter(name="Tickets").exists()


def test_it_rejects_an_empty_keyword_list(private_router):
    with pytest.raises(ValidationError) as exc:
        services.rule_create(
            router=private_router, name="Empty", kind="calculated", target_model="demo/coder",
            conditions=[{"property": "keywords", "operator": "contains_any", "value": []}], actor=private_router.owner,
        )  # fmt: skip
    assert "keyword" in " ".join(_errors(exc)["conditions[0].value"])


def test_an_llm_rule_needs_a_description_and_a_calculated_rule_a_condition(private_router):
    with pytest.raises(ValidationError) as exc:
        services.rule_create(
            router=private_router,
            name="Vague",
            kind="llm",
            target_model="demo/large",
            actor=private_router.owner,
        )
    assert "description" in _errors(exc)
    with pytest.raises(ValidationError) as exc:
        services.rule_create(
            router=private_router,
            name="Nothing",
            kind="calculated",
            target_model="demo/large",
            actor=private_router.owner,
        )
    assert "conditions" in _errors(exc)


def test_model_refs_must_exist_in_the_enabled_catalog(private_router, demo_catalog):
    with pytest.raises(ValidationError) as exc:
        services.rule_create(
            router=private_router, name="X", kind="llm", description="anything", target_model="demo/nope",
            fallbacks=["openai/gpt-none"], actor=private_router.owner,
        )  # fmt: skip
    errors = _errors(exc)
    assert "demo/nope" in errors["target_model"][0]
    assert "openai/gpt-none" in errors["fallbacks[0]"][0]

    demo_catalog["large"].enabled = False
    demo_catalog["large"].save()
    with pytest.raises(ValidationError) as exc:
        services.router_update(
            router=private_router, primary_model="demo/large", actor=private_router.owner
        )
    assert "primary_model" in _errors(exc)


def test_slug_must_be_unique_and_time_zone_valid(private_router, owner):
    with pytest.raises(ValidationError) as exc:
        services.router_create(
            owner=owner,
            name="Copy",
            slug=private_router.slug,
            primary_model="demo/small",
            time_zone="Mars/Olympus",
            actor=owner,
        )
    errors = _errors(exc)
    assert "already used" in errors["slug"][0]
    assert "IANA" in errors["time_zone"][0]


def test_a_failed_update_changes_nothing(private_router):
    version = private_router.version
    with pytest.raises(ValidationError):
        services.router_update(
            router=private_router,
            name="Renamed",
            time_zone="Nowhere/Land",
            actor=private_router.owner,
        )
    stored = Router.objects.get(pk=private_router.pk)
    assert (stored.name, stored.version) == ("Private-One", version)


def test_reorder_puts_rules_in_the_given_order(private_router):
    code, legal, images = private_router.rules.order_by("position")
    services.router_reorder(
        router=private_router, rule_ids=[legal.pk, images.pk, code.pk], actor=private_router.owner
    )
    assert list(private_router.rules.order_by("position").values_list("name", flat=True)) == [
        "Legal",
        "Images",
        "Code",
    ]


@pytest.mark.parametrize("shape", ["foreign", "missing", "duplicate"])
def test_reorder_refuses_anything_but_exactly_the_routers_rules(private_router, make_router, shape):
    other = make_router(slug="other")
    foreign, *_ = add_rules(other)
    code, legal, images = private_router.rules.order_by("position")
    ids = {
        "foreign": [images.pk, code.pk, legal.pk, foreign.pk],
        "missing": [images.pk, code.pk],
        "duplicate": [images.pk, code.pk, legal.pk, code.pk],
    }[shape]
    version = private_router.version
    with pytest.raises(ValidationError) as exc:
        services.router_reorder(router=private_router, rule_ids=ids, actor=private_router.owner)
    assert "rule_ids" in _errors(exc)
    assert list(private_router.rules.order_by("position")) == [code, legal, images]
    assert list(other.rules.order_by("position"))[0] == foreign
    private_router.refresh_from_db()
    assert private_router.version == version


def test_deleting_a_router_switches_its_workspaces_to_the_primary_model(
    private_router, owner, demo_catalog
):
    ws = Workspace.objects.create(
        name="Support", owner=owner, mode=WorkspaceMode.ROUTER, router=private_router
    )
    switched = services.router_delete(router=private_router, actor=private_router.owner)
    ws.refresh_from_db()
    assert switched == [ws.pk]
    assert (ws.mode, ws.model, ws.router) == (WorkspaceMode.MODEL, demo_catalog["small"], None)
    assert not Router.objects.filter(pk=private_router.pk).exists()


def test_a_new_router_starts_in_the_instances_time_zone(owner, demo_catalog, settings):
    from routers.forms import RouterForm

    settings.TIME_ZONE = "Europe/Paris"
    router = services.router_create(
        owner=owner, name="Here", primary_model="demo/small", actor=owner
    )
    assert router.time_zone == "Europe/Paris"
    assert RouterForm().fields["time_zone"].initial == "Europe/Paris"
    other = services.router_create(
        owner=owner, name="There", primary_model="demo/small", time_zone="Asia/Tokyo", actor=owner
    )
    assert other.time_zone == "Asia/Tokyo"


def test_a_bad_instance_time_zone_stops_the_app_with_a_message(monkeypatch):
    from django.core.exceptions import ImproperlyConfigured

    from routerweb.env import env_time_zone

    monkeypatch.setenv("TIME_ZONE", "Mars/Olympus")
    with pytest.raises(ImproperlyConfigured, match="IANA time zone"):
        env_time_zone("TIME_ZONE", "UTC")
    monkeypatch.setenv("TIME_ZONE", "America/New_York")
    assert env_time_zone("TIME_ZONE", "UTC") == "America/New_York"


def test_the_machines_time_zone_is_the_default(monkeypatch):
    from routerweb.env import system_time_zone

    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert system_time_zone() == "Asia/Tokyo"
    monkeypatch.setenv("TZ", ":Europe/Paris")
    assert system_time_zone() == "Europe/Paris"
    monkeypatch.setenv("TZ", "Not/AZone")
    assert system_time_zone() != "Not/AZone"  # falls back to the machine's files, or UTC
