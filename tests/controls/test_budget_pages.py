"""Budget pages: admins and managers set and see budgets; everyone sees their own spend."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from chat.models import Workspace
from governance.models import Budget, SpendEntry
from tests.routers.conftest import make_router  # noqa: F401


@pytest.fixture
def team(owner):
    workspace = Workspace.objects.create(name="Team chat", owner=owner)
    workspace.members.add(owner)
    return workspace


def test_an_admin_sets_a_monthly_team_budget_with_an_80_percent_step(client_for, admin_user, team):
    client = client_for(admin_user)
    response = client.post(
        reverse("budget_create"),
        {
            "name": "Team monthly",
            "enabled": "on",
            "scope": "workspace",
            "workspace": team.pk,
            "period": "month",
            "limit": "50",
            "step_percent": "80",
            "over_action": "refuse",
        },
    )
    assert response.status_code == 302
    budget = Budget.objects.get()
    assert (budget.workspace_id, budget.limit, budget.step_percent) == (team.pk, 50, 80)
    assert budget.user is None and budget.router_id is None
    from audit.models import AuditEntry

    entry = AuditEntry.objects.get(action="budget.create")
    assert entry.actor == admin_user and entry.changes["step_percent"] == [None, 80]
    page = client.get(reverse("budget_list")).content.decode()
    assert "Team monthly" in page and "workspace Team chat" in page
    assert "steps down at 80%" in page


@pytest.mark.parametrize(
    "fields, field, message",
    [
        ({"scope": "workspace"}, "workspace", "Choose the workspace"),
        ({"scope": "user", "limit": "0"}, "limit", "greater than or equal to 0.01"),
        ({"scope": "user", "step_percent": "120"}, "step_percent", "less than or equal to 99"),
        ({"scope": "user", "over_action": "listed"}, "allowed_models", "at least one model"),
        ({"scope": "user", "step_tier": "Balanced!"}, "step_tier", "is not a tier name"),
        ({"scope": "user", "step_tier": "balanced"}, "step_percent", "Set the step"),
    ],
)
def test_a_bad_budget_is_refused_field_by_field_and_nothing_is_saved(
    client_for, admin_user, fields, field, message
):
    data = {
        "name": "B",
        "scope": "user",
        "user": admin_user.pk,
        "period": "day",
        "limit": "5",
        "over_action": "refuse",
        **fields,
    }
    response = client_for(admin_user).post(reverse("budget_create"), data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Budget.objects.exists()


def test_a_manager_may_manage_budgets_and_a_member_may_not(client_for, django_user_model, owner):
    manager = django_user_model.objects.create_user(username="mia", password="x", role="manager")
    assert client_for(manager).get(reverse("budget_list")).status_code == 200
    assert client_for(owner).get(reverse("budget_list")).status_code == 403
    assert client_for(owner).post(reverse("budget_create"), {}).status_code == 403


def test_a_member_sees_their_own_spend_and_the_budgets_that_bind_them(
    client_for, owner, teammate, team
):
    Budget.objects.create(
        name="Team monthly", scope="workspace", workspace_id=team.pk, limit=Decimal("10")
    )
    Budget.objects.create(name="Tom only", scope="user", user=teammate, limit=Decimal("1"))
    now = timezone.now()
    SpendEntry.objects.create(
        uid="a", created_at=now, cost=Decimal("8.5"), user_id=owner.pk, workspace_id=team.pk
    )
    SpendEntry.objects.create(uid="b", created_at=now, cost=Decimal("3"), user_id=teammate.pk)
    page = client_for(owner).get(reverse("my_spend")).content.decode()
    assert "$8.5000" in page
    assert "Team monthly" in page and "$8.50</strong> of $10.00 (85%)" in page
    assert "Tom only" not in page


def test_router_analytics_show_the_routers_budgets(client_for, owner, make_router):  # noqa: F811
    router = make_router()
    Budget.objects.create(
        name="Router weekly",
        scope="router",
        router_id=router.pk,
        period="week",
        limit=Decimal("4"),
        step_percent=50,
    )
    SpendEntry.objects.create(
        uid="r", created_at=timezone.now(), cost=Decimal("3"), router_id=router.pk
    )
    page = client_for(owner).get(reverse("router_analytics", args=[router.pk])).content.decode()
    assert "Budgets on this router" in page
    assert "$3.00</strong> of $4.00 (75%)" in page
    assert "past 50%: the cheapest suitable model answers" in page


def test_an_admin_sets_a_budget_that_steps_to_a_tier(client_for, admin_user, team):
    client = client_for(admin_user)
    response = client.post(
        reverse("budget_create"),
        {
            "name": "Team monthly",
            "enabled": "on",
            "scope": "workspace",
            "workspace": team.pk,
            "period": "month",
            "limit": "50",
            "step_percent": "80",
            "step_tier": " balanced ",
            "over_action": "refuse",
        },
    )
    assert response.status_code == 302
    assert Budget.objects.get().step_tier == "balanced"
    page = client.get(reverse("budget_list")).content.decode()
    assert "steps down at 80% to tier balanced" in page
