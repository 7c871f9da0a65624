"""Semantic rules end to end: JSON API (rules, dry-run, import/export), /v1 through the
`openai` SDK, with the embedding model on the fake upstream."""

from __future__ import annotations

import json

import openai
import pytest

from providers.models import CatalogModel
from routers import services
from routers.semantic import clear_caches
from routers.versions import router_publish
from tests.api.test_json_api import Api, api, api_as  # noqa: F401

BILLING = ["refund my order", "my invoice is wrong", "charged twice on my card"]
CODING = ["python error in code", "fix this bug in python", "stack trace from the program"]


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def emb_model(fake_models) -> CatalogModel:
    provider = fake_models["fake-small"].provider
    return CatalogModel.objects.create(
        provider=provider,
        model_id="emb-fake",
        display_name="Fake embeddings",
        context_window=8192,
        kind="embedding",
    )


@pytest.fixture
def semantic_router(owner, fake_models, emb_model):
    router = services.router_create(
        owner=owner,
        name="Semantic",
        slug="semantic",
        primary_model="fake/fake-small",
        embedding_model="fake/emb-fake",
        actor=owner,
    )
    for name, examples, target in (
        ("Billing", BILLING, "fake/fake-vision"),
        ("Coding", CODING, "fake/fake-large"),
    ):
        services.rule_create(
            router=router,
            name=name,
            kind="semantic",
            examples=examples,
            threshold=0.5,
            target_model=target,
            actor=router.owner,
        )
    router.refresh_from_db()
    router_publish(router=router, actor=owner)
    return router


def test_dry_run_routes_by_meaning_and_shows_each_score(api, semantic_router, fake_upstream):  # noqa: F811
    response = api.post(f"/routers/{semantic_router.pk}/dry-run", {"message": "refund my order"})

    decision = response.json()
    assert decision["rule_name"] == "Billing" and decision["model"] == "fake/fake-vision"
    assert "similar to “refund my order” (1.00 ≥ 0.50)" in decision["reason"]
    billing, coding = decision["verdicts"]
    assert billing["status"] == "matched"
    assert billing["semantic"] == {
        "score": 1.0,
        "threshold": 0.5,
        "margin": None,
        "nearest": "refund my order",
    }
    assert coding["status"] == "no_match" and coding["semantic"]["score"] < 0.5
    assert decision["embedding"]["model"] == "fake/emb-fake"
    assert decision["embedding"]["error"] is None
    # All six examples in one batched call, then the message.
    inputs = [r.body["input"] for r in fake_upstream.requests]
    assert inputs == [BILLING + CODING, ["refund my order"]]


def test_examples_are_embedded_once_per_router_version(api, semantic_router, fake_upstream):  # noqa: F811
    url = f"/routers/{semantic_router.pk}/dry-run"
    api.post(url, {"message": "refund my order"})
    api.post(url, {"message": "a python error"})
    api.post(url, {"message": "refund my order"})  # cached message embedding
    assert [r.body["input"] for r in fake_upstream.requests] == [
        BILLING + CODING,
        ["refund my order"],
        ["a python error"],
    ]
    rule = semantic_router.rules.get(name="Billing")
    services.rule_update(
        rule=rule, examples=[*BILLING, "where is my money back"], actor=rule.router.owner
    )
    api.post(url, {"message": "refund my order"})
    assert len(fake_upstream.requests[-1].body["input"]) == 7  # new version: re-embedded


def test_an_embedding_failure_skips_semantic_rules_and_says_why(
    api,  # noqa: F811
    semantic_router,
    fake_upstream,
):
    fake_upstream.script(status=401)
    decision = api.post(
        f"/routers/{semantic_router.pk}/dry-run", {"message": "refund my order"}
    ).json()
    assert decision["source"] == "primary"
    assert "semantic rules skipped: fake/emb-fake failed: auth" in decision["reason"]
    assert {v["status"] for v in decision["verdicts"]} == {"skipped"}


def test_an_unknown_or_chat_model_is_refused_as_the_embedding_model(api, semantic_router):  # noqa: F811
    api.patch(f"/routers/{semantic_router.pk}", {"embedding_model": "fake/nope"})
    decision = api.post(
        f"/routers/{semantic_router.pk}/dry-run", {"message": "refund my order"}
    ).json()
    assert "the embedding model fake/nope is not in the catalog" in decision["reason"]
    api.patch(f"/routers/{semantic_router.pk}", {"embedding_model": "fake/fake-small"})
    decision = api.post(
        f"/routers/{semantic_router.pk}/dry-run", {"message": "refund my order"}
    ).json()
    assert "fake/fake-small is a chat model, not an embedding model" in decision["reason"]


def test_embedding_models_are_not_chat_models_on_v1(live_url, owner, token_for, emb_model):
    import httpx

    listed = httpx.get(
        f"{live_url}/v1/models", headers={"Authorization": f"Bearer {token_for(owner)}"}
    ).json()
    ids = {m["id"] for m in listed["data"]}
    assert "fake/fake-small" in ids and "fake/emb-fake" not in ids


def test_rules_api_creates_semantic_rules_with_located_errors(api, semantic_router):  # noqa: F811
    url = f"/routers/{semantic_router.pk}/rules"
    bad = api.post(
        url,
        {"name": "Few", "kind": "semantic", "target_model": "fake/fake-small", "examples": ["x"]},
    )
    assert bad.status_code in (400, 422)
    assert "examples" in bad.content.decode() and "at least 2" in bad.content.decode()
    out_of_range = api.post(
        url,
        {
            "name": "Far",
            "kind": "semantic",
            "target_model": "fake/fake-small",
            "examples": ["a", "b"],
            "threshold": 1.5,
        },
    )
    assert out_of_range.status_code == 422
    good = api.post(
        url,
        {
            "name": "Greetings",
            "kind": "semantic",
            "target_model": "fake/fake-small",
            "examples": ["hello there", "hi", "hello there"],
            "threshold": 0.8,
            "margin": 0.05,
        },
    )
    assert good.status_code == 201
    body = good.json()
    assert body["examples"] == ["hello there", "hi"]  # duplicates dropped
    assert (body["threshold"], body["margin"]) == (0.8, 0.05)


def test_export_and_import_keep_semantic_rules(api, semantic_router, owner):  # noqa: F811
    exported = api.get(f"/routers/{semantic_router.pk}/export").json()
    assert exported["router"]["embedding_model"] == "fake/emb-fake"
    rule = exported["router"]["rules"][0]
    assert (rule["kind"], rule["examples"], rule["threshold"]) == ("semantic", BILLING, 0.5)

    exported["router"]["slug"] = "semantic-copy"
    imported = services.router_import(owner=owner, data=json.loads(json.dumps(exported)))
    again = services.router_export(router=imported)
    again["router"]["slug"] = exported["router"]["slug"]
    assert again == exported


def test_import_errors_point_at_the_semantic_field(owner, semantic_router):
    from django.core.exceptions import ValidationError

    data = services.router_export(router=semantic_router)
    data["router"]["rules"][0]["examples"] = ["only one"]
    data["router"]["rules"][1]["threshold"] = 2
    with pytest.raises(ValidationError) as caught:
        services.router_import(owner=owner, data=data)
    text = " ".join(caught.value.messages)
    assert "rules[1].threshold" in text or "Coding" in text
    data["router"]["rules"][1]["threshold"] = 0.5
    with pytest.raises(ValidationError) as caught:
        services.router_import(owner=owner, data=data)
    assert "examples: Give at least 2 different examples." in " ".join(caught.value.messages)


def test_v1_routes_by_a_semantic_rule(live_url, owner, token_for, semantic_router):
    client = openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=10
    )
    raw = client.chat.completions.with_raw_response.create(
        model="router:semantic",
        messages=[{"role": "user", "content": "please fix this python bug"}],
    )
    assert raw.headers["x-routerweb-rule"] == "Coding"
    assert raw.parse().model == "fake/fake-large"
