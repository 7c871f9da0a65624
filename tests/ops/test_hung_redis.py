"""A Redis that accepts connections and never answers must not hold logins, /v1 calls or
dry-runs: each Redis call has a short socket timeout, and after the first one times out the
cache counts as down, so the rest of the requests do not even try (no time is measured)."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from accounts.tokens import api_token_create
from routers import services
from routerweb import cache_health
from tests.ops.hung_server import HungServer
from tests.routers.conftest import add_rules


@pytest.fixture
def hung_redis(settings):
    server = HungServer()
    settings.REDIS_SOCKET_TIMEOUT = 0.05
    settings.CACHE_DOWN_SECONDS = 3600.0
    settings.CACHES = {
        "default": {
            "BACKEND": "routerweb.cache.FailFastRedisCache",
            "LOCATION": server.url,
            "OPTIONS": {"socket_timeout": 0.05, "socket_connect_timeout": 0.05},
        }
    }
    yield server
    server.close()
    cache_health.reset()


def test_login_v1_and_dry_run_work_and_only_the_first_call_waits(
    transactional_db, hung_redis, owner, demo_catalog
):
    private_router = services.router_create(
        owner=owner, name="Private", slug="private-one", primary_model="demo/small", actor=owner
    )
    add_rules(private_router)
    _, token = api_token_create(user=owner, name="ci")
    browser = Client()
    response = browser.post(reverse("login"), {"username": "olivia", "password": "pw-olivia"})
    assert response.status_code == 302  # throttling fails open: the login is not refused
    assert cache_health.is_down()
    waited = hung_redis.wait_for_requests(1)
    assert waited == 1

    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    models = api.get("/v1/models")
    assert models.status_code == 200
    assert "router:private-one" in models.content.decode()
    dry = api.post(
        f"/api/routers/{private_router.pk}/dry-run",
        json.dumps({"message": "A python bug"}),
        content_type="application/json",
    )
    assert dry.status_code == 200, dry.content.decode()
    assert dry.json()["rule_name"] == "Code"
    # A failed login still answers with the form (throttle counting skipped, not an error).
    wrong = browser.post(reverse("login"), {"username": "olivia", "password": "nope"})
    assert wrong.status_code == 200
    assert hung_redis.requests == waited  # nothing else went to the hung Redis


def test_the_cache_is_tried_again_after_the_pause(hung_redis, settings):
    from django.core.cache import cache

    from routerweb import clock as clocks
    from tests.fakeclock import FakeClock

    fake = FakeClock()
    clocks.install(fake)
    try:
        with pytest.raises(cache_health.CacheDown):
            cache.get("x")
        with pytest.raises(cache_health.CacheDown):
            cache.get("x")
        assert hung_redis.wait_for_requests(1) == 1
        fake.advance(settings.CACHE_DOWN_SECONDS + 1)
        with pytest.raises(cache_health.CacheDown):
            cache.get("x")
        assert hung_redis.wait_for_requests(2) == 2
    finally:
        clocks.install(None)


def test_production_settings_give_redis_short_timeouts(monkeypatch):
    import subprocess
    import sys

    code = (
        "from django.conf import settings; import django; django.setup(); "
        "o = settings.CACHES['default']['OPTIONS']; "
        "print(settings.CACHES['default']['BACKEND'], o['socket_timeout'], o['socket_connect_timeout'])"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={
            "DJANGO_SETTINGS_MODULE": "routerweb.settings",
            "REDIS_URL": "redis://127.0.0.1:6379/11",
            "PATH": "/usr/bin:/bin",
            "ROUTERWEB_LOCAL_DIR": "/tmp/routerweb-hardening-ops-local",
        },
        capture_output=True,
        text=True,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]),
    )
    assert result.stdout.split() == ["routerweb.cache.FailFastRedisCache", "0.5", "0.5"], (
        result.stderr
    )
