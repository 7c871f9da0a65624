"""The shared demo router (slug `demo`): one rule of each kind, all on the simulated models."""

from __future__ import annotations

from accounts.models import User
from chat.models import CatalogModel
from routers.models import Router, Rule, Visibility

DEMO_RULES = [
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
        "name": "Long messages",
        "kind": "calculated",
        "conditions": [{"property": "message_tokens", "operator": "gt", "value": 300}],
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
        description="Sends code to the coder model, legal questions (LLM-classified) and images to the large "
        "model, and everything else to the small one. All models are simulated.",
        owner=owner,
        visibility=Visibility.SHARED,
        primary_model=models["small"],
        classifier_model=models["small"],
        fallbacks=["demo/large"],
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
            target_model=models[spec["target"]],
        )
    return router
