from __future__ import annotations

import pytest
from django.urls import reverse

from chat.models import Message, MessageStatus, Thread, Workspace
from decisions.models import RoutingDecision
from routers.demo import demo_router_ensure
from routers.models import Router, Rule
from tests.chat.streaming import sse_events


@pytest.fixture
def router_workspace(owner, demo_catalog):
    router = demo_router_ensure(owner=owner)
    workspace = Workspace.objects.create(
        name="Routed", owner=owner, mode="router", router=router, tags=["demo"]
    )
    workspace.members.add(owner)
    return workspace


@pytest.fixture(autouse=True)
def _run_on_commit_callbacks(django_capture_on_commit_callbacks):
    # Decisions are enqueued on commit; inside a test's transaction nothing commits, so each
    # send runs them when its streamed answer is finished.
    global _capture
    _capture = django_capture_on_commit_callbacks
    yield


_capture = None


@pytest.fixture
def routed_thread(router_workspace, owner):
    return Thread.objects.create(workspace=router_workspace, owner=owner)


def send(client, thread, text, **extra):
    client.post(
        reverse("message_create", args=[thread.pk]), {"text": text, **extra}, HTTP_HX_REQUEST="true"
    )
    assistant = Message.objects.filter(thread=thread, role="assistant").order_by("-id").first()
    with _capture(execute=True):
        events = sse_events(client.get(reverse("message_stream", args=[assistant.pk])))
    assistant.refresh_from_db()
    return assistant, events


def test_a_message_is_answered_by_the_model_of_the_rule_that_matched(
    client_for, owner, routed_thread
):
    assistant, events = send(
        client_for(owner), routed_thread, "My python function throws a stack trace"
    )
    assert assistant.status == MessageStatus.COMPLETE
    assert assistant.model_ref == "demo/coder"
    assert assistant.routing["rule_name"] == "Code questions"
    assert "Code questions" in events[-1][1], "the badge arrives with the final row"
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert decision.rule.name == "Code questions"
    assert decision.answered_by == "demo/coder"
    assert decision.cost == assistant.cost
    assert decision.cost < decision.primary_cost, "the coder is cheaper than the large primary"
    assert decision.channel == "chat" and not decision.overridden


def test_the_llm_rule_is_decided_by_one_classifier_call(client_for, owner, routed_thread):
    assistant, _ = send(
        client_for(owner), routed_thread, "Is this contract compliant with GDPR law?"
    )
    assert assistant.routing["rule_name"] == "Legal & compliance"
    assert assistant.routing["classifier_called"] is True
    assert assistant.model_ref == "demo/large"


def test_a_short_everyday_question_goes_to_the_small_model(client_for, owner, routed_thread):
    assistant, _ = send(client_for(owner), routed_thread, "Hello, how are you today?")
    assert assistant.routing["rule_name"] == "Everyday questions"
    assert assistant.model_ref == "demo/small"


def test_no_rule_matching_uses_the_primary_model(client_for, owner, routed_thread):
    long_message = "Tell me about the history of the harbour and its lighthouses. " * 40
    assistant, _ = send(client_for(owner), routed_thread, long_message)
    assert assistant.routing["source"] == "primary"
    assert assistant.model_ref == "demo/large"


def test_the_badge_survives_a_reload(client_for, owner, routed_thread):
    client = client_for(owner)
    send(client, routed_thread, "javascript bug")
    page = client.get(reverse("thread", args=[routed_thread.pk])).content.decode()
    assert "Demo Coder (simulated)" in page
    assert "rule “Code questions”" in page
    assert "Why this model?" in page


def test_model_command_pins_the_thread_and_auto_returns_it_to_the_router(
    client_for, owner, routed_thread
):
    client = client_for(owner)
    client.post(reverse("message_create", args=[routed_thread.pk]), {"text": "/model demo/large"})
    routed_thread.refresh_from_db()
    assert routed_thread.override_model.ref == "demo/large"
    note = Message.objects.filter(thread=routed_thread, role="note").last()
    assert "routing is bypassed" in note.content
    assistant, _ = send(client, routed_thread, "python bug please")
    assert assistant.model_ref == "demo/large"
    assert assistant.routing["source"] == "override"
    assert RoutingDecision.objects.get(message_id=assistant.pk).overridden is True

    client.post(reverse("message_create", args=[routed_thread.pk]), {"text": "/model auto"})
    routed_thread.refresh_from_db()
    assert routed_thread.override_model is None
    assistant, _ = send(client, routed_thread, "python bug please")
    assert assistant.model_ref == "demo/coder"


def test_a_command_note_is_never_sent_to_a_model(client_for, owner, routed_thread):
    client = client_for(owner)
    client.post(reverse("message_create", args=[routed_thread.pk]), {"text": "/status"})
    assistant, _ = send(client, routed_thread, "hello")
    assert "turn 1 of the conversation" in assistant.content


def test_status_says_what_routes_the_thread(client_for, owner, routed_thread):
    client_for(owner).post(reverse("message_create", args=[routed_thread.pk]), {"text": "/status"})
    note = Message.objects.get(thread=routed_thread, role="note")
    assert "Demo router" in note.content and "Code questions" in note.content


@pytest.mark.parametrize("text", ["/model nope/missing", "/frobnicate", "/model"])
def test_a_bad_command_is_refused_with_a_message(client_for, owner, routed_thread, text):
    response = client_for(owner).post(
        reverse("message_create", args=[routed_thread.pk]), {"text": text}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert not Message.objects.filter(thread=routed_thread).exists()


def test_the_model_picker_sets_and_clears_the_override(client_for, owner, routed_thread):
    client = client_for(owner)
    client.post(reverse("thread_model", args=[routed_thread.pk]), {"model": "demo/coder"})
    routed_thread.refresh_from_db()
    assert routed_thread.override_model.ref == "demo/coder"
    client.post(reverse("thread_model", args=[routed_thread.pk]), {"model": "auto"})
    routed_thread.refresh_from_db()
    assert routed_thread.override_model is None


def test_one_message_can_be_sent_to_another_model(client_for, owner, routed_thread):
    assistant, _ = send(client_for(owner), routed_thread, "python please", once_model="demo/large")
    assert assistant.model_ref == "demo/large"
    assert assistant.routing["source"] == "override"
    routed_thread.refresh_from_db()
    assert routed_thread.override_model is None, "only that one message"


def test_the_preview_names_the_model_and_rule_without_calling_a_model(
    client_for, owner, router_workspace, fake_upstream
):
    response = client_for(owner).post(
        reverse("route_preview", args=[router_workspace.pk]), {"text": "debug my javascript"}
    )
    html = response.content.decode()
    assert "Demo Coder (simulated)" in html and "Code questions" in html
    response = client_for(owner).post(
        reverse("route_preview", args=[router_workspace.pk]), {"text": "hello"}
    )
    assert "classifier" in response.content.decode(), (
        "the LLM rule is still possible and the preview says so"
    )


def test_an_image_skips_a_text_only_model(client_for, owner, demo_catalog):
    """Capability filter: a rule targeting a text-only model falls through to one that takes images."""
    import io

    from django.core.files.uploadedfile import SimpleUploadedFile
    from PIL import Image

    router = Router.objects.create(
        name="R",
        slug="r",
        owner=owner,
        primary_model=demo_catalog["small"],
        fallbacks=["demo/large"],
    )
    Rule.objects.create(
        router=router,
        name="Everything",
        position=0,
        target_model=demo_catalog["coder"],
        conditions=[{"property": "message_chars", "operator": "gte", "value": 0}],
    )
    workspace = Workspace.objects.create(name="W", owner=owner, mode="router", router=router)
    thread = Thread.objects.create(workspace=workspace, owner=owner)
    buffer = io.BytesIO()
    Image.new("RGB", (2, 2)).save(buffer, format="PNG")
    image = SimpleUploadedFile("x.png", buffer.getvalue(), content_type="image/png")
    assistant, _ = send(client_for(owner), thread, "what is in this picture?", images=image)
    assert assistant.model_ref == "demo/large"
    assert any(
        s["model"] == "demo/coder" and "images" in s["reason"] for s in assistant.routing["skipped"]
    )


def _forget_broker_connections(app) -> None:
    # Celery keeps a producer pool bound to the broker it first reached; without dropping it,
    # a changed broker_url would still publish to the old (live) broker.
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def test_a_decision_is_written_directly_when_the_broker_is_down(
    transactional_db, client_for, owner, routed_thread, settings, caplog, monkeypatch
):
    from decisions import publisher as publisher_module
    from routerweb.celery import app

    # A publisher of its own: the broker pause it records must not outlive this test.
    publisher = publisher_module.DecisionPublisher(maxsize=100, pause=60)
    monkeypatch.setattr(publisher_module, "_publisher", publisher)

    # Celery reads CELERY_BROKER_URL from the environment before its own configuration.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    previous = {key: app.conf[key] for key in ("task_always_eager", "broker_url")}
    app.conf.update(task_always_eager=False, broker_url="redis://127.0.0.1:1/0")
    _forget_broker_connections(app)
    try:
        with caplog.at_level("WARNING"):
            assistant, _ = send(client_for(owner), routed_thread, "python question")
            publisher.flush()  # the publishing thread found the broker down and wrote it
    finally:
        app.conf.update(**previous)
        _forget_broker_connections(app)
    assert RoutingDecision.objects.filter(message_id=assistant.pk).count() == 1
    assert "broker unreachable" in caplog.text


def test_a_chosen_model_that_is_rate_limited_falls_back_and_the_badge_says_so(
    client_for, owner, fake_provider, fake_upstream, settings
):
    settings.FAILOVER_BACKOFF_BASE = 0.01
    _, models = fake_provider
    router = Router.objects.create(name="F", slug="f", owner=owner, primary_model=models["backup"])
    Rule.objects.create(
        router=router,
        name="All",
        position=0,
        target_model=models["cheap"],
        conditions=[{"property": "message_chars", "operator": "gte", "value": 0}],
    )
    workspace = Workspace.objects.create(name="W", owner=owner, mode="router", router=router)
    thread = Thread.objects.create(workspace=workspace, owner=owner)
    fake_upstream.script(model="cheap", status=429)
    fake_upstream.script(model="backup", reply="Backup says hi")
    assistant, events = send(client_for(owner), thread, "hello")
    assert assistant.status == MessageStatus.COMPLETE
    assert assistant.content == "Backup says hi"
    assert assistant.model_ref == "fake/backup"
    failed = [a for a in assistant.routing["attempts"] if not a["ok"]]
    assert failed and failed[0]["model"] == "fake/cheap" and failed[0]["error"] == "rate_limited"
    assert "fake/cheap failed: rate_limited" in events[-1][1], "the badge names the failed model"
    decision = RoutingDecision.objects.get(message_id=assistant.pk)
    assert decision.fallback_used and decision.answered_by == "fake/backup"


def test_a_stream_dropped_midway_is_continued_or_marked_incomplete(
    client_for, owner, fake_provider, fake_upstream, settings
):
    settings.FAILOVER_BACKOFF_BASE = 0.01
    _, models = fake_provider
    workspace = Workspace.objects.create(name="W", owner=owner, mode="model", model=models["cheap"])
    thread = Thread.objects.create(workspace=workspace, owner=owner)
    fake_upstream.script(
        model="cheap", reply="one two three four five six seven eight", drop_after_chunks=2
    )
    assistant, _ = send(client_for(owner), thread, "count for me")
    assert assistant.status == MessageStatus.INCOMPLETE, (
        "a cut answer is never presented as complete"
    )
    assert assistant.content, "the text already shown is kept"
    assert "cut off" in assistant.error
    page = client_for(owner).get(reverse("thread", args=[thread.pk])).content.decode()
    assert "Cut off" in page


def test_the_demo_routes_a_translation_by_meaning_offline(client_for, owner, routed_thread):
    """The demo's semantic rule, judged with the demo's simulated embedding model."""
    client = client_for(owner)
    assistant, _ = send(client, routed_thread, "How do I say hello in German?")
    assert assistant.routing["rule_name"] == "Translations"
    assert assistant.model_ref == "demo/small"
    assert assistant.routing["embedding"]["model"] == "demo/embed"
    translations = next(v for v in assistant.routing["verdicts"] if v["name"] == "Translations")
    assert translations["semantic"]["nearest"] and translations["semantic"]["threshold"] == 0.35
    page = client.get(reverse("thread", args=[routed_thread.pk])).content.decode()
    assert "Embedding: <code>demo/embed</code>" in page
    assert "vs threshold 0.35" in page
    # A greeting is not a translation: the everyday rule takes it.
    assistant, _ = send(client, routed_thread, "Hello, how are you today?")
    assert assistant.routing["rule_name"] == "Everyday questions"


def test_the_preview_says_semantic_rules_are_still_possible(client_for, owner, router_workspace):
    response = client_for(owner).post(
        reverse("route_preview", args=[router_workspace.pk]), {"text": "hello"}
    )
    assert "close to the examples of Translations" in response.content.decode()


def test_embedding_models_are_not_offered_as_chat_models(client_for, owner, router_workspace):
    from providers.selectors import catalog_list_embedding, catalog_list_enabled

    assert "demo/embed" not in {m.ref for m in catalog_list_enabled()}
    assert [m.ref for m in catalog_list_embedding()] == ["demo/embed"]
    page = client_for(owner).get(reverse("router_edit", args=[router_workspace.router.pk]))
    html = page.content.decode()
    assert 'value="demo/embed"' in html and "local/potion-base-8M (built in)" in html
