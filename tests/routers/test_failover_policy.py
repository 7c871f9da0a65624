"""A router's failure policy: shown on its page as it applies, overridable by its editors."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from routers import services


def page(client, router) -> str:
    return client.get(reverse("router_detail", args=[router.pk])).content.decode()


def test_the_router_page_shows_the_effective_policy(client_for, owner, private_router):
    html = page(client_for(owner), private_router)

    assert "Failure policy" in html
    assert "content-policy refusal" in html and "end with the provider&#x27;s reason" in html
    assert "continue on the next model if verified, else end cut off" in html
    assert "First-token timeout (s)" in html and "15.0" in html
    assert "Override for this router" in html


def test_an_editor_overrides_the_policy_and_the_page_says_so(client_for, owner, private_router):
    client = client_for(owner)
    version = private_router.version

    response = client.post(
        reverse("router_failover_policy", args=[private_router.pk]),
        {"first_token_timeout": "5", "continue_cut_answers": "no", "max_attempts": ""},
    )

    assert response.status_code == 302
    private_router.refresh_from_db()
    assert private_router.failover_policy == {
        "first_token_timeout": 5.0,
        "continue_cut_answers": False,
    }
    assert private_router.version == version + 1
    html = page(client, private_router)
    assert '5.0 <span class="muted small-print">this router' in html
    assert "no retry; restart on the next model" in html
    assert "end cut off" in html and "if verified" not in html


def test_until_published_the_page_says_which_policy_traffic_uses(client_for, owner, private_router):
    from routers.versions import router_publish

    client = client_for(owner)
    assert "policy-live" not in page(client, private_router), "draft and version agree"
    services.router_set_failover_policy(
        router=private_router,
        overrides={"first_token_timeout": 5, "continue_cut_answers": False},
        actor=owner,
    )

    html = page(client, private_router)
    assert "This is the draft's policy. Until it is published, traffic uses" in html
    assert "First-token timeout (s) 15.0;" in html
    assert "Continue a cut answer on the next model yes." in html

    router_publish(router=private_router, actor=owner)
    html = page(client, private_router)
    assert "policy-live" not in html
    assert '5.0 <span class="muted small-print">this router' in html


@pytest.mark.parametrize(
    ("field", "value"),
    [("first_token_timeout", "0"), ("stall_timeout", "abc"), ("max_attempts", "9")],
)
def test_a_bad_value_is_refused_and_changes_nothing(
    client_for, owner, private_router, field, value
):
    response = client_for(owner).post(
        reverse("router_failover_policy", args=[private_router.pk]), {field: value}
    )

    assert response.status_code == 422
    assert 'class="error"' in response.content.decode()
    private_router.refresh_from_db()
    assert private_router.failover_policy == {}


def test_someone_who_may_not_edit_the_router_cannot_change_its_policy(
    client_for, teammate, outsider, shared_router, private_router
):
    for user, router in ((teammate, shared_router), (outsider, private_router)):
        response = client_for(user).post(
            reverse("router_failover_policy", args=[router.pk]), {"first_token_timeout": "5"}
        )
        assert response.status_code in (403, 404)
        router.refresh_from_db()
        assert router.failover_policy == {}
    assert "Override for this router" not in page(client_for(teammate), shared_router)


def test_the_service_refuses_unknown_or_out_of_range_settings(private_router):
    with pytest.raises(ValidationError) as caught:
        services.router_set_failover_policy(
            router=private_router,
            overrides={"max_retry_after": 1, "stall_timeout": 0},
            actor=private_router.owner,
        )

    assert set(caught.value.message_dict) == {"max_retry_after", "stall_timeout"}
    private_router.refresh_from_db()
    assert private_router.failover_policy == {}
