"""/v1 calls through a router follow the caller's personal preference for the rule, with no
database read per call: a preference saved (or the router's switch turned) is seen by the very
next call, since the write replaces the routing configuration version."""

from __future__ import annotations

import pytest

from preferences.services import preference_delete, preference_set, router_preferences_set
from tests.api.test_plan_cache import CODE, PLAIN, answered, client_for, prepares  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_preference_applies_on_v1_from_the_next_call(
    live_url,
    owner,
    token_for,
    fake_router,
    fake_models,
    prepares,  # noqa: F811
):
    client = client_for(live_url, token_for(owner))
    assert answered(client) == "fake/fake-large"
    code = fake_router.rules.get(name="Code")
    preference = preference_set(
        actor=owner, router=fake_router, rule=code, model=fake_models["fake-vision"]
    )
    assert answered(client) == "fake/fake-vision", "the next call follows it"
    assert answered(client, PLAIN) == "fake/fake-small", "other rules are the router's"
    assert answered(client) == "fake/fake-vision"
    assert len(prepares) == 2, "read once before the preference and once after"

    router_preferences_set(actor=owner, router=fake_router, allowed=False)
    assert answered(client) == "fake/fake-large", "off for this router"
    router_preferences_set(actor=owner, router=fake_router, allowed=True)
    assert answered(client) == "fake/fake-vision"
    preference_delete(actor=owner, preference=preference)
    assert answered(client) == "fake/fake-large"
