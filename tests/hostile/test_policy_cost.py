"""A data policy's keywords cost one linear-time pass over a message, as a router's rules do
(issue 11, item 3, in the policies added since): a member's router policy of long phrases
and a /v1 message made of their first word took a minute of CPU, re-matching every phrase at
every occurrence of its first word."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.urls import reverse

from engine import policy as policies
from engine.policy import PolicySpec, compile_policy
from governance.models import Policy
from governance.services import MAX_POLICIES_PER_TARGET
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
