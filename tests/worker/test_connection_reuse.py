"""The worker keeps its database connection between tasks (routerweb/celery.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import connection

from routerweb.celery import _recycle_connections, app


def test_celerys_fixup_no_longer_closes_the_connection_around_every_task():
    fixup = DjangoWorkerFixup(app)
    assert fixup.db_reuse_max is not None
    for _ in range(1000):  # it counts two calls per task
        fixup.close_database()
    assert fixup._db_recycles == 1000  # never reached its forced close


def _task(*, eager: bool) -> SimpleNamespace:
    return SimpleNamespace(request=SimpleNamespace(is_eager=eager))


@pytest.mark.django_db(transaction=True)
def test_a_connection_is_recycled_as_a_requests_is(settings):
    connection.ensure_connection()
    # Within CONN_MAX_AGE: kept for the next task.
    connection.close_at = None
    _recycle_connections(sender=_task(eager=False))
    assert connection.connection is not None
    # Older than CONN_MAX_AGE (0: not kept at all): closed.
    connection.close_at = 0
    _recycle_connections(sender=_task(eager=False))
    assert connection.connection is None


@pytest.mark.django_db(transaction=True)
def test_a_task_run_eagerly_leaves_its_callers_connection_alone():
    connection.ensure_connection()
    connection.close_at = 0
    _recycle_connections(sender=_task(eager=True))
    assert connection.connection is not None
