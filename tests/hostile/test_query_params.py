"""Record ids sent in forms and query strings: anything but a whole number is a 400, an id
that names nothing (or nothing the user may see) a 404 — never a 500."""

from __future__ import annotations

import pytest

# The last two: larger than any id column holds.
NOT_IDS = ["abc", "1.5", "-1", "1e3", "\x00", "99999999999999999999", "9" * 5000]


@pytest.fixture
def client(client_for, owner):
    client = client_for(owner)
    client.raise_request_exception = False
    return client


@pytest.mark.parametrize("value", NOT_IDS)
def test_route_preview_with_a_thread_that_is_not_an_id_is_a_400(client, workspace, value):
    response = client.post(f"/workspaces/{workspace.pk}/preview/", {"thread": value, "text": "hi"})
    assert response.status_code == 400


def test_route_preview_with_an_unknown_thread_is_a_404(client, workspace):
    value = "123456"
    response = client.post(f"/workspaces/{workspace.pk}/preview/", {"thread": value, "text": "hi"})
    assert response.status_code == 404


def test_route_preview_with_the_users_thread_still_works(client, workspace, thread):
    response = client.post(
        f"/workspaces/{workspace.pk}/preview/", {"thread": str(thread.pk), "text": "hi"}
    )
    assert response.status_code == 200


@pytest.mark.parametrize("value", NOT_IDS)
def test_workspace_members_with_a_user_that_is_not_an_id_is_a_400(client, workspace, value):
    response = client.post(f"/workspaces/{workspace.pk}/members/", {"user": value})
    assert response.status_code == 400
    assert not workspace.members.exclude(pk=workspace.owner_id).exists()


def test_workspace_members_with_an_unknown_user_is_a_404(client, workspace):
    response = client.post(f"/workspaces/{workspace.pk}/members/", {"user": "123456"})
    assert response.status_code == 404


def test_workspace_members_adds_a_real_user(client, workspace, teammate):
    response = client.post(f"/workspaces/{workspace.pk}/members/", {"user": str(teammate.pk)})
    assert response.status_code == 302
    assert workspace.members.filter(pk=teammate.pk).exists()
