"""The Policies page in a real browser, phone and desktop widths: a bad pattern is refused by
its field, a good policy saved and listed; no sideways scrolling, no script errors."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, NO_SIDEWAYS_SCROLL, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [390, 1280])
def test_an_admin_manages_a_policy_on_a_phone_and_a_desktop(
    live_server, browser_page, django_user_model, demo_catalog, width
):
    from playwright.sync_api import expect

    from governance.models import Policy

    page, errors = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url
    django_user_model.objects.create_user(
        username="ada", password="pw-ada-123", role="admin", is_staff=True, is_superuser=True
    )
    log_in(page, base, "ada", "pw-ada-123")

    page.goto(f"{base}/policies/new/")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    expect(page.locator("[data-field=workspace]")).to_be_hidden()  # "everyone" needs no target
    page.fill("#id_name", "Customer data")
    page.check("input[name=detectors][value=card]")
    page.fill("#id_patterns", "ACME-(\\d{6}")
    page.check("input[name=action][value=restrict]")
    page.check("input[name=approved][value='demo/small']")
    page.click("button:has-text('Save')")
    expect(page.locator("[data-field=patterns] .error")).to_contain_text("Pattern")
    assert not Policy.objects.exists()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=str(ARTIFACTS / f"policy-form-error-{width}.png"), full_page=True)

    page.select_option("#id_scope", "router")
    expect(page.locator("[data-field=router]")).to_be_visible()
    page.select_option("#id_scope", "instance")
    page.fill("#id_patterns", "ACME-\\d{6}")
    page.click("button:has-text('Save')")
    expect(page.locator("text=Policy “Customer data” saved.")).to_be_visible()
    assert Policy.objects.get().patterns == "ACME-\\d{6}"
    row = page.locator("[data-policy-row]")
    expect(row).to_contain_text("for everyone")
    expect(row).to_contain_text("card number, 1 pattern")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=str(ARTIFACTS / f"policy-list-{width}.png"), full_page=True)
    assert errors == []
