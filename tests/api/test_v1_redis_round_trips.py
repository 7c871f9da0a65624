"""With Redis as the shared cache, a `/v1` call reads everything it needs from it in one round
trip (the auth and routing-config versions and the likely models' circuit breakers, one MGET),
and writes nothing when nothing changed — yet an edit, an open breaker or failures to forgive
are still seen by the very next call.

Commands are counted on the asyncio Redis client the server uses (each `execute_command` is
one round trip; a pipeline is one). Needs a Redis at 127.0.0.1:6379 (skipped otherwise);
`ROUTERWEB_TEST_REDIS_URL` names the database (default db 9, which these tests flush).
"""

from __future__ import annotations

import os
import socket
import threading
import time

import openai
import pytest
import redis
import redis.asyncio.client

from routers import services
from routers.versions import router_publish
from routerweb import shared_cache
from tests.api.conftest import _running

REDIS_URL = os.environ.get("ROUTERWEB_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
CODE = [{"role": "user", "content": "My python script fails."}]


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.2):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "routerweb.cache.FailFastRedisCache", "LOCATION": REDIS_URL}
    }
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


class _Commands:
    """The commands the server thread sends through redis-py's asyncio client, one entry per
    round trip ("PIPELINE" for a pipeline)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sent: list[str] = []
        self.counting = False
        me = threading.get_ident()
        real_command = redis.asyncio.client.Redis.execute_command
        real_pipeline = redis.asyncio.client.Pipeline.execute
        commands = self

        async def execute_command(self, *args, **options):
            pipelined = isinstance(self, redis.asyncio.client.Pipeline)
            if commands.counting and threading.get_ident() != me and not pipelined:
                commands.sent.append(str(args[0]).upper())
            return await real_command(self, *args, **options)

        async def execute(self, *args, **kwargs):
            if commands.counting and threading.get_ident() != me:
                commands.sent.append("PIPELINE")
            return await real_pipeline(self, *args, **kwargs)

        monkeypatch.setattr(redis.asyncio.client.Redis, "execute_command", execute_command)
        monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", execute)

    def during(self, call):
        self.sent.clear()
        self.counting = True
        try:
            return call()
        finally:
            for server in _running:
                server.wait_idle()
            self.counting = False


@pytest.fixture
def commands(monkeypatch):
    return _Commands(monkeypatch)


@pytest.fixture
def client(redis_cache, live_url, owner, token_for):
    return openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=10
    )


def _stream(client, messages=CODE) -> str:
    stream = client.chat.completions.create(
        model="router:fake-router", messages=messages, stream=True
    )
    models = {chunk.model for chunk in stream}
    assert len(models) == 1
    return models.pop()


def _complete(client, messages=CODE) -> str:
    return client.chat.completions.create(model="router:fake-router", messages=messages).model


def _idle() -> None:
    """The answer has ended for the client before the server has logged its decision: wait for
    that, so what the server still does for the last call is not taken for the next one's."""
    for server in _running:
        server.wait_idle()


def test_a_call_reads_the_shared_cache_once_and_writes_nothing(client, fake_router, commands):
    assert _stream(client) == "fake/fake-large"  # the first call learns the likely models
    for _ in range(2):
        assert commands.during(lambda: _stream(client)) == "fake/fake-large"
        assert commands.sent == ["MGET"]
        assert commands.during(lambda: _complete(client)) == "fake/fake-large"
        assert commands.sent == ["MGET"]


def test_an_edit_in_another_process_routes_the_very_next_call(client, fake_router, commands):
    assert _stream(client) == "fake/fake-large"
    _idle()
    rule = fake_router.rules.get(name="Code")
    # What another process's publish does: the routing config version changes in Redis.
    services.rule_update(
        rule=rule, target_model="fake/fake-vision", fallbacks=[], actor=rule.router.owner
    )
    router_publish(router=fake_router, actor=rule.router.owner)
    assert commands.during(lambda: _stream(client)) == "fake/fake-vision"
    assert commands.sent[0] == "MGET"


def test_an_open_breaker_is_seen_by_the_next_call_and_failures_are_still_forgiven(
    client, fake_router, commands
):
    assert _stream(client) == "fake/fake-large"
    # Another process opened fake-large's breaker: the next call goes to its fallback.
    shared_cache.set_now("breaker:v2:fake/fake-large:open", repr(time.time() + 60))
    assert commands.during(lambda: _stream(client)) == "fake/fake-small"
    assert commands.sent == ["MGET"]

    # Closed again, with failures counted elsewhere: a success here forgives them (that one
    # write is made).
    redis.Redis.from_url(REDIS_URL).delete("routerweb:breaker:v2:fake/fake-large:open")
    shared_cache.set_now("breaker:v2:fake/fake-large:fails", "2")
    assert commands.during(lambda: _complete(client)) == "fake/fake-large"
    assert commands.sent == ["MGET", "DEL"]
    assert shared_cache.get_now("breaker:v2:fake/fake-large:fails") is None


@pytest.fixture
def llm_router(owner, fake_models):
    """`router:fake-llm`: an LLM rule ("contracts and law" → fake-large), else fake-small; the
    fake classifier picks the first label offered, so every message is judged "Legal"."""
    router = services.router_create(
        owner=owner,
        name="Fake LLM",
        slug="fake-llm",
        primary_model="fake/fake-small",
        actor=owner,
    )
    services.rule_create(
        router=router,
        name="Legal",
        kind="llm",
        description="contracts and law",
        target_model="fake/fake-large",
        actor=owner,
    )
    router_publish(router=router, actor=owner)
    return router


def _ask(client, text: str) -> str:
    messages = [{"role": "user", "content": text}]
    return client.chat.completions.create(model="router:fake-llm", messages=messages).model


def _classifier_calls(fake_upstream) -> int:
    return sum(1 for r in fake_upstream.requests if r.body and r.body.get("response_format"))


def test_a_repeated_question_finds_its_cached_verdict_in_the_one_round_trip(
    client, llm_router, commands, fake_upstream
):
    assert _ask(client, "Is this clause enforceable?") == "fake/fake-large"
    _idle()
    assert _classifier_calls(fake_upstream) == 1

    # The same question again: its verdict was guessed and read with everything else.
    assert commands.during(lambda: _ask(client, "Is this clause enforceable?")) == (
        "fake/fake-large"
    )
    assert commands.sent == ["MGET"]

    # Another question is classified (its verdict key could not be guessed: a GET, then the
    # verdict is stored), and the next time it too comes in the one round trip.
    assert commands.during(lambda: _ask(client, "Can they end the lease early?")) == (
        "fake/fake-large"
    )
    assert commands.sent[:2] == ["MGET", "GET"]
    assert commands.during(lambda: _ask(client, "Can they end the lease early?")) == (
        "fake/fake-large"
    )
    assert commands.sent == ["MGET"]
    assert _classifier_calls(fake_upstream) == 2


def test_a_guessed_verdict_of_an_older_revision_is_not_used(
    client, llm_router, commands, fake_upstream, owner
):
    assert _ask(client, "Is this clause enforceable?") == "fake/fake-large"
    _idle()
    rule = llm_router.rules.get(name="Legal")
    services.rule_update(rule=rule, target_model="fake/fake-vision", fallbacks=[], actor=owner)
    router_publish(router=llm_router, actor=owner)

    # The guess (the old revision's key) is read for nothing; the new revision's verdict is
    # looked up and, not being there, asked for.
    assert commands.during(lambda: _ask(client, "Is this clause enforceable?")) == (
        "fake/fake-vision"
    )
    assert commands.sent[:2] == ["MGET", "GET"]
    assert _classifier_calls(fake_upstream) == 2


def test_bodies_are_hashed_for_a_guess_only_where_a_prefetch_reads_it(settings, rf):
    from gateway.v1 import _body_key

    request = rf.post(
        "/v1/chat/completions", data=b'{"model": "x"}', content_type="application/json"
    )
    settings.CACHES = {"default": {"BACKEND": "routerweb.cache.LocalCache"}}
    assert _body_key(request, {}) is None  # the embedded default: nothing is prefetched
    settings.CACHES = {
        "default": {"BACKEND": "routerweb.cache.FailFastRedisCache", "LOCATION": REDIS_URL}
    }
    assert _body_key(request, {}) == hash(b'{"model": "x"}')
