"""Policy pages: admins manage every policy, workspace managers and router editors their own;
bad policies are refused field by field with nothing saved; every change is audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditEntry
from chat.models import Workspace
from governance.models import Policy
from governance.selectors import policy_set_for
from tests.routers.conftest import make_router  # noqa: F401


@pytest.fixture
def team(owner):
    workspace = Workspace.objects.create(name="Team chat", owner=owner)
    workspace.members.add(owner)
    return workspace


def _post(**fields):
    data = {
        "name": "Customer data",
        "enabled": "on",
        "scope": "instance",
        "detectors": ["card", "iban"],
        "patterns": "",
        "keywords": "",
        "action": "restrict",
        "approved": ["demo/small"],
    }
    data.update(fields)
    return data


def test_an_admin_creates_a_customer_data_policy_for_everyone(client_for, admin_user, demo_catalog):
    client = client_for(admin_user)
    response = client.post(reverse("policy_create"), _post())
    assert response.status_code == 302
    policy = Policy.objects.get()
    assert (policy.scope, policy.detectors, policy.approved) == (
        "instance",
        ["card", "iban"],
        ["demo/small"],
    )
    assert policy.created_by == admin_user
    entry = AuditEntry.objects.get(action="policy.create")
    assert entry.actor == admin_user and entry.changes["approved"] == [None, ["demo/small"]]
    page = client.get(reverse("policy_list")).content.decode()
    assert "Customer data" in page and "for everyone" in page
    # It applies from the next message, in every process (the routing config version moves).
    checked = policy_set_for(workspace_id=None, router_id=None)
    assert checked.check(("my card is 4111 1111 1111 1111",)).restricting


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"patterns": "ACME-(\\d{6}"}, "Pattern"),
        ({"patterns": "(a+)+\\1"}, "Pattern"),
        ({"detectors": [], "patterns": "", "keywords": ""}, "at least one detector"),
        ({"approved": []}, "at least one approved model"),
        ({"detectors": ["telepathy"]}, "telepathy"),
        ({"approved": ["nowhere/model"]}, "nowhere/model"),
        ({"scope": "workspace"}, "Choose the workspace"),
        ({"scope": "router"}, "Choose the router"),
        ({"name": ""}, "This field is required"),
    ],
)
def test_a_bad_policy_is_refused_with_a_clear_error_and_nothing_is_saved(
    client_for, admin_user, demo_catalog, fields, message
):
    response = client_for(admin_user).post(reverse("policy_create"), _post(**fields))
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not Policy.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="policy.").exists()


def test_a_workspace_owner_manages_policies_of_their_workspace_only(
    client_for, owner, teammate, team, demo_catalog
):
    client = client_for(owner)
    form = client.get(reverse("policy_create")).content.decode()
    assert 'value="instance"' not in form, "the instance's policies are the admins'"
    created = client.post(
        reverse("policy_create"), _post(scope="workspace", workspace=team.pk, action="refuse")
    )
    assert created.status_code == 302
    policy = Policy.objects.get()
    assert (policy.scope, policy.workspace_id, policy.router_id) == ("workspace", team.pk, None)

    # Someone else's workspace is not offered, and an instance policy is refused.
    other = Workspace.objects.create(name="Other", owner=teammate)
    bad = client.post(reverse("policy_create"), _post(scope="workspace", workspace=other.pk))
    assert bad.status_code == 422 and Policy.objects.count() == 1
    bad = client.post(reverse("policy_create"), _post(scope="instance"))
    assert bad.status_code == 422 and Policy.objects.count() == 1

    # A teammate may not see it (404), a member of the workspace sees it but may not edit it.
    assert client_for(teammate).get(reverse("policy_edit", args=[policy.pk])).status_code == 404
    team.members.add(teammate)
    listing = client_for(teammate).get(reverse("policy_list")).content.decode()
    assert "Customer data" in listing and "managed by the workspace" in listing
    assert client_for(teammate).post(reverse("policy_delete", args=[policy.pk])).status_code == 403
    assert Policy.objects.exists()


def test_a_router_owner_edits_and_deletes_a_policy_of_their_router(
    client_for,
    owner,
    make_router,  # noqa: F811
    demo_catalog,
):
    router = make_router()
    client = client_for(owner)
    client.post(reverse("policy_create"), _post(scope="router", router=router.pk))
    policy = Policy.objects.get()
    assert policy.router_id == router.pk

    edited = client.post(
        reverse("policy_edit", args=[policy.pk]),
        _post(scope="router", router=router.pk, action="mask", keywords="Project Falcon"),
    )
    assert edited.status_code == 302
    policy.refresh_from_db()
    assert (policy.action, policy.keywords) == ("mask", "Project Falcon")
    update = AuditEntry.objects.get(action="policy.update")
    assert update.changes["action"] == ["restrict", "mask"]

    deleted = client.post(reverse("policy_delete", args=[policy.pk]), HTTP_HX_REQUEST="true")
    assert deleted.headers["HX-Redirect"] == reverse("policy_list")
    assert not Policy.objects.exists()
    assert AuditEntry.objects.filter(action="policy.delete", actor=owner).exists()


def test_an_instance_policy_is_read_only_for_managers_and_members(
    client_for, admin_user, manager, owner, demo_catalog
):
    client_for(admin_user).post(reverse("policy_create"), _post())
    policy = Policy.objects.get()
    for person in (manager, owner):
        page = client_for(person).get(reverse("policy_list")).content.decode()
        assert "Customer data" in page and "managed by the admins" in page
        assert reverse("policy_edit", args=[policy.pk]) not in page
        response = client_for(person).post(reverse("policy_edit", args=[policy.pk]), _post())
        assert response.status_code == 403


def test_an_approved_model_gone_from_the_catalog_is_shown_and_flagged_not_dropped(
    client_for, admin_user, demo_catalog
):
    policy = Policy.objects.create(
        name="Old", detectors=["card"], action="restrict", approved=["gone/model", "demo/small"]
    )
    client = client_for(admin_user)
    form = client.get(reverse("policy_edit", args=[policy.pk])).content.decode()
    assert "gone/model (not in the catalog any more)" in form
    response = client.post(
        reverse("policy_edit", args=[policy.pk]),
        _post(name="Old", approved=["gone/model", "demo/small"]),
    )
    assert response.status_code == 422
    assert "Not in the catalog: gone/model" in response.content.decode()
    policy.refresh_from_db()
    assert policy.approved == ["gone/model", "demo/small"]


def test_someone_who_manages_nothing_is_told_so_instead_of_an_empty_form(client_for, outsider):
    client = client_for(outsider)
    assert "New policy" not in client.get(reverse("policy_list")).content.decode()
    response = client.get(reverse("policy_create"))
    assert response.status_code == 403
    assert "you have none of these yet" in response.content.decode()
