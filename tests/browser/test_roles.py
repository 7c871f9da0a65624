"""Three people, three roles, tried in a real browser the way a new team would.

The admin creates a manager and a member on the People page, each sets a password through
the one-time link, logs in and sees exactly what their role allows.
"""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


def _logout(page) -> None:
    page.click("text=Log out")
    page.wait_for_url(re.compile(r".*/login/"))


def _create_person(page, base: str, username: str, role: str) -> str:
    page.goto(f"{base}/manage/people/new/")
    page.fill("#f-username", username)
    page.select_option("#f-role", role)
    page.click("button:has-text('Create')")
    return page.input_value("input.copy")


def _set_password(page, link: str, password: str) -> None:
    page.goto(link)
    page.fill("#id_new_password1", password)
    page.fill("#id_new_password2", password)
    page.click("button:has-text('Set password')")
    page.wait_for_url(re.compile(r".*/login/"))


@pytest.mark.django_db(transaction=True)
def test_an_admin_a_manager_and_a_member_each_see_what_they_should(
    live_server, browser_page, django_user_model
):
    from providers.catalog import provider_ensure
    from routers import services

    page, errors = browser_page
    base = live_server.url
    admin = django_user_model.objects.create_user(
        username="ada", password="admin-pass-123", role="admin", is_staff=True, is_superuser=True
    )
    provider_ensure(slug="demo", name="Demo", kind="demo")
    private = services.router_create(
        owner=admin,
        name="Ada's private",
        slug="ada-private",
        primary_model="demo/small",
        actor=admin,
    )
    shared = services.router_create(
        owner=admin,
        name="Team router",
        slug="team",
        primary_model="demo/small",
        visibility="shared",
        actor=admin,
    )

    # The admin sees the admin menus and creates two people.
    log_in(page, base, "ada", "admin-pass-123")
    for menu in ("Providers", "People", "Audit log"):
        assert page.locator(".topbar nav a", has_text=menu).count() == 1
    manager_link = _create_person(page, base, "mira", "manager")
    member_link = _create_person(page, base, "max", "member")
    page.screenshot(path=str(ARTIFACTS / "roles-1-admin-link.png"), full_page=True)
    page.goto(f"{base}/manage/audit/")
    assert page.locator("code", has_text="user.create").count() == 2
    _logout(page)

    # The manager: no admin menus, can edit the shared router, cannot see the private one.
    _set_password(page, manager_link, "Mira-sets-a-good-one-7")
    log_in(page, base, "mira", "Mira-sets-a-good-one-7")
    assert page.locator(".topbar nav a", has_text="People").count() == 0
    assert page.locator(".topbar nav a", has_text="Providers").count() == 0
    page.goto(f"{base}/routers/")
    assert page.locator("text=Team router").count() >= 1
    assert page.locator("text=Ada's private").count() == 0
    page.goto(f"{base}/routers/{shared.pk}/")
    assert page.locator("a", has_text="Settings").count() == 1
    assert page.goto(f"{base}/routers/{private.pk}/").status == 404
    assert page.goto(f"{base}/manage/people/").status == 403
    page.goto(f"{base}/routers/{shared.pk}/")
    page.screenshot(path=str(ARTIFACTS / "roles-2-manager.png"), full_page=True)
    _logout(page)

    # The member: may use the shared router but not change it; no admin pages.
    _set_password(page, member_link, "Max-picks-a-strong-9")
    log_in(page, base, "max", "Max-picks-a-strong-9")
    page.goto(f"{base}/routers/{shared.pk}/")
    assert page.locator("a", has_text="Settings").count() == 0
    assert page.goto(f"{base}/routers/{shared.pk}/edit/").status == 403
    assert page.goto(f"{base}/routers/{private.pk}/").status == 404
    assert page.goto(f"{base}/providers/").status == 403
    page.goto(f"{base}/routers/{shared.pk}/")
    page.screenshot(path=str(ARTIFACTS / "roles-3-member.png"), full_page=True)

    # A used link does not work twice.
    _logout(page)
    page.goto(member_link)
    assert page.locator("text=already been used").count() == 1
    assert errors == [], errors
