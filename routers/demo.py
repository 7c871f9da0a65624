"""The shared demo router (slug `demo`): one rule of each kind, all on the simulated models."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from accounts.models import User
from audit.services import audit_record
from providers.models import CatalogModel
from routers.compiling import catalog_snapshot
from routers.models import Router, Rule, Visibility
from routers.router_templates import TEMPLATES, router_create_from_template
from routers.services import publish_version, router_snapshot

DEMO_RULES: list[dict[str, Any]] = [
    {
        "name": "Code questions",
        "kind": "calculated",
        "match": "any",
        "conditions": [
            {
                "property": "keywords",
                "operator": "contains_any",
                "value": ["python", "javascript", "stack trace", "function", "bug", "compile"],
            },
            {"property": "has_code", "operator": "is_true", "value": None},
        ],
        "target": "coder",
    },
    {
        # Matched by meaning with the demo's simulated embedding model (hashed words: it shows
        # how semantic rules behave; a real embedding model understands paraphrases).
        "name": "Translations",
        "kind": "semantic",
        "examples": [
            "Translate this into French",
            "How do you say thank you in Spanish?",
            "What does this German sentence mean?",
            "Put this paragraph into Italian",
            "Translate the following text to English",
        ],
        "threshold": 0.35,
        "target": "small",
    },
    {
        "name": "Legal & compliance",
        "kind": "llm",
        "description": "Questions about contracts, law, regulation, GDPR or compliance.",
        "target": "large",
    },
    {
        "name": "Images",
        "kind": "calculated",
        "conditions": [{"property": "has_image", "operator": "is_true", "value": None}],
        "target": "large",
    },
    {
        "name": "Ticket ids",
        "kind": "calculated",
        "conditions": [
            {"property": "regex", "operator": "matches", "value": r"\b[A-Z]{2,5}-\d{2,6}\b"}
        ],
        "target": "coder",
    },
    {
        # Everything short that no rule above claimed; longer messages stay on the primary.
        "name": "Everyday questions",
        "kind": "calculated",
        "conditions": [{"property": "message_tokens", "operator": "lte", "value": 300}],
        "target": "small",
    },
    {
        "name": "Night shift",
        "kind": "calculated",
        "enabled": False,
        "conditions": [
            {"property": "time_of_day", "operator": "between", "value": ["22:00", "06:00"]}
        ],
        "target": "small",
    },
]


def demo_router_ensure(*, owner: User) -> Router:
    """Create the demo router if it is missing; an existing one (maybe edited) is kept as is."""
    existing = Router.objects.filter(slug="demo").first()
    if existing is not None:
        return existing
    models = {m.model_id: m for m in CatalogModel.objects.filter(provider__slug="demo")}
    router = Router.objects.create(
        name="Demo router",
        slug="demo",
        description="Sends code to the coder model, short everyday questions to the small one, and "
        "legal questions (LLM-classified), images and long messages to the large primary model, so "
        "analytics show what routing saves against sending everything to it. All models are "
        "simulated.",
        owner=owner,
        visibility=Visibility.SHARED,
        primary_model=models["large"],
        classifier_model=models["small"],
        fallbacks=["demo/small"],
        time_zone=settings.TIME_ZONE,
        embedding_model="demo/embed",
    )
    for position, spec in enumerate(DEMO_RULES):
        Rule.objects.create(
            router=router,
            name=spec["name"],
            enabled=spec.get("enabled", True),
            position=position,
            kind=spec["kind"],
            match=spec.get("match", "all"),
            conditions=spec.get("conditions", []),
            description=spec.get("description", ""),
            examples=spec.get("examples", []),
            threshold=spec.get("threshold", 0.7),
            target_model=models[spec["target"]],
        )
    publish_version(
        router=router, snapshot=router_snapshot(router=router), actor=owner, note="Created."
    )
    # `manage.py seed_demo` acts as the owner it is given: the log says who created it.
    audit_record(
        actor=owner,
        action="router.create",
        obj=router,
        after={"slug": router.slug, "rules": [spec["name"] for spec in DEMO_RULES]},
    )
    return router


def demo_template_routers_ensure(*, owner: User) -> list[tuple[str, bool]]:
    """One shared router per template (`demo-<template>`), bound to the demo provider's models
    only; an existing one is kept as it is. Returns (slug, created) pairs."""
    models, _ = catalog_snapshot()
    demo = {ref: info for ref, info in models.items() if ref.startswith("demo/")}
    done = []
    for name, template in TEMPLATES.items():
        slug = f"demo-{name}"
        if Router.objects.filter(slug=slug).exists():
            done.append((slug, False))
            continue
        router_create_from_template(
            owner=owner,
            template=name,
            slug=slug,
            name=f"Demo: {template.title}",
            visibility=Visibility.SHARED,
            models=demo,
        )
        done.append((slug, True))
    return done
