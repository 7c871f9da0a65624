"""The JSON API root: each app contributes a ninja Router mounted here."""

from __future__ import annotations

from ninja import NinjaAPI
from ninja.security import django_auth

api = NinjaAPI(
    title="routerweb API",
    version="1",
    description="Routers, rules, workspaces and routing decisions. Session or bearer-token auth.",
    auth=django_auth,
    urls_namespace="api",
)
