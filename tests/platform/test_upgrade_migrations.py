"""An existing database made before the apps were split upgrades with `migrate` and loses nothing.

The test rolls the schema back to the last migrations of the layout before the split (catalog in
`chat`, RoutingDecision in `routers`), writes one row of every routing-related table through the
historical models of that state, migrates forward and reads each row back through today's models.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

# The last migrations of the apps the split touched, before it (accounts and audit are unchanged).
BEFORE_SPLIT = [
    ("chat", "0003_message_note_role"),
    ("routers", "0003_semantic_rules"),
    # Apps that did not exist yet: none of their migrations applied.
    ("providers", None),
    ("decisions", None),
]


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state([t for t in targets if t[1] is not None]).apps


def _fill_old_schema(old) -> dict[str, int]:
    User = old.get_model("accounts", "User")
    Provider = old.get_model("chat", "Provider")
    CatalogModel = old.get_model("chat", "CatalogModel")
    Router = old.get_model("routers", "Router")
    Rule = old.get_model("routers", "Rule")
    Workspace = old.get_model("chat", "Workspace")
    Thread = old.get_model("chat", "Thread")
    Message = old.get_model("chat", "Message")
    RoutingDecision = old.get_model("routers", "RoutingDecision")

    user = User.objects.create(username="keeper", role="member")
    provider = Provider.objects.create(name="Local", slug="local", kind="demo")
    model = CatalogModel.objects.create(
        provider=provider, model_id="small", display_name="Small", input_price_per_m=Decimal("1")
    )
    router = Router.objects.create(name="R", slug="r", owner=user, primary_model=model)
    rule = Rule.objects.create(router=router, name="Code", target_model=model, position=1)
    workspace = Workspace.objects.create(name="W", owner=user, mode="router", router=router)
    workspace.members.add(user)
    thread = Thread.objects.create(workspace=workspace, owner=user, override_model=model)
    message = Message.objects.create(thread=thread, role="assistant", model=model, content="hi")
    decision = RoutingDecision.objects.create(
        router=router,
        rule=rule,
        rule_name="Code",
        user=user,
        workspace=workspace,
        message=message,
        cost=Decimal("0.5"),
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )
    return {
        "user": user.pk,
        "provider": provider.pk,
        "model": model.pk,
        "router": router.pk,
        "rule": rule.pk,
        "workspace": workspace.pk,
        "thread": thread.pk,
        "message": message.pk,
        "decision": decision.pk,
    }


@pytest.mark.django_db(transaction=True)
def test_a_database_from_before_the_split_upgrades_without_losing_a_row():
    from chat.models import Message, Thread, Workspace
    from decisions.models import RoutingDecision
    from providers.models import CatalogModel, Provider
    from routers.models import Router, Rule

    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    try:
        ids = _fill_old_schema(_migrate(BEFORE_SPLIT))
    finally:
        _migrate(latest)  # later tests need today's schema whatever happened above

    provider = Provider.objects.get(pk=ids["provider"])
    model = CatalogModel.objects.get(pk=ids["model"])
    assert (provider.slug, model.ref, model.input_price_per_m) == ("local", "local/small", 1)
    router = Router.objects.get(pk=ids["router"])
    assert router.primary_model == model
    assert Rule.objects.get(pk=ids["rule"]).target_model == model
    workspace = Workspace.objects.get(pk=ids["workspace"])
    assert (workspace.router, list(workspace.members.values_list("pk", flat=True))) == (
        router,
        [ids["user"]],
    )
    assert Thread.objects.get(pk=ids["thread"]).override_model == model
    message = Message.objects.get(pk=ids["message"])
    assert (message.model, message.content) == (model, "hi")
    decision = RoutingDecision.objects.get(pk=ids["decision"])
    assert (decision.router, decision.rule_id, decision.user_id, decision.cost) == (
        router,
        ids["rule"],
        ids["user"],
        Decimal("0.5"),
    )
    assert (decision.workspace_id, decision.message_id) == (ids["workspace"], ids["message"])

    # The decision's chat ids are plain ids now: the database constraint went with the move, so
    # deleting the chat rows keeps the log (a leftover constraint would refuse this).
    workspace.delete()
    decision.refresh_from_db()
    assert (decision.workspace_id, decision.message_id) == (ids["workspace"], ids["message"])
