"""One version token for everything that decides how an API call is planned.

The `/v1` gateway keeps each (user, `model` name)'s prepared plan inputs — the enabled catalog
with provider settings, the router row, its compiled rules — in process memory, so a call
needs no database read at all. Those copies are valid while this token is unchanged: saving
or deleting a router, rule, catalog model or provider replaces it (in the shared cache, so
every web process sees it at once), and the next call in any process prepares afresh.

The token is random rather than a counter: if the shared cache loses it (restart, eviction,
`cache.clear()`), the next reader stores a new random one, which can never equal a token an
old copy was made under. Replacing it twice — when the change is saved and again when its
transaction commits — closes the race in which a call reads the old rows while the change is
in flight and files them under the new token.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from governance.models import Budget, Policy
from providers.models import CatalogModel, Provider
from routers.models import Router, Rule
from routerweb import shared_cache

log = logging.getLogger(__name__)

KEY = "routing-config-version"


def bump() -> None:
    """The routing configuration changed: replace the token now and once it commits."""
    _replace()
    transaction.on_commit(_replace)


def _replace() -> None:
    try:
        shared_cache.set_now(KEY, uuid.uuid4().hex)
    except Exception:  # the gateway stops trusting its copies while the cache is down
        log.warning("routing config version: shared cache unavailable", exc_info=True)


async def current() -> str:
    """The current token (raises when the shared cache cannot be reached)."""
    token = await shared_cache.get(KEY)
    if token is None:
        await shared_cache.add(KEY, uuid.uuid4().hex, None)
        token = await shared_cache.get(KEY)
    return token or ""


def _changed(sender: Any, **kwargs: Any) -> None:
    bump()


def connect_signals() -> None:
    """Called from `RoutersConfig.ready`: any save or delete of these models is a change."""
    for model in (Router, Rule, CatalogModel, Provider, Policy, Budget):
        post_save.connect(_changed, sender=model, dispatch_uid=f"config-version-save-{model}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"config-version-del-{model}")
