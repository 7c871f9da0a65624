"""The Celery app. Tasks live in each app's `tasks.py`; settings use the CELERY_ prefix."""

from __future__ import annotations

import os
import sys
from typing import Any

from celery import Celery
from celery.signals import task_postrun, task_prerun
from django.db import close_old_connections

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "routerweb.settings")

app = Celery("routerweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Celery's Django fixup closes every database connection before and after each task unless
# CELERY_DB_REUSE_MAX is set — a key it reads by that old name only, which no CELERY_-prefixed
# setting can produce. Every batch of routing decisions then paid a new PostgreSQL connection
# (connect, authenticate, set up the session: more than its INSERT; the worker's CPU per
# answer halved without it). Connections are recycled instead as Django recycles a request's:
# closed once broken or older than CONN_MAX_AGE (DB_CONN_MAX_AGE), before and after each task.
app.conf["CELERY_DB_REUSE_MAX"] = sys.maxsize


@task_prerun.connect
@task_postrun.connect
def _recycle_connections(sender: Any = None, **_: Any) -> None:
    # Not for a task run eagerly (the embedded default): it runs inside the caller's code,
    # perhaps in a transaction, whose connection is not the task's to close.
    if not getattr(getattr(sender, "request", None), "is_eager", False):
        close_old_connections()
