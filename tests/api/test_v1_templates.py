"""Each template's router, reached through `/v1` with the official `openai` SDK, answers its
example messages with the models its design promises. A `/v1` call belongs to no workspace, so
the examples that rely on workspace context are checked in chat (tests/chat) instead."""

from __future__ import annotations

import openai
import pytest

from routers.router_templates import TEMPLATES, router_create_from_template


@pytest.fixture
def client(live_url, owner, token_for):
    return openai.OpenAI(
        base_url=f"{live_url}/v1", api_key=token_for(owner), max_retries=0, timeout=20
    )


@pytest.mark.parametrize("name", list(TEMPLATES))
def test_each_template_answers_its_examples_through_v1_with_the_promised_models(
    name, client, owner, demo_catalog
):
    router, plan = router_create_from_template(owner=owner, template=name)
    checked = 0
    for planned in plan.examples:
        example = planned.example
        if example.workspace_type or example.workspace_tags:
            continue
        tier = f"/{example.user_tier}" if example.user_tier else ""
        raw = client.chat.completions.with_raw_response.create(
            model=f"router:{router.slug}{tier}",
            messages=[{"role": "user", "content": example.text}],
        )
        completion = raw.parse()
        assert completion.model == planned.model, (example.why, raw.headers)
        assert raw.headers["x-routerweb-model"] == planned.model
        checked += 1
    assert checked >= 3
