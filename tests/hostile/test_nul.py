"""A NUL character (U+0000) anywhere a person or client can send text: refused with a clear
message before anything is stored or queried, and never the reason a routing decision is
lost (issue 11, item 6). PostgreSQL cannot store NUL in text or jsonb, so on SQLite these
tests check that it never reaches the database; CI runs them on PostgreSQL too."""

from __future__ import annotations

import pytest

from chat.models import Message, Thread
from decisions.log import new_payload
from decisions.models import RoutingDecision
from decisions.services import decision_write, storable
from engine import RuleError, validate_condition
from routers import services


@pytest.fixture
def client(client_for, owner):
    client = client_for(owner)
    client.raise_request_exception = False
    return client


def test_a_chat_message_with_nul_is_refused_and_nothing_is_stored(client, thread):
    response = client.post(
        f"/threads/{thread.pk}/messages/", {"text": "hello\x00world"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 422
    assert "NUL" in response.content.decode()
    assert response["HX-Retarget"] == "#request-errors"
    assert not Message.objects.filter(thread=thread).exists()


def test_the_chat_service_refuses_nul_too(thread):
    from django.core.exceptions import ValidationError

    from chat.services import message_post

    with pytest.raises(ValidationError, match="NUL"):
        message_post(thread=thread, text="a\x00b")
    assert not Message.objects.exists()


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/workspaces/{ws}/", {"q": "x\x00"}),
        ("post", "/threads/{thread}/rename/", {"title": "t\x00"}),
        ("post", "/workspaces/{ws}/preview/", {"text": "hi", "once_model": "demo/\x00"}),
        ("get", "/manage/people/", {"q": "\x00"}),
        ("get", "/manage/audit/", {"actor": "a\x00"}),
        ("post", "/routers/new/", {"name": "R\x00", "primary_model": "demo/small"}),
    ],
)
def test_nul_in_any_form_or_query_is_a_clear_400(client, admin_user, client_for, thread,
                                                  method, path, data):  # fmt: skip
    client = client_for(admin_user)
    client.raise_request_exception = False
    url = path.format(ws=thread.workspace_id, thread=thread.pk)
    response = getattr(client, method)(url, data)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()
    assert Thread.objects.get(pk=thread.pk).title == thread.title


def test_a_form_without_nul_is_untouched(client, thread):
    response = client.post(f"/threads/{thread.pk}/messages/", {"text": "plain"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "condition",
    [
        {"property": "keywords", "operator": "contains_any", "value": ["py\x00"]},
        {"property": "regex", "operator": "matches", "value": "a\x00b"},
        {"property": "user", "operator": "eq", "value": "bob\x00"},
        {"property": "group", "operator": "contains_any", "value": ["x", "\x00"]},
    ],
)
def test_a_condition_value_with_nul_is_a_rule_error(condition):
    with pytest.raises(RuleError, match="NUL"):
        validate_condition(condition)


def test_a_rule_saved_through_services_refuses_nul_in_conditions(make_router):
    from django.core.exceptions import ValidationError

    router = make_router(slug="nul")
    with pytest.raises(ValidationError, match="NUL"):
        services.rule_create(
            router=router,
            name="R",
            kind="calculated",
            target_model="demo/coder",
            conditions=[{"property": "keywords", "operator": "contains_any", "value": ["\x00"]}],
            actor=router.owner,
        )


def test_the_decision_writer_never_drops_a_decision_for_a_nul_or_a_surrogate(owner):
    payload = new_payload(
        rule_name="Rule\x00name",
        reason='matched "\x00" and "\ud800"',
        source="rule",
        model_ref="demo/small",
        answered_by="demo/small",
        attempts=[{"model": "demo/small", "ok": True, "note": "x\x00"}],
        verdicts=[{"observed": "found \x00", "label\x00": 1}],
        channel="api",
        user_id=owner.pk,
    )
    decision = decision_write(payload)
    decision.refresh_from_db()
    assert decision.rule_name == "Rule\ufffdname"
    assert "\x00" not in decision.reason and "\ud800" not in decision.reason
    assert decision.attempts[0]["note"] == "x\ufffd"
    assert decision.verdicts == [{"observed": "found \ufffd", "label\ufffd": 1}]
    assert RoutingDecision.objects.count() == 1


def test_storable_leaves_ordinary_values_alone():
    value = {"a": ["b", 1, None, 2.5, {"c": "é ✓"}]}
    assert storable(value) == value


def test_nul_in_a_json_api_query_is_a_json_400(client, token_for, owner):
    response = client.get(
        "/api/decisions", {"model": "demo/\x00"}, HTTP_AUTHORIZATION=f"Bearer {token_for(owner)}"
    )
    assert response.status_code == 400
    assert "NUL character" in response.json()["detail"]


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded"],  # None: the test client's multipart
)
@pytest.mark.parametrize("path", ["/api/routers", "/api/workspaces"])
def test_a_form_body_to_the_json_api_is_a_4xx_not_a_500(admin_user, path, content_type):
    # The NUL guard parses form bodies; the JSON API must still be able to read its body after.
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(admin_user)
    extra = {"content_type": content_type} if content_type else {}
    response = client.post(path, {"name": "R"} if content_type is None else "name=R", **extra)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["detail"]
    nul = client.post(path, {"name": "R\x00"})
    assert nul.status_code == 400
    assert "NUL" in nul.json()["detail"]


def test_storable_checks_the_whole_record_at_once_and_still_finds_each_bad_string():
    # Clean records (ASCII or not) come back as they are; one NUL or lone surrogate anywhere
    # in them, even as a dictionary key, is replaced; text that merely spells "\u0000" is kept.
    clean = {"a": ["b", 1, None, {"c": "é ✓ 日本"}]}
    assert storable(clean) is clean
    spelled = {"text": "a \\u0000 b"}
    assert storable(spelled) == spelled
    assert storable({"deep": [{"x\x00": "ok"}]}) == {"deep": [{"x\ufffd": "ok"}]}
    lone = storable({"deep": [{"k": "lone \ud800"}]})["deep"][0]["k"]
    assert lone.startswith("lone \ufffd") and lone.encode("utf-8")
    assert storable("a \\u0000 b") == "a \\u0000 b"
