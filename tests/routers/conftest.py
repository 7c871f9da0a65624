"""Routers owned by `owner` (private and shared) with a few rules, on the demo catalog."""

from __future__ import annotations

import pytest

from routers import services, versions


@pytest.fixture
def make_router(owner, demo_catalog):
    def make(*, visibility: str = "private", slug: str = "support", user=None, **extra):
        return services.router_create(
            owner=user or owner,
            actor=user or owner,
            name=extra.pop("name", slug.title()),
            slug=slug,
            visibility=visibility,
            primary_model="demo/small",
            **extra,
        )

    return make


def add_rules(router, *, publish: bool = True):
    """Code (calculated), Legal (LLM) and Images (calculated); published unless told not to,
    so traffic routes with them."""
    code = services.rule_create(
        router=router,
        name="Code",
        kind="calculated",
        match="any",
        conditions=[
            {"property": "keywords", "operator": "contains_any", "value": ["python", "bug"]}
        ],
        target_model="demo/coder",
        actor=router.owner,
    )
    legal = services.rule_create(
        router=router,
        name="Legal",
        kind="llm",
        description="Questions about contracts, law or compliance.",
        target_model="demo/large",
        actor=router.owner,
    )
    images = services.rule_create(
        router=router,
        name="Images",
        kind="calculated",
        conditions=[{"property": "has_image", "operator": "is_true", "value": None}],
        target_model="demo/large",
        actor=router.owner,
    )
    router.refresh_from_db()
    if publish:
        versions.router_publish(router=router, actor=router.owner)
    return code, legal, images


@pytest.fixture
def private_router(make_router):
    router = make_router(slug="private-one")
    add_rules(router)
    return router


@pytest.fixture
def shared_router(make_router):
    router = make_router(slug="shared-one", visibility="shared")
    add_rules(router)
    return router
