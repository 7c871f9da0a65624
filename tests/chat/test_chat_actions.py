"""Chat actions: stop, regenerate, edit and resend, rename, delete, search; the picker follows
/model; rendered markdown in the stream."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.urls import reverse

from chat.answering import Delta, answer_events, answer_stop
from chat.models import Message, MessageStatus, Thread
from chat.services import message_post, thread_create, thread_title_from, workspace_create
from tests.chat.streaming import sse_events

HX = {"HTTP_HX_REQUEST": "true"}


def _answer(message: Message) -> None:
    """Stream `message`'s answer to the end (as the page's EventSource would)."""

    async def run() -> None:
        async for _ in answer_events(message.pk):
            pass

    async_to_sync(run)()


def _stop_after_first_words(message: Message) -> list[str]:
    seen: list[str] = []

    async def run() -> None:
        async for event in answer_events(message.pk):
            if isinstance(event, Delta):
                seen.append(event.text)
                if len(seen) == 2:
                    await answer_stop(message.pk)

    async_to_sync(run)()
    return seen


def test_stopping_an_answer_keeps_the_partial_text_and_marks_it(owner, thread):
    _, answer = message_post(thread=thread, text="Tell me a long story")
    seen = _stop_after_first_words(answer)
    answer.refresh_from_db()
    assert answer.status == MessageStatus.INCOMPLETE
    assert answer.content == "".join(seen), "the text shown so far is kept, nothing after it"
    assert answer.error == "Stopped by you."
    assert answer.routing["stopped"] is True
    # The model call itself was cut off (the attempt says so), and what was used is billed.
    assert answer.routing["attempts"][-1]["error"] == "stopped"
    assert answer.model_ref == "demo/small" and answer.output_tokens > 0

    # Finished at its full length, the same answer is longer: the stop really cut it short.
    _, again = message_post(thread=thread, text="Tell me a long story")
    _answer(again)
    again.refresh_from_db()
    assert len(again.content) > len(answer.content)


def test_a_stopped_answer_is_shown_as_stopped_not_as_an_error(client_for, owner, thread):
    _, answer = message_post(thread=thread, text="Tell me a long story")
    _stop_after_first_words(answer)
    page = client_for(owner).get(reverse("thread", args=[thread.pk])).content.decode()
    assert "Stopped by you" in page
    assert "Incomplete answer" not in page


def test_the_stop_button_posts_the_stop_request(client_for, owner, thread):
    client = client_for(owner)
    _, answer = message_post(thread=thread, text="hello")
    page = client.get(reverse("thread", args=[thread.pk])).content.decode()
    assert reverse("message_stop", args=[answer.pk]) in page
    assert client.post(reverse("message_stop", args=[answer.pk]), **HX).status_code == 204
    events = sse_events(client.get(reverse("message_stream", args=[answer.pk])))
    assert events[-1][0] == "done"
    answer.refresh_from_db()
    # Stopped before the first word: nothing was written, and the message says why.
    assert answer.status == MessageStatus.ERROR and answer.error == "Stopped by you."


def test_streamed_chunks_are_rendered_markdown(client_for, owner, thread):
    client = client_for(owner)
    _, answer = message_post(thread=thread, text="hi")
    events = sse_events(client.get(reverse("message_stream", args=[answer.pk])))
    chunks = [data for name, data in events if name == "chunk"]
    assert chunks and all(c.startswith("<p>") for c in chunks)
    # Each chunk is the whole answer so far, so the last one holds every earlier one's text.
    assert len(chunks[-1]) >= len(chunks[0])


def test_regenerate_answers_the_last_question_again_in_place(client_for, owner, thread):
    client = client_for(owner)
    user_message, answer = message_post(thread=thread, text="What is a router?")
    _answer(answer)
    response = client.post(reverse("message_regenerate", args=[answer.pk]), **HX)
    assert response.status_code == 200
    assert f'sse-connect="/messages/{answer.pk}/stream/"' in response.content.decode()
    answer.refresh_from_db()
    assert answer.status == MessageStatus.PENDING and answer.content == ""
    _answer(answer)
    answer.refresh_from_db()
    assert answer.status == MessageStatus.COMPLETE and answer.model_ref == "demo/small"
    assert answer.routing.get("regenerated") is True
    assert list(thread.messages.values_list("pk", flat=True)) == [user_message.pk, answer.pk]


def test_regenerate_with_another_model_uses_it_once(client_for, owner, thread):
    client = client_for(owner)
    _, answer = message_post(thread=thread, text="What is a router?")
    _answer(answer)
    client.post(reverse("message_regenerate", args=[answer.pk]), {"model": "demo/large"}, **HX)
    _answer(answer)
    answer.refresh_from_db()
    assert answer.model_ref == "demo/large"
    assert answer.routing["source"] == "override"
    thread.refresh_from_db()
    assert thread.override_model is None, "the thread itself is not pinned"


def test_only_the_last_answer_can_be_regenerated_and_not_while_streaming(client_for, owner, thread):
    client = client_for(owner)
    _, first = message_post(thread=thread, text="one")
    _answer(first)
    _, second = message_post(thread=thread, text="two")
    response = client.post(reverse("message_regenerate", args=[second.pk]), **HX)
    assert response.status_code == 422 and "still being written" in response.content.decode()
    _answer(second)
    response = client.post(reverse("message_regenerate", args=[first.pk]), **HX)
    assert response.status_code == 422 and "Only the last answer" in response.content.decode()
    first.refresh_from_db()
    assert first.status == MessageStatus.COMPLETE and first.content


def test_an_unknown_model_for_regenerate_changes_nothing(client_for, owner, thread):
    client = client_for(owner)
    _, answer = message_post(thread=thread, text="hi")
    _answer(answer)
    before = Message.objects.get(pk=answer.pk).content
    response = client.post(
        reverse("message_regenerate", args=[answer.pk]), {"model": "nope/x"}, **HX
    )
    assert response.status_code == 422
    assert Message.objects.get(pk=answer.pk).content == before


def test_editing_a_message_replaces_it_and_everything_after_it(client_for, owner, thread):
    client = client_for(owner)
    first, first_answer = message_post(thread=thread, text="frist question")
    _answer(first_answer)
    _, second_answer = message_post(thread=thread, text="second question")
    _answer(second_answer)
    response = client.post(
        reverse("message_edit", args=[first.pk]), {"text": "first question"}, **HX
    )
    assert response.status_code == 200 and response.headers["HX-Refresh"] == "true"
    rows = list(thread.messages.order_by("id"))
    assert [(m.role, m.content) for m in rows] == [("user", "first question"), ("assistant", "")]
    assert rows[1].status == MessageStatus.PENDING
    _answer(rows[1])
    rows[1].refresh_from_db()
    assert rows[1].status == MessageStatus.COMPLETE


def test_an_empty_edit_is_refused_and_changes_nothing(client_for, owner, thread):
    client = client_for(owner)
    first, answer = message_post(thread=thread, text="keep me")
    _answer(answer)
    response = client.post(reverse("message_edit", args=[first.pk]), {"text": "  "}, **HX)
    assert response.status_code == 422
    assert [m.content for m in thread.messages.order_by("id")][0] == "keep me"
    assert thread.messages.count() == 2


def test_someone_elses_message_cannot_be_edited_regenerated_or_stopped(
    client_for, owner, teammate, thread
):
    thread.workspace.members.add(teammate)
    first, answer = message_post(thread=thread, text="mine")
    client = client_for(teammate)
    for name, data in (
        ("message_edit", {"text": "theirs"}),
        ("message_regenerate", {}),
        ("message_stop", {}),
    ):
        target = first if name == "message_edit" else answer
        assert client.post(reverse(name, args=[target.pk]), data, **HX).status_code == 404
    assert Message.objects.get(pk=first.pk).content == "mine"


def test_threads_can_be_renamed_and_a_blank_name_is_refused(client_for, owner, thread):
    client = client_for(owner)
    response = client.post(reverse("thread_rename", args=[thread.pk]), {"title": "  Plans  "})
    assert response.status_code == 302
    thread.refresh_from_db()
    assert thread.title == "Plans"
    response = client.post(reverse("thread_rename", args=[thread.pk]), {"title": " "}, **HX)
    assert response.status_code == 422
    thread.refresh_from_db()
    assert thread.title == "Plans"


def test_deleting_a_thread_removes_it_and_its_messages(client_for, owner, thread):
    client = client_for(owner)
    message_post(thread=thread, text="bye")
    response = client.post(reverse("thread_delete", args=[thread.pk]), **HX)
    assert response.headers["HX-Redirect"] == reverse("workspace", args=[thread.workspace_id])
    assert not Thread.objects.filter(pk=thread.pk).exists()
    assert not Message.objects.filter(thread_id=thread.pk).exists()


def test_thread_search_matches_names_and_message_text(client_for, owner, workspace):
    client = client_for(owner)
    a = thread_create(workspace=workspace, owner=owner, title="Holiday plans")
    b = thread_create(workspace=workspace, owner=owner, title="Misc")
    message_post(thread=b, text="How do I parse YAML in Rust?")
    thread_create(workspace=workspace, owner=owner, title="Other")
    url = reverse("thread_search", args=[workspace.pk])
    html = client.get(url, {"q": "yaml"}, **HX).content.decode()
    assert "Misc" in html and "Holiday" not in html and "Other" not in html
    html = client.get(url, {"q": "HOLIDAY"}, **HX).content.decode()
    assert "Holiday plans" in html and "Misc" not in html
    html = client.get(url, {"q": "zebra"}, **HX).content.decode()
    assert "No chat matches" in html
    # Without JavaScript the search form leads to the workspace page, filtered.
    response = client.get(url, {"q": "yaml"})
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Misc" in page and "Holiday plans" not in page
    assert a.pk  # listed only when it matches


def test_search_never_shows_a_colleagues_threads(client_for, owner, teammate, workspace):
    workspace.members.add(teammate)
    theirs = thread_create(workspace=workspace, owner=teammate, title="Secret salary talk")
    message_post(thread=theirs, text="salary")
    html = (
        client_for(owner)
        .get(reverse("thread_search", args=[workspace.pk]), {"q": "salary"}, **HX)
        .content.decode()
    )
    assert "Secret" not in html


def test_the_picker_and_pinned_chip_follow_a_model_command_at_once(client_for, owner, thread):
    client = client_for(owner)
    response = client.post(
        reverse("message_create", args=[thread.pk]), {"text": "/model demo/large"}, **HX
    )
    html = response.content.decode()
    assert 'id="thread-picker"' in html and 'hx-swap-oob="true"' in html
    assert '<option value="demo/large" selected>' in html
    assert "pinned" in html
    response = client.post(
        reverse("message_create", args=[thread.pk]), {"text": "/model auto"}, **HX
    )
    html = response.content.decode()
    assert '<option value="auto" selected>' in html and "📌" not in html


def test_a_manager_reaches_every_workspace_and_its_settings(client_for, owner, manager, workspace):
    client = client_for(manager)
    assert client.get(reverse("workspace", args=[workspace.pk])).status_code == 200
    assert client.get(reverse("workspace_members", args=[workspace.pk])).status_code == 200
    assert workspace.name in client.get(reverse("home")).content.decode()


def test_a_member_sees_no_links_to_a_private_router_or_to_settings(
    client_for, owner, teammate, demo_catalog
):
    from routers.services import router_create

    private = router_create(
        owner=owner, name="Mine", slug="mine", primary_model="demo/small", actor=owner
    )
    workspace = workspace_create(owner=owner, name="Team", router=private)
    workspace.members.add(teammate)
    page = client_for(teammate).get(reverse("workspace", args=[workspace.pk])).content.decode()
    assert reverse("router_detail", args=[private.pk]) not in page
    assert reverse("workspace_edit", args=[workspace.pk]) not in page
    assert reverse("workspace_members", args=[workspace.pk]) not in page
    owner_page = client_for(owner).get(reverse("workspace", args=[workspace.pk])).content.decode()
    assert reverse("router_detail", args=[private.pk]) in owner_page


def test_a_workspace_page_without_a_thread_has_no_dangling_hx_include(client_for, owner, workspace):
    # htmx logs "[name=thread] on hx-include returned no matches" to the console otherwise.
    page = client_for(owner).get(reverse("workspace", args=[workspace.pk])).content.decode()
    assert 'hx-include="[name=thread]"' not in page


def test_the_badge_names_the_rule_the_classifier_chose_and_shows_what_it_read(
    client_for, owner, demo_catalog
):
    from routers.services import router_create
    from tests.routers.conftest import add_rules

    router = router_create(owner=owner, name="R", slug="r", primary_model="demo/small", actor=owner)
    add_rules(router)
    workspace = workspace_create(owner=owner, name="Routed", router=router)
    thread = thread_create(workspace=workspace, owner=owner)
    _, first = message_post(thread=thread, text="I signed a contract last week")
    _answer(first)
    _, answer = message_post(thread=thread, text="Is it compliant with the law?")
    _answer(answer)
    answer.refresh_from_db()
    assert answer.routing["rule_name"] == "Legal"
    page = client_for(owner).get(reverse("thread", args=[thread.pk])).content.decode()
    assert "chose rule “Legal”" in page
    assert "What the classifier read" in page
    assert "I signed a contract last week" in page.split("What the classifier read")[-1]
    assert "said r1" not in page and "<code>r1</code>" not in page


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("Why does f fail?\n```python\ndef f(x):\n    return x / 0\n```", "Why does f fail?"),
        ("```js\nconst a = [1, 2];\n```", "const a = [1, 2];"),
        ("## **Plan** for `deploy`\n- step one", "Plan for deploy"),
        ("> quoted   question\n", "quoted question"),
        ("x" * 80, "x" * 59 + "…"),
        ("```\n\n```", "New chat"),
    ],
)
def test_a_new_chat_is_named_after_the_first_line_of_prose(text, title):
    assert thread_title_from(text) == title
