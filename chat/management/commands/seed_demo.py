"""Demo data for the embedded default; safe to run any number of times.

Creates the offline demo provider and its simulated models, real providers for each of
OPENAI_API_KEY / ANTHROPIC_API_KEY / GEMINI_API_KEY that is set, a shared demo router
(slug `demo`), one shared router per router template (`demo-<template>`, on the demo models) and
two workspaces: one on a single model, one on the Model Router.
"""

from __future__ import annotations

import os

from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Role, User
from chat.models import Workspace, WorkspaceMode
from providers.catalog import provider_ensure
from providers.models import CatalogModel
from routers.demo import demo_router_ensure, demo_template_routers_ensure

REAL_PROVIDERS = [
    ("OPENAI_API_KEY", "openai", "OpenAI", "openai"),
    ("ANTHROPIC_API_KEY", "anthropic", "Anthropic", "anthropic"),
    ("GEMINI_API_KEY", "gemini", "Google Gemini", "gemini"),
]


class Command(BaseCommand):
    help = (
        "Create demo providers, models, the shared 'demo' router and demo workspaces (idempotent)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--owner", default="admin", help="Username owning the demo objects.")

    @transaction.atomic
    def handle(self, *args, owner: str, **options) -> None:
        user = User.objects.filter(username=owner).first()
        if user is None:
            user = User.objects.create_user(
                username=owner, role=Role.ADMIN, is_staff=True, is_superuser=True
            )
            user.set_unusable_password()
            user.save()
        demo, created = provider_ensure(slug="demo", name="Demo (simulated)", kind="demo")
        self.stdout.write(f"{'Created' if created else 'Kept'} provider demo")
        for env_name, slug, name, kind in REAL_PROVIDERS:
            key = os.environ.get(env_name, "").strip()
            if key:
                _, created = provider_ensure(slug=slug, name=name, kind=kind, api_key=key)
                self.stdout.write(
                    f"{'Created' if created else 'Kept'} provider {slug} from {env_name}"
                )

        small = CatalogModel.objects.get(provider=demo, model_id="small")
        Workspace.objects.get_or_create(
            name="Demo: one model",
            owner=user,
            defaults={
                "mode": WorkspaceMode.MODEL,
                "model": small,
                "system_prompt": "You are a helpful assistant.",
            },
        )[0].members.add(user)

        router = demo_router_ensure(owner=user)
        workspace, _ = Workspace.objects.get_or_create(
            name="Demo: Model Router",
            owner=user,
            defaults={
                "mode": WorkspaceMode.ROUTER,
                "router": router,
                "model": small,
                "tags": ["demo"],
            },
        )
        workspace.members.add(user)
        for slug, created in demo_template_routers_ensure(owner=user):
            self.stdout.write(f"{'Created' if created else 'Kept'} router {slug}")
        self.stdout.write(
            self.style.SUCCESS(
                "Demo data ready: router 'demo', one router per template and two demo workspaces."
            )
        )
