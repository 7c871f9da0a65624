"""The Profiles page in a real browser at phone and desktop widths: an admin defines a profile
(a bad name is refused at its field), a rule of a new router targets it from the builder's
"Send to", the test panel explains its choice, and the profile is deleted with a confirmation.
No sideways scrolling, no script errors; screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from tests.browser.conftest import ARTIFACTS, CHROMIUM, NO_SIDEWAYS_SCROLL, log_in
from tests.browser.test_builder import settled

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium binary found (apt-get install chromium)"
    ),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [390, 1280])
def test_an_admin_defines_a_profile_and_a_rule_targets_it(
    live_server, browser_page, django_user_model, demo_catalog, width
):
    from playwright.sync_api import expect

    from routers.models import Profile, Router

    page, errors = browser_page
    page.set_viewport_size({"width": width, "height": 900})
    base = live_server.url
    django_user_model.objects.create_user(
        username="ada", password="pw-ada-123", role="admin", is_staff=True, is_superuser=True
    )
    log_in(page, base, "ada", "pw-ada-123")

    page.goto(f"{base}/routers/profiles/")
    expect(page.locator('[data-profile-row="fast"]')).to_contain_text("demo/small")
    page.click("text=New profile")
    page.fill("#id_name", "see all")
    page.check("#id_needs_images")
    page.click("button:has-text('Save')")
    expect(page.locator("[data-field=name] .error")).to_contain_text("lower-case")
    assert not Profile.objects.exists()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=str(ARTIFACTS / f"profile-form-error-{width}.png"), full_page=True)
    page.fill("#id_name", "vision")
    page.click("button:has-text('Save')")
    expect(page.locator("text=Profile “vision” saved.")).to_be_visible()
    row = page.locator('[data-profile-row="vision"]')
    expect(row).to_contain_text("images")
    expect(row).to_contain_text("demo/large")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    page.screenshot(path=str(ARTIFACTS / f"profile-list-{width}.png"), full_page=True)

    # The builder's "Send to" offers it; the rule targets it and the test panel explains it.
    page.goto(f"{base}/routers/new/")
    page.fill("#id_name", f"Pictures {width}")
    page.select_option("#id_primary_model", "demo/small")
    page.click("button:has-text('Create router')")
    page.wait_for_url(f"{base}/routers/*/")
    page.click("text=+ Add rule")
    form = page.locator("#new-rule form")
    settled(form)
    form.locator("input[name=name]").fill("Pictures")
    form.locator(".cond-row input[type=text]").first.fill("photo")
    form.locator("select[name=target_model]").select_option("profile:vision")
    form.locator("button:has-text('Add rule')").click()
    expect(page.locator("#rules .rule [data-profile-target]")).to_contain_text("vision")
    rule = Router.objects.get(name=f"Pictures {width}").rules.get()
    assert rule.target_profile == "vision" and rule.target_model is None
    page.fill("#test-panel textarea[name=message]", "look at this photo")
    page.click("#test-panel button:has-text('Route it')")
    expect(page.locator("[data-profile-result]")).to_contain_text("vision")
    expect(page.locator("[data-profile-result]")).to_contain_text("demo/large")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    page.goto(f"{base}/routers/profiles/vision/")
    expect(page.locator(".card")).to_contain_text("1 router targets this profile")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Delete this profile')")
    page.wait_for_url(f"{base}/routers/profiles/")
    expect(page.locator("text=Profile “vision” deleted.")).to_be_visible()
    assert not Profile.objects.exists()
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
    assert errors == []
