"""A data policy's keywords cost one linear-time pass over a message, as a router's rules do
(issue 11, item 3, in the policies added since): a member's router policy of long phrases
and a /v1 message made of their first word took a minute of CPU, re-matching every phrase at
every occurrence of its first word."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from engine import policy as policies
from engine.limits import MAX_ITEM_CHARS, MAX_KEYWORDS_PER_ROUTER
from engine.policy import PolicySpec, compile_policy
from governance.models import Policy
from governance.selectors import policy_set_for
from governance.services import MAX_POLICIES_PER_TARGET, policy_validate
from tests.api.test_json_api import api_as  # noqa: F401
from tests.controls.test_policy_pages import _post


class CountingPattern:
    """A keyword's phrase pattern that counts how often it is tried at a position."""

    calls = 0

    def __init__(self, pattern: Any) -> None:
        self.pattern = pattern

    def match(self, *args: Any) -> Any:
        CountingPattern.calls += 1
        return self.pattern.match(*args)


@pytest.fixture
def counted(monkeypatch):
    real = policies.compile_keyword
    CountingPattern.calls = 0

    def compile_keyword(text: str):
        keyword = real(text)
        return dataclasses.replace(keyword, rest=CountingPattern(keyword.rest))

    monkeypatch.setattr(policies, "compile_keyword", compile_keyword)
    return CountingPattern


def _finder(keywords: tuple[str, ...]):
    compiled = compile_policy(PolicySpec(id=1, name="P", action="mask", keywords=keywords))
    return compiled.finders[0][1]


PHRASES = tuple("word " * 39 + f"end{i}" for i in range(20))


def test_a_message_of_a_phrase_head_is_not_rescanned_per_occurrence(counted):
    find = _finder(PHRASES)
    assert find("word " * 20_000) == []
    text = "word " * 20_000 + "end3"
    assert find(text) == [(len(text) - len(PHRASES[3]), len(text))]
    assert counted.calls == 0


def test_keywords_are_still_found_whole_and_case_insensitively():
    find = _finder(("python", "big bug"))
    text = "Python python, BIG   bug! pythonic bigbug"
    assert [text[a:b] for a, b in find(text)] == ["Python", "python", "BIG   bug"]
    assert find("über python") == [(5, 11)]


# --- how many policies one message meets ---------------------------------------------------


def test_a_router_holds_a_bounded_number_of_policies(client_for, owner, make_router, demo_catalog):
    router = make_router()
    other = make_router(slug="other")
    client = client_for(owner)
    for i in range(MAX_POLICIES_PER_TARGET):
        created = client.post(
            reverse("policy_create"), _post(name=f"P{i}", scope="router", router=router.pk)
        )
        assert created.status_code == 302
    refused = client.post(reverse("policy_create"), _post(scope="router", router=router.pk))
    assert refused.status_code == 422
    assert f"At most {MAX_POLICIES_PER_TARGET} policies" in refused.content.decode()
    assert Policy.objects.count() == MAX_POLICIES_PER_TARGET
    # Another router has its own count, and a policy already there may still be edited.
    assert (
        client.post(reverse("policy_create"), _post(scope="router", router=other.pk)).status_code
        == 302
    )
    first = Policy.objects.filter(router_id=router.pk).first()
    assert first is not None
    edited = client.post(
        reverse("policy_edit", args=[first.pk]),
        _post(name="Renamed", scope="router", router=router.pk),
    )
    assert edited.status_code == 302


# --- how many keywords a policy holds, and how long each -----------------------------------


def test_a_policy_keyword_longer_than_a_rule_keyword_is_refused_at_the_field(
    client_for, admin_user, demo_catalog
):
    client = client_for(admin_user)
    long = "x" * (MAX_ITEM_CHARS + 1)
    refused = client.post(reverse("policy_create"), _post(keywords=f"falcon\n{long}"))
    assert refused.status_code == 422
    errors = refused.context["form"].errors
    assert errors["keywords"] == [
        f"Keyword 2 (“{'x' * 40}…”) has {MAX_ITEM_CHARS + 1} characters: at most "
        f"{MAX_ITEM_CHARS} per keyword"
    ]
    assert not Policy.objects.exists()
    at_cap = client.post(reverse("policy_create"), _post(keywords="x" * MAX_ITEM_CHARS))
    assert at_cap.status_code == 302


def test_a_policy_holds_as_many_keywords_as_a_router(client_for, admin_user, demo_catalog):
    client = client_for(admin_user)
    many = "\n".join(f"word{i}" for i in range(MAX_KEYWORDS_PER_ROUTER + 1))
    refused = client.post(reverse("policy_create"), _post(keywords=many))
    assert refused.status_code == 422
    assert refused.context["form"].errors["keywords"] == [
        f"At most {MAX_KEYWORDS_PER_ROUTER} keywords per policy (this one has 501)"
    ]
    assert not Policy.objects.exists()


def test_the_service_and_the_admin_refuse_a_long_keyword_by_field(client_for, admin_user):
    policy = Policy(name="P", scope="instance", action="mask", keywords="a" * 100_000)
    with pytest.raises(ValidationError) as refused:
        policy_validate(policy)
    assert "at most 200 per keyword" in refused.value.message_dict["keywords"][0]

    response = client_for(admin_user).post(
        reverse("admin:governance_policy_add"),
        {"name": "P", "enabled": "on", "scope": "instance", "keywords": "a" * 100_000,
         "action": "mask"},
    )  # fmt: skip
    assert response.status_code == 200
    assert "at most 200 per keyword" in str(response.context["adminform"].form.errors["keywords"])
    assert not Policy.objects.exists()


def test_a_stored_policy_older_than_the_cap_still_checks_messages(db):
    # The cap is checked on save: routing never refuses every message over an older policy.
    Policy.objects.create(name="Old", scope="instance", action="refuse", keywords="y" * 300)
    checked = policy_set_for(workspace_id=None, router_id=None)
    assert checked.check(("y" * 300,)).refusal


def test_the_json_api_refuses_a_long_policy_keyword_at_the_field(api_as, admin_user, demo_catalog):  # noqa: F811
    body = {"name": "P", "scope": "instance", "action": "mask", "keywords": "z" * 20_000}
    refused = api_as(admin_user).post("/policies", body)
    assert refused.status_code == 422
    errors = refused.json()["errors"]
    assert [e["field"] for e in errors] == ["keywords"]
    assert "20,000 characters: at most 200 per keyword" in errors[0]["message"]
    assert not Policy.objects.exists()
