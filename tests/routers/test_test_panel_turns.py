"""The test panel takes earlier turns; the classifier's excerpt is shown; rules are named."""

from __future__ import annotations

from django.urls import reverse

from routers import services
from routers.forms import parse_earlier_turns

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_earlier_turns_are_paragraphs_with_an_optional_speaker():
    text = "user: my contract\nhas two lines\n\nASSISTANT: tell me more\r\n\r\n  plain  \n\n\n"
    assert parse_earlier_turns(text) == [
        ("user", "my contract\nhas two lines"),
        ("assistant", "tell me more"),
        ("user", "plain"),
    ]
    assert parse_earlier_turns("") == []
    # A colon elsewhere is just text.
    assert parse_earlier_turns("note: this is mine") == [("user", "note: this is mine")]


def test_earlier_turns_count_as_turns_for_calculated_rules(client_for, owner, make_router):
    router = make_router()
    services.rule_create(
        router=router,
        name="Long conversation",
        kind="calculated",
        conditions=[{"property": "turns", "operator": "gte", "value": 3}],
        target_model="demo/large",
        actor=router.owner,
    )
    url = reverse("router_test", args=[router.pk])
    client = client_for(owner)
    alone = client.post(url, {"message": "and now?"}, **HTMX).content.decode()
    assert "No rule matched" in alone
    earlier = "first question\n\nassistant: an answer\n\nsecond question\n\nassistant: another"
    html = client.post(url, {"message": "and now?", "earlier": earlier}, **HTMX).content.decode()
    assert 'class="winner-name">Long conversation<' in html


def test_the_classifier_reads_the_earlier_turns_and_the_panel_shows_what_it_read(
    client_for, owner, private_router
):
    url = reverse("router_test", args=[private_router.pk])
    earlier = "user: I signed a contract and the other side broke it"
    html = (
        client_for(owner)
        .post(url, {"message": "what can I do now?", "earlier": earlier}, **HTMX)
        .content.decode()
    )
    assert "What the classifier read" in html
    assert "I signed a contract and the other side broke it" in html
    assert "[new message] what can I do now?" in html
    assert "answered <code>r" not in html and "said r1" not in html
