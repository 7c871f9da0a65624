"""A new person's first minutes: the one-time link (copyable), a confirmation after setting the
password, and a home page that says how to get into a workspace."""

from __future__ import annotations

import re

from django.urls import reverse

from accounts.models import User


def test_setting_a_password_ends_on_the_login_page_with_a_confirmation(
    client_for, admin_user, client
):
    response = client_for(admin_user).post(
        reverse("manage_user_create"), {"username": "nina", "email": "", "role": "member"}
    )
    html = response.content.decode()
    assert "data-copy" in html and "Copy link" in html  # the link has a copy button
    link = re.search(r'value="http://testserver(/account/set-password/[^"]+)"', html).group(1)
    client.logout()
    form_page = client.get(link, follow=True)
    set_url = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    done = client.post(
        set_url,
        {"new_password1": "a-Long-passphrase-42", "new_password2": "a-Long-passphrase-42"},
        follow=True,
    )
    page = done.content.decode()
    assert done.redirect_chain[-1][0] == reverse("login")
    assert "Your password is set, nina. Log in with it now." in page


def test_a_member_without_a_workspace_is_told_how_to_get_one(client_for, owner, manager):
    page = client_for(owner).get(reverse("home")).content.decode()
    assert "You are not in a workspace yet" in page
    assert "<strong>maria</strong>" in page  # who can add them, by name
    assert reverse("workspace_create") in page


def test_a_new_api_token_has_a_copy_button(client_for, owner):
    response = client_for(owner).post(reverse("api_tokens"), {"name": "laptop"})
    html = response.content.decode()
    assert 'class="token-plaintext"' in html and "Copy token" in html
    assert User.objects.get(pk=owner.pk).api_tokens.count() == 1
