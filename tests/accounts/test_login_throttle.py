from __future__ import annotations

import pytest
from django.urls import reverse


def _login(client, username: str, password: str, address: str):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address
    )


@pytest.mark.parametrize("variant", ["ｏｌｉｖｉａ", "OLIVIA", "Ｏｌｉｖｉａ", " olivia "])
def test_a_compatibility_or_case_variant_of_the_username_shares_the_lockout(
    client, owner, settings, variant
):
    settings.LOGIN_FAILURE_LIMIT = 3
    # Each attempt from another address, so only the per-username count can lock.
    for n in range(3):
        _login(client, "olivia", "wrong", f"10.0.0.{n + 1}")
    response = _login(client, variant, "pw-olivia", "10.0.1.1")
    assert "Too many failed attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_spread_over_variants_add_up(client, owner, settings):
    settings.LOGIN_FAILURE_LIMIT = 3
    for n, variant in enumerate(["ｏｌｉｖｉａ", "Olivia", "ｏｌｉｖｉａ"]):
        _login(client, variant, "wrong", f"10.0.0.{n + 1}")
    response = _login(client, "olivia", "pw-olivia", "10.0.1.1")
    assert "Too many failed attempts" in response.content.decode()


def test_the_fullwidth_variant_really_logs_in_below_the_limit(client, owner):
    # Why the variant matters: Django's login form applies NFKC, so it is the same account.
    response = _login(client, "ｏｌｉｖｉａ", "pw-olivia", "10.0.0.1")
    assert response.status_code == 302


def test_the_throttle_key_is_nfkc_and_case_folded():
    from accounts.throttle import throttle_username

    assert throttle_username("ＳＴＲＡßＥ") == throttle_username("strasse") == "strasse"
