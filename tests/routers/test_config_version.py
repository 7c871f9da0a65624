"""The routing configuration's version token: every kind of change replaces it."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache

from providers.models import CatalogModel, Provider
from routers import config_version, services

current = async_to_sync(config_version.current)


@pytest.fixture
def router(make_router):
    router = make_router(slug="versioned")
    services.rule_create(
        router=router,
        name="Long",
        kind="calculated",
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["essay"]}],
        target_model="demo/large",
        actor=router.owner,
    )
    return router


def changes(action) -> bool:
    before = current()
    action()
    return current() != before


def test_router_and_rule_changes_replace_the_token(router):
    rule = router.rules.get()
    assert changes(
        lambda: services.router_update(router=router, name="Renamed", actor=router.owner)
    )
    assert changes(lambda: services.rule_update(rule=rule, name="Longer", actor=rule.router.owner))
    assert changes(
        lambda: services.rule_set_enabled(rule=rule, enabled=False, actor=rule.router.owner)
    )
    assert changes(
        lambda: services.router_reorder(router=router, rule_ids=[rule.pk], actor=router.owner)
    )
    assert changes(lambda: services.rule_delete(rule=rule, actor=rule.router.owner))
    assert changes(lambda: services.router_delete(router=router, actor=router.owner))


def test_catalog_and_provider_changes_replace_the_token(demo_catalog):
    model = CatalogModel.objects.first()
    provider = Provider.objects.get(pk=model.provider_id)

    def disable():
        model.enabled = False
        model.save()

    def rotate_key():
        provider.api_key = "sk-new"
        provider.save()

    assert changes(disable)
    assert changes(rotate_key)
    assert changes(model.delete)


def test_reading_changes_nothing(router):
    assert current() == current()


def test_a_lost_token_is_replaced_by_one_never_seen_before():
    first = current()
    cache.clear()
    second = current()
    assert second and second != first
    assert current() == second


def test_the_token_is_replaced_again_when_the_change_commits(
    router, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.router_update(router=router, name="In flight", actor=router.owner)
    during = current()
    for callback in callbacks:
        callback()
    # A call that read the old rows while the change was in flight filed them under `during`.
    assert current() != during
