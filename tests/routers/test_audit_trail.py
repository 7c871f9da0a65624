from __future__ import annotations

from django.urls import reverse

from audit.models import AuditEntry
from routers import services


def test_every_change_to_a_router_and_its_rules_is_in_the_audit_log(
    owner, admin_user, client_for, demo_catalog
):
    router = services.router_create(
        owner=owner, name="Support", primary_model="demo/small", actor=owner
    )
    rule = services.rule_create(
        router=router,
        actor=owner,
        name="Code",
        kind="calculated",
        target_model="demo/coder",
        conditions=[{"property": "keywords", "operator": "contains_any", "value": ["python"]}],
    )
    other = services.rule_create(
        router=router,
        actor=owner,
        name="Legal",
        kind="llm",
        target_model="demo/large",
        description="law",
    )
    services.rule_update(rule=rule, actor=owner, target_model="demo/large")
    services.rule_set_enabled(rule=rule, enabled=False, actor=owner)
    services.router_reorder(router=router, rule_ids=[other.pk, rule.pk], actor=owner)
    services.router_update(router=router, actor=owner, visibility="shared")
    services.rule_delete(rule=other, actor=owner)
    services.router_delete(router=router, actor=owner)

    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions == [
        "router.create",
        "rule.create",
        "rule.create",
        "rule.update",
        "rule.disable",
        "router.reorder",
        "router.update",
        "rule.delete",
        "router.delete",
    ]
    update = AuditEntry.objects.get(action="rule.update")
    assert update.changes == {"target_model": ["demo/coder", "demo/large"]}
    assert update.actor_name == "olivia" and update.object_repr == "Support › Code"
    reorder = AuditEntry.objects.get(action="router.reorder")
    assert reorder.changes["order"] == [["Code", "Legal"], ["Legal", "Code"]]

    page = (
        client_for(admin_user).get(reverse("audit_list"), {"object_type": "rule"}).content.decode()
    )
    assert "rule.update" in page and "router.update" not in page
