"""One planner, every surface: the same message gives the same decision (model, rule, refusal)
on the chat page, /v1, the composer preview, the test panel, the JSON dry-run and
`manage.py route` (issue 10).

Stickiness and a `/model` pin belong to a chat thread: surfaces without a thread (/v1, the
test panel, the dry-run, the command) have none, so for those cases the table says what they
give instead (/v1's counterpart of a pin is naming the model; the test surfaces test a router).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from urllib.parse import unquote

import httpx
import pytest
from django.core.management import CommandError, call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse

from chat.models import Message, Thread, Workspace
from chat.preview import preview_route
from decisions.models import RoutingDecision
from providers.models import CatalogModel
from routers import config_version, services
from routers.models import Router, Rule, Visibility
from routers.versions import router_publish
from tests.api.conftest import _running, wait_for
from tests.chat.streaming import sse_events

CODE = "My python script fails."
PLAIN = "Hello there."
UNAVAILABLE = "is no longer available to you: its owner made it private"


@dataclass(frozen=True)
class Seen:
    model: str = ""
    rule: str = ""
    refused: str = ""  # the refusal's text ("" when a model would answer)


SURFACES = ("chat", "preview", "v1", "test_panel", "dry_run", "command")
THREADLESS = ("v1", "test_panel", "dry_run", "command")


@pytest.fixture
def world(live_url, owner, teammate, token_for, fake_router):
    workspace = Workspace.objects.create(
        name="Parity", owner=owner, mode="router", router=fake_router
    )
    workspace.members.add(owner, teammate)
    return {
        "router": fake_router,
        "workspace": workspace,
        "url": live_url,
        "tokens": {owner.pk: token_for(owner), teammate.pk: token_for(teammate, "mate")},
    }


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def chat(world, user, thread, text) -> Seen:
    client = _client(user)
    client.post(reverse("message_create", args=[thread.pk]), {"text": text}, HTTP_HX_REQUEST="true")
    assistant = Message.objects.filter(thread=thread, role="assistant").order_by("-id").first()
    sse_events(client.get(reverse("message_stream", args=[assistant.pk])))
    assistant.refresh_from_db()
    if assistant.status != "complete":
        return Seen(refused=assistant.error)
    return Seen(assistant.model_ref, assistant.routing.get("rule_name") or "")


def preview(world, user, thread, text) -> Seen:
    p = preview_route(user=user, workspace=thread.workspace, thread=thread, text=text)
    if not p.model:
        return Seen(rule=p.rule_name, refused=p.note)
    return Seen(p.model, p.rule_name)


def v1(world, user, thread, text, model=None) -> Seen:
    response = httpx.post(
        f"{world['url']}/v1/chat/completions",
        json={
            "model": model or f"router:{world['router'].slug}",
            "messages": [{"role": "user", "content": text}],
        },
        headers={"Authorization": f"Bearer {world['tokens'][user.pk]}"},
        timeout=10,
    )
    # The server logs the decision after the answer: what it writes is read once it has.
    for server in _running:
        server.wait_idle()
    if response.status_code != 200:
        return Seen(refused=response.json()["error"]["message"])

    return Seen(response.json()["model"], unquote(response.headers["x-routerweb-rule"]))


def panel(world, user, thread, text) -> Seen:
    response = _client(user).post(
        reverse("router_test", args=[world["router"].pk]), {"message": text}
    )
    if response.status_code == 404:
        return Seen(refused="404")
    result = response.context["result"]
    if result.get("error"):
        return Seen(refused=result["error"])
    rule = result["rule_name"] if result["source"] in ("rule", "sticky") else ""
    return Seen(result["model"] or "", rule or "")


def dry_run(world, user, thread, text) -> Seen:
    response = Client().post(
        f"/api/routers/{world['router'].pk}/dry-run",
        data=json.dumps({"message": text}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {world['tokens'][user.pk]}",
    )
    if response.status_code != 200:
        return Seen(refused=response.json()["detail"])
    data = response.json()
    if data["refusal"]:
        return Seen(refused=data["refusal"])
    return Seen(data["model"], data["rule_name"] or "")


def command(world, user, thread, text) -> Seen:
    out = io.StringIO()
    try:
        call_command(
            "route", text, router=world["router"].slug, json=True, user=user.username, stdout=out
        )
    except CommandError as exc:
        return Seen(refused=str(exc))
    data = json.loads(out.getvalue())
    return Seen(data["model"] or "", data["rule_name"] or "")


DRIVERS = {
    "chat": chat,
    "preview": preview,
    "v1": v1,
    "test_panel": panel,
    "dry_run": dry_run,
    "command": command,
}


def _invalidate(router: Router) -> None:
    # A rule stored before a validation change: the router no longer compiles.
    Rule.objects.filter(router=router, name="Code").update(
        conditions=[{"property": "regex", "operator": "matches", "value": "(unclosed"}]
    )
    Router.objects.filter(pk=router.pk).update(version=F("version") + 1)
    # ... and published as stored (the services refuse to publish a router that does not
    # compile), so traffic and the draft-testing surfaces agree.
    router.refresh_from_db()
    services.publish_version(
        router=router, snapshot=services.router_snapshot(router=router), actor=router.owner, note=""
    )
    config_version.bump()


def _seen_all(world, user, thread, text, **v1_kwargs) -> dict[str, Seen]:
    seen = {}
    # The preview first: it must say what sending is about to do (chat then sends).
    for name in ("preview", "chat", "v1", "test_panel", "dry_run", "command"):
        driver = DRIVERS[name]
        seen[name] = (
            driver(world, user, thread, text, **v1_kwargs)
            if name == "v1"
            else driver(world, user, thread, text)
        )
    return seen


def test_a_rule_hit_is_the_same_everywhere(world, owner):
    thread = Thread.objects.create(workspace=world["workspace"], owner=owner)
    seen = _seen_all(world, owner, thread, CODE)
    assert set(seen.values()) == {Seen("fake/fake-large", "Code")}, seen


def test_no_rule_falls_through_to_the_primary_everywhere(world, owner):
    thread = Thread.objects.create(workspace=world["workspace"], owner=owner)
    seen = _seen_all(world, owner, thread, PLAIN)
    assert set(seen.values()) == {Seen("fake/fake-small", "")}, seen


def test_a_sticky_thread_keeps_its_rule_on_the_thread_surfaces(world, owner):
    router = services.router_update(
        router=world["router"], actor=owner, sticky=True, cooldown_minutes=30
    )
    router_publish(router=router, actor=owner)  # traffic and the test surfaces agree
    world["workspace"].refresh_from_db()
    thread = Thread.objects.create(workspace=world["workspace"], owner=owner)
    assert chat(world, owner, thread, CODE) == Seen("fake/fake-large", "Code")
    world["router"] = router
    seen = _seen_all(world, owner, thread, PLAIN)
    for name in ("chat", "preview"):
        assert seen[name] == Seen("fake/fake-large", "Code"), (name, seen)
    for name in THREADLESS:  # no thread, nothing to stick to
        assert seen[name] == Seen("fake/fake-small", ""), (name, seen)


def test_a_pinned_model_answers_on_the_thread_surfaces_and_by_name_on_v1(world, owner):
    thread = Thread.objects.create(
        workspace=world["workspace"],
        owner=owner,
        override_model=CatalogModel.objects.get(model_id="fake-vision"),
    )
    expected = Seen("fake/fake-vision", "")
    assert preview(world, owner, thread, CODE) == expected
    assert chat(world, owner, thread, CODE) == expected
    assert v1(world, owner, thread, CODE, model="fake/fake-vision") == expected


def test_a_disabled_pinned_model_is_refused_the_same_way(world, owner):
    vision = CatalogModel.objects.get(model_id="fake-vision")
    thread = Thread.objects.create(workspace=world["workspace"], owner=owner, override_model=vision)
    vision.enabled = False
    vision.save()
    said = "This chat is pinned to fake/fake-vision, which is not enabled any more."
    assert said in preview(world, owner, thread, CODE).refused
    assert said in chat(world, owner, thread, CODE).refused
    refused = v1(world, owner, thread, CODE, model="fake/fake-vision").refused
    assert "'fake/fake-vision' does not exist or is not enabled" in refused


def test_an_invalid_router_answers_with_its_primary_everywhere_and_logs_the_same(world, owner):
    _invalidate(world["router"])
    world["router"].refresh_from_db()
    thread = Thread.objects.create(workspace=world["workspace"], owner=owner)
    seen = _seen_all(world, owner, thread, CODE)
    assert set(seen.values()) == {Seen("fake/fake-small", "")}, seen

    logged = wait_for(lambda: list(RoutingDecision.objects.filter(channel="api")))
    chat_row = RoutingDecision.objects.get(channel="chat")
    api_row = logged[0]
    for row in (chat_row, api_row):
        assert row.source == "primary" and row.model_ref == "fake/fake-small"
        assert row.reason.startswith("Router is invalid")
    assert chat_row.reason == api_row.reason


def test_a_router_made_private_is_refused_everywhere_without_its_rules(world, owner, teammate):
    services.router_update(router=world["router"], actor=owner, visibility=Visibility.SHARED)
    thread = Thread.objects.create(workspace=world["workspace"], owner=teammate)
    assert chat(world, teammate, thread, CODE) == Seen("fake/fake-large", "Code")
    services.router_update(router=world["router"], actor=owner, visibility=Visibility.PRIVATE)
    world["workspace"].refresh_from_db()
    thread.refresh_from_db()

    seen = _seen_all(world, teammate, thread, CODE)
    assert all(s.refused and not s.model and not s.rule for s in seen.values()), seen
    for name in ("chat", "preview"):
        assert UNAVAILABLE in seen[name].refused
        assert "Ask whoever manages this workspace" in seen[name].refused
        assert "Code" not in seen[name].refused
    assert "does not exist or you do not have access" in seen["v1"].refused
    assert "can see" in seen["command"].refused


def test_a_disabled_per_message_pick_is_refused_with_the_same_words(world, owner):
    vision = CatalogModel.objects.get(model_id="fake-vision")
    thread = Thread.objects.create(workspace=world["workspace"], owner=owner)
    vision.enabled = False
    vision.save()
    said = "The model fake/fake-vision picked for this message is not in the enabled catalog."

    p = preview_route(
        user=owner, workspace=thread.workspace, thread=thread, text=CODE, pick="fake/fake-vision"
    )
    assert p.model == "" and said in p.note
    # Sending it: the composer refuses it with the same words, and nothing is stored.
    response = _client(owner).post(
        reverse("message_create", args=[thread.pk]),
        {"text": CODE, "once_model": "fake/fake-vision"},
        HTTP_HX_REQUEST="true",
    )
    assert said in response.content.decode()
    assert not Message.objects.filter(thread=thread).exists()
    # /v1's counterpart, naming the model: refused too (a 404 names nothing it may not see).
    refused = v1(world, owner, thread, CODE, model="fake/fake-vision").refused
    assert "'fake/fake-vision' does not exist or is not enabled" in refused
