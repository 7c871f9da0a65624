"""Shared fixtures: people with each role, demo catalog, the fake upstream server."""

from __future__ import annotations

import contextlib
import os

import pytest
from django.utils.module_loading import import_string

from tests.fake_upstream.fixtures import fake_upstream, fake_upstream_server  # noqa: F401

os.environ.setdefault("DEMO_CHUNK_DELAY", "0")
# Tests speak of days and times in UTC, whatever the machine's own zone.
os.environ.setdefault("TIME_ZONE", "UTC")


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """On SQLite, the test database is a file (this run's own), opened as production opens
    its database: write-ahead log, busy timeout, immediate transactions (settings.py).

    Django's default, an in-memory database in shared-cache mode, locks whole tables between
    connections and never waits for a lock: any read or write of the test thread that met a
    write of a server thread (the live uvicorn, the decision log) failed at once with
    "database table is locked", depending on how fast each thread ran. With the file,
    readers never wait and a writer waits for the other as in production."""
    from django.conf import settings

    for alias, db in settings.DATABASES.items():
        if db["ENGINE"] == "django.db.backends.sqlite3":
            path = tmp_path_factory.mktemp("sqlite") / f"test_{alias}.sqlite3"
            db.setdefault("TEST", {})["NAME"] = str(path)


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings, tmp_path):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _tasks_in_process():
    """Run Celery tasks in-process by default, even when a broker is configured (the CI run
    on Redis); the worker test switches this off to go through the real worker."""
    from routerweb.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _clear_cache(settings):
    """Every test starts with an empty cache: circuit breakers, counters, the routing config
    version (the /v1 plan cache trusts its copies while that is unchanged) and stop flags
    are all kept there."""
    from django.core.cache import cache

    from routerweb import cache_health

    configured = settings.CACHES
    yield
    cache_health.reset()  # a test that broke Redis must not leave it marked down for the next
    with contextlib.suppress(Exception):  # the cache may be a Redis that a test deliberately broke
        cache.clear()
    cache_health.reset()  # clearing a broken Redis marks Redis down again
    if settings.CACHES is not configured:
        # The test switched to a cache of its own: what was written to the run's cache before
        # the switch must not reach the next test either.
        params = dict(configured["default"])
        backend = import_string(params.pop("BACKEND"))(params.pop("LOCATION", ""), params)
        try:
            backend.clear()
        finally:
            backend.close()


@pytest.fixture(autouse=True)
def _fresh_process_state():
    """What a test leaves in this process's memory does not reach the next test: the clock a
    test installed (even one that failed before putting the system clock back), verified API
    tokens, and embeddings and example indexes kept by text (a later test expecting that
    text to be embedded would find it cached, depending on which tests ran before)."""
    from accounts.tokens import clear_auth_cache
    from routers.semantic import clear_caches
    from routerweb import clock

    yield
    clock.install(None)
    clear_auth_cache()
    clear_caches()


def _make_user(django_user_model, username: str, role: str = "member", **extra):
    return django_user_model.objects.create_user(
        username=username, password="pw-" + username, role=role, **extra
    )


@pytest.fixture
def owner(db, django_user_model):
    return _make_user(django_user_model, "olivia")


@pytest.fixture
def teammate(db, django_user_model):
    return _make_user(django_user_model, "tom")


@pytest.fixture
def outsider(db, django_user_model):
    return _make_user(django_user_model, "oscar")


@pytest.fixture
def manager(db, django_user_model):
    return _make_user(django_user_model, "maria", role="manager")


@pytest.fixture
def admin_user(db, django_user_model):
    return _make_user(django_user_model, "ada", role="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def client_for(client):
    """client_for(user) logs the test client in as that user and returns it."""

    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def demo_catalog(db):
    from providers.catalog import provider_ensure

    provider, _ = provider_ensure(slug="demo", name="Demo (simulated)", kind="demo")
    return {m.model_id: m for m in provider.models.all()}
