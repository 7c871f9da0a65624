"""The gateway's prepared plans: reused while nothing changed, never used after a change.

Every test calls the app under uvicorn with the official client, changes something the way the
UI or admin would (services, model saves), and checks that the very next call sees it. A spy on
`planner.prepare` (the real function still runs) shows when the database was read.
"""

from __future__ import annotations

import openai
import pytest

from planning import planner
from routers import config_version, services
from routers.versions import router_publish
from tests.api.conftest import _running

CODE = [{"role": "user", "content": "My python script fails."}]
PLAIN = [{"role": "user", "content": "Hello there."}]


@pytest.fixture
def prepares(monkeypatch):
    calls: list[tuple[int, str]] = []
    real = planner.prepare

    def spy(*, user, name="", **kwargs):
        calls.append((user.pk, name))
        return real(user=user, name=name, **kwargs)

    monkeypatch.setattr(planner, "prepare", spy)
    return calls


def client_for(live_url, token):
    return openai.OpenAI(base_url=f"{live_url}/v1", api_key=token, max_retries=0, timeout=10)


def answered(client, messages=CODE, model="router:fake-router") -> str:
    try:
        return client.chat.completions.create(model=model, messages=messages).model
    finally:
        # The server logs the decision after the answer: the next call starts once it has.
        for server in _running:
            server.wait_idle()


def test_repeated_calls_read_the_database_once(live_url, owner, token_for, fake_router, prepares):
    client = client_for(live_url, token_for(owner))
    for _ in range(3):
        assert answered(client) == "fake/fake-large"
        assert answered(client, PLAIN) == "fake/fake-small"
    assert prepares == [(owner.pk, "router:fake-router")]

    # Each name is prepared once, and a model name is a name of its own.
    assert answered(client, model="fake/fake-vision") == "fake/fake-vision"
    assert answered(client, model="fake/fake-vision") == "fake/fake-vision"
    assert len(prepares) == 2


def test_an_edited_rule_routes_the_very_next_call_once_published(
    live_url, owner, token_for, fake_router, prepares
):
    client = client_for(live_url, token_for(owner))
    assert answered(client) == "fake/fake-large"

    rule = fake_router.rules.get(name="Code")
    services.rule_update(
        rule=rule, target_model="fake/fake-vision", fallbacks=[], actor=rule.router.owner
    )
    assert answered(client) == "fake/fake-large", "an edit of the draft is not live"
    router_publish(router=fake_router, actor=owner)
    assert answered(client) == "fake/fake-vision"

    services.rule_set_enabled(rule=rule, enabled=False, actor=rule.router.owner)
    router_publish(router=fake_router, actor=owner)
    assert answered(client) == "fake/fake-small"

    # Reordering writes positions in bulk (no model signals): still a change.
    images = fake_router.rules.get(name="Images")
    services.rule_set_enabled(rule=rule, enabled=True, actor=rule.router.owner)
    answered(client)
    before = len(prepares)
    answered(client)
    assert len(prepares) == before, "nothing changed: the prepared plan is reused"
    services.router_reorder(
        router=fake_router, rule_ids=[images.pk, rule.pk], actor=fake_router.owner
    )
    answered(client)
    assert len(prepares) == before + 1


def test_a_router_made_private_stops_answering_a_teammate_at_once(
    live_url, owner, teammate, token_for, fake_router
):
    services.router_update(router=fake_router, visibility="shared", actor=fake_router.owner)
    theirs = client_for(live_url, token_for(teammate))
    assert answered(theirs) == "fake/fake-large"

    services.router_update(router=fake_router, visibility="private", actor=fake_router.owner)
    with pytest.raises(openai.NotFoundError) as caught:
        answered(theirs)
    assert caught.value.body["code"] == "model_not_found"


def test_a_deleted_router_is_gone_and_a_disabled_model_cannot_be_named(
    live_url, owner, token_for, fake_router, fake_models
):
    client = client_for(live_url, token_for(owner))
    assert answered(client, model="fake/fake-large") == "fake/fake-large"
    assert answered(client) == "fake/fake-large"

    large = fake_models["fake-large"]
    large.enabled = False
    large.save()
    with pytest.raises(openai.NotFoundError):
        answered(client, model="fake/fake-large")
    # The router's rule pointed at it: its fallback answers instead.
    assert answered(client) == "fake/fake-small"

    services.router_delete(router=fake_router, actor=fake_router.owner)
    with pytest.raises(openai.NotFoundError):
        answered(client)


def test_a_new_provider_key_is_used_by_the_next_call(
    live_url, owner, token_for, fake_router, fake_models, fake_upstream
):
    client = client_for(live_url, token_for(owner))
    answered(client, PLAIN)
    provider = fake_models["fake-small"].provider
    provider.api_key = "sk-rotated"
    provider.save()
    answered(client, PLAIN)
    keys = [
        r.headers.get("authorization")
        for r in fake_upstream.requests
        if r.model == "fake-small" and r.provider == "openai"
    ]
    assert keys[-2:] == ["Bearer sk-fake-upstream", "Bearer sk-rotated"]


def test_a_change_announced_by_another_process_is_seen(
    live_url, owner, token_for, fake_router, prepares
):
    # Another web process saved a change: all this one sees is a new version token.
    client = client_for(live_url, token_for(owner))
    answered(client)
    answered(client)
    assert len(prepares) == 1
    config_version.bump()
    answered(client)
    assert len(prepares) == 2


def test_without_the_shared_cache_every_call_reads_afresh_and_still_answers(
    live_url, owner, token_for, fake_router, prepares, monkeypatch
):
    async def unreachable():
        raise ConnectionError("shared cache down")

    monkeypatch.setattr(config_version, "current", unreachable)
    client = client_for(live_url, token_for(owner))
    for _ in range(3):
        assert answered(client) == "fake/fake-large"
    assert len(prepares) == 3


@pytest.fixture
def clock():
    from routerweb import clock as clocks
    from tests.fakeclock import FakeClock

    fake = FakeClock()
    clocks.install(fake)
    yield fake
    clocks.install(None)


def test_a_prepared_plan_is_read_afresh_after_plan_cache_seconds(
    live_url, owner, token_for, fake_router, prepares, settings, clock
):
    # Edits made straight in the database do not change the configuration version: the
    # process's copy is still re-read once it is PLAN_CACHE_SECONDS old.
    client = client_for(live_url, token_for(owner))
    assert answered(client) == "fake/fake-large"
    clock.advance(settings.PLAN_CACHE_SECONDS - 1)
    assert answered(client) == "fake/fake-large"
    assert len(prepares) == 1

    clock.advance(2)
    assert answered(client) == "fake/fake-large"
    assert len(prepares) == 2
