"""Routers (tests/routers/conftest.py) and logged chat decisions to evaluate them with."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from chat.models import Message, Thread, Workspace
from decisions.models import RoutingDecision
from tests.api.conftest import token_for  # noqa: F401
from tests.routers.conftest import make_router, private_router, shared_router  # noqa: F401


@pytest.fixture
def log_message(owner):
    """log_message(router, text, rule_name, model_ref, when) → the decision of a chat answer."""
    workspaces: dict[int, Workspace] = {}

    def log(
        router,
        text: str,
        rule_name: str,
        model_ref: str,
        when: datetime,
        *,
        tokens: tuple[int, int] = (1_000, 1_000),
        earlier: tuple[str, ...] = (),
    ) -> RoutingDecision:
        workspace = workspaces.get(router.pk)
        if workspace is None:
            workspace = workspaces[router.pk] = Workspace.objects.create(
                name="Support", owner=owner, mode="router", router=router, tags=["help"]
            )
        thread = Thread.objects.create(workspace=workspace, owner=owner)
        for said in earlier:
            Message.objects.create(thread=thread, role="user", content=said)
            Message.objects.create(thread=thread, role="assistant", content="ok")
        Message.objects.create(thread=thread, role="user", content=text)
        answer = Message.objects.create(
            thread=thread,
            role="assistant",
            content="answer",
            model_ref=model_ref,
            routing={"router_id": router.pk, "rule_name": rule_name, "source": "rule"},
        )
        return RoutingDecision.objects.create(
            router=router,
            router_version=1,
            rule_name=rule_name,
            source="rule" if rule_name else "primary",
            model_ref=model_ref,
            answered_by=model_ref,
            input_tokens=tokens[0],
            output_tokens=tokens[1],
            cost=Decimal("0"),
            user=owner,
            workspace_id=workspace.pk,
            message_id=answer.pk,
            created_at=when,
        )

    return log
