"""Shared fixtures: people with each role, demo catalog, the fake upstream server."""

from __future__ import annotations

import contextlib
import os

import pytest

from tests.fake_upstream.fixtures import fake_upstream, fake_upstream_server  # noqa: F401

os.environ.setdefault("DEMO_CHUNK_DELAY", "0")
# Tests speak of days and times in UTC, whatever the machine's own zone.
os.environ.setdefault("TIME_ZONE", "UTC")


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
    from django.core.cache import cache

    from routerweb import cache_health

    yield
    cache_health.reset()  # a test that broke Redis must not leave it marked down for the next
    with contextlib.suppress(Exception):  # the cache may be a Redis that a test deliberately broke
        cache.clear()


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
