"""Routers that exist when versions arrive get their current state as published v1.

The schema is rolled back to the last routers migration before versions, a router with rules
is written through the historical models, and `migrate` runs forward: the router must then
route (as traffic does, through its published version) exactly as its rows did.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE_VERSIONS = ("routers", "0006_slug_unique_per_owner_and_among_shared")


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _fill(old) -> dict[str, int]:
    User = old.get_model("accounts", "User")
    Provider = old.get_model("providers", "Provider")
    CatalogModel = old.get_model("providers", "CatalogModel")
    Router = old.get_model("routers", "Router")
    Rule = old.get_model("routers", "Rule")

    user = User.objects.create(username="keeper", role="member")
    provider = Provider.objects.create(name="Demo", slug="demo", kind="demo")
    small, coder = (
        CatalogModel.objects.create(
            provider=provider,
            model_id=name,
            display_name=name,
            input_price_per_m=Decimal("1"),
            kind="chat",
        )
        for name in ("small", "coder")
    )
    router = Router.objects.create(
        name="Old", slug="old", owner=user, primary_model=small, version=7, sticky=True
    )
    code = Rule.objects.create(
        router=router,
        name="Code",
        position=0,
        kind="calculated",
        match="any",
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["python"]}],
        target_model=coder,
    )
    off = Rule.objects.create(
        router=router,
        name="Off",
        position=1,
        enabled=False,
        kind="llm",
        description="anything legal",
        target_model=small,
    )
    return {"router": router.pk, "code": code.pk, "off": off.pk, "user": user.pk}


@pytest.mark.django_db(transaction=True)
def test_existing_routers_get_their_current_state_as_published_v1():
    from planning.planner import decision_of, panel_request, plan_sync
    from routers import versions
    from routers.models import Router

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        # Every other app stays at its latest migration (their state is today's), except the
        # apps made after versions (experiments, evaluation): their migrations need them.
        after = ("experiments", "evaluation")
        before = [node for node in latest if node[0] not in ("routers", *after)]
        executor = MigrationExecutor(connection)
        executor.migrate([(app, None) for app in after])
        ids = _fill(_migrate([*before, BEFORE_VERSIONS]))
    finally:
        _migrate(latest)  # later tests need today's schema whatever happened above

    router = Router.objects.get(pk=ids["router"])
    version = router.published_version
    assert version is not None and version.number == 1 and version.published_by is None
    assert list(router.versions.all()) == [version]
    rules = version.snapshot["router"]["rules"]
    assert [(r["id"], r["name"], r["enabled"]) for r in rules] == [
        (ids["code"], "Code", True),
        (ids["off"], "Off", False),
    ]
    assert not versions.router_draft_changed(router=router), "v1 routes exactly like the rows"
    assert router.version == 7, "the draft's edit count is kept"

    published = versions.router_published(router)
    decision = decision_of(
        plan_sync(panel_request(router=published, user=router.owner, text="python please"))
    )
    assert (decision["rule_name"], decision["model"], decision["router_version"]) == (
        "Code",
        "demo/coder",
        1,
    )
    assert published.sticky is True
