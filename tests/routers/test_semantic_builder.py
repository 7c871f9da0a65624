"""The rule builder with semantic rules: the form, the test panel's scores, duplicate flags and
"suggest threshold" — with the local model (a tiny model2vec model built here)."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import reverse

import providers.embeddings as embeddings
from providers.local_embeddings import LocalModels
from routers import services
from routers.models import Rule
from routers.semantic import clear_caches, example_flags, suggest_threshold
from tests.tiny_model2vec import build_tiny_model

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(autouse=True)
def tiny_local_model(tmp_path, settings, monkeypatch):
    settings.EMBEDDING_MODEL_PATH = str(build_tiny_model(tmp_path / "tiny"))
    monkeypatch.setattr(embeddings, "local_models", LocalModels(background=False))
    clear_caches()
    yield
    clear_caches()


@pytest.fixture
def router(make_router):
    router = make_router()
    services.rule_create(
        router=router,
        name="Billing",
        kind="semantic",
        examples=["refund order", "invoice", "order refund invoice"],
        threshold=0.8,
        target_model="demo/large",
        actor=router.owner,
    )
    services.rule_create(
        router=router,
        name="Code",
        kind="semantic",
        examples=["python bug", "error", "refund order"],
        threshold=0.8,
        target_model="demo/coder",
        actor=router.owner,
    )
    router.refresh_from_db()
    return router


def _semantic_post(**overrides):
    data = {
        "name": "Greetings",
        "kind": "semantic",
        "match": "all",
        "target_model": "demo/small",
        "fallbacks": "",
        "description": "",
        "examples": "hello\n\nhello there\n  hello  \n",
        "threshold": "0.75",
        "margin": "",
    }
    data.update(overrides)
    return data


def test_a_semantic_rule_is_added_with_examples_pasted_one_per_line(client_for, owner, router):
    client = client_for(owner)
    response = client.post(reverse("rule_create", args=[router.pk]), _semantic_post(), **HTMX)
    assert response.status_code == 200
    rule = Rule.objects.get(name="Greetings")
    assert (rule.kind, rule.examples, rule.threshold, rule.margin) == (
        "semantic",
        ["hello", "hello there"],
        0.75,
        None,
    )
    assert "Semantic" in response.content.decode()


def test_too_few_examples_are_refused_next_to_the_field(client_for, owner, router):
    client = client_for(owner)
    response = client.post(
        reverse("rule_create", args=[router.pk]), _semantic_post(examples="hello"), **HTMX
    )
    assert response.status_code == 422
    assert "Give at least 2 different examples." in response.content.decode()
    assert not Rule.objects.filter(name="Greetings").exists()


def test_the_test_panel_shows_each_score_against_its_threshold(client_for, owner, router):
    client = client_for(owner)
    response = client.post(
        reverse("router_test", args=[router.pk]), {"message": "python error"}, **HTMX
    )
    html = response.content.decode()
    assert "Winning rule" in html and "Code" in html
    assert "vs threshold 0.80" in html
    assert "nearest: <q>python bug</q>" in html or "nearest: <q>error</q>" in html
    assert "local/potion-base-8M" in html


def test_without_the_local_weights_the_test_panel_says_why(client_for, owner, router, settings):
    settings.EMBEDDING_MODEL_PATH = "/nonexistent/model"
    import providers.embeddings as emb

    emb.local_models = LocalModels(background=False)
    html = (
        client_for(owner)
        .post(reverse("router_test", args=[router.pk]), {"message": "python error"}, **HTMX)
        .content.decode()
    )
    assert "semantic rules skipped" in html and "is not in /nonexistent/model" in html


def test_the_router_page_flags_examples_shared_by_two_rules(client_for, owner, router):
    html = client_for(owner).get(reverse("router_detail", args=[router.pk])).content.decode()
    assert "“refund order” is also an example of “Billing”" in html
    assert "“refund order” is also an example of “Code”" in html


def test_suggest_threshold_explains_its_leave_one_out(client_for, owner, router):
    client = client_for(owner)
    response = client.post(
        reverse("rule_suggest_threshold", args=[router.pk]),
        {"examples": "python bug\nerror\npython error", "rule_id": ""},
        **HTMX,
    )
    html = response.content.decode()
    assert "Suggested:" in html and "Leave-one-out" in html
    assert "data-apply-threshold" in html


def test_suggest_threshold_needs_edit_rights(client_for, outsider, teammate, router):
    url = reverse("rule_suggest_threshold", args=[router.pk])
    assert client_for(outsider).post(url, {"examples": "a\nb"}).status_code == 404


# --- the pure parts ---------------------------------------------------------------------------


def test_the_suggestion_separates_own_examples_from_other_rules():
    own = np.array([[1.0, 0.1, 0], [1.0, 0.2, 0], [0.9, 0.0, 0.1]])
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    others = np.array([[0.0, 1.0, 0], [0.5, 0.8, 0.0]])
    others /= np.linalg.norm(others, axis=1, keepdims=True)
    suggestion = suggest_threshold(own, others)
    assert suggestion.threshold is not None
    own_scores = (own @ own.T - 2 * np.eye(3)).max(axis=1)
    other_scores = (others @ own.T).max(axis=1)
    assert other_scores.max() < suggestion.threshold <= own_scores.min()
    assert "keeps 3 of 3 examples and turns away 2 of 2 others" in suggestion.explanation


def test_without_other_rules_the_suggestion_sits_below_the_lowest_score():
    own = np.eye(3)[:2] + 0.5
    own /= np.linalg.norm(own, axis=1, keepdims=True)
    suggestion = suggest_threshold(own, np.zeros((0, 3)))
    assert suggestion.threshold == round(float(own[0] @ own[1]) - 0.05, 2)
    assert "No other semantic rule" in suggestion.explanation


def test_near_duplicates_are_flagged_with_their_score():
    vectors = {1: np.array([[1.0, 0.0]]), 2: np.array([[0.99, 0.141]])}
    vectors = {k: v / np.linalg.norm(v, axis=1, keepdims=True) for k, v in vectors.items()}
    flags = example_flags([(1, "A", ["refund"]), (2, "B", ["refunds"])], vectors)
    assert flags[1] == ["“refund” is nearly the same as “refunds” in “B” (0.99)"]


def test_the_suggestion_scores_examples_as_the_engine_scores_messages():
    # Six examples: leave-one-out scores each by the mean of its 3 nearest among the other
    # five (the engine's score for a rule of this size), not by its single nearest one.
    own = np.array([[1, 0, 0], [1, 0.05, 0], [0, 1, 0], [0, 1, 0.05], [0, 0, 1], [0.05, 0, 1]])
    own = own / np.linalg.norm(own, axis=1, keepdims=True)
    suggestion = suggest_threshold(own, np.zeros((0, 3)))
    assert suggestion.threshold is not None and suggestion.threshold < 0.4
    assert "its 3 nearest examples (mean)" in suggestion.explanation


# --- examples edited one by one ------------------------------------------------------------------


def test_the_edit_form_shows_each_example_as_its_own_field_with_a_remove_button(
    client_for, owner, router
):
    rule = Rule.objects.get(name="Billing")
    html = (
        client_for(owner)
        .get(reverse("rule_edit", args=[router.pk, rule.pk]), **HTMX)
        .content.decode()
    )
    for example in rule.examples:
        assert f'value="{example}"' in html
    assert html.count("data-example-input") == 3
    assert html.count('aria-label="Remove this example"') == 3
    assert "+ Add example" in html and "Paste many at once" in html
    assert 'name="examples"' in html  # the paste box, empty
    assert "hx-on" not in html and "<script" not in html


def test_examples_are_saved_from_their_fields_in_order_then_lines_left_in_the_paste_box(
    client_for, owner, router
):
    data = _semantic_post(examples="good evening\n\nhowdy\n")
    data.update({"ex": ["k1", "k2", "k3"], "ex-k1": "hello", "ex-k2": "  ", "ex-k3": "hi there"})
    response = client_for(owner).post(reverse("rule_create", args=[router.pk]), data, **HTMX)
    assert response.status_code == 200
    rule = Rule.objects.get(name="Greetings")
    assert rule.examples == ["hello", "hi there", "good evening", "howdy"]


def test_a_refused_form_keeps_every_example_as_a_field(client_for, owner, router):
    data = _semantic_post(examples="", name="")
    data.update({"ex": ["k1", "k2"], "ex-k1": "hello", "ex-k2": "bonjour"})
    response = client_for(owner).post(reverse("rule_create", args=[router.pk]), data, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'name="ex-k1" value="hello"' in html and 'name="ex-k2" value="bonjour"' in html


def test_a_new_example_field_is_added_in_place(client_for, owner, outsider, router):
    url = reverse("example_row", args=[router.pk])
    html = client_for(owner).get(url, **HTMX).content.decode()
    assert html.count("data-example-input") == 1 and 'value=""' in html
    assert client_for(outsider).get(url, **HTMX).status_code == 404


def test_pasted_lines_become_example_fields_and_the_box_empties(client_for, owner, router):
    response = client_for(owner).post(
        reverse("rule_examples_paste", args=[router.pk]),
        {
            "examples": "I was charged twice\n\n  refund please \nwhere is my invoice",
            "paste_box": "new",
        },
        **HTMX,
    )
    html = response.content.decode()
    assert html.count("data-example-input") == 3
    assert 'value="refund please"' in html
    assert 'id="paste-box-new" hx-swap-oob="true"' in html
    assert "examples-changed" in response.headers["HX-Trigger"]


def test_duplicates_and_near_duplicates_across_rules_are_flagged_beside_each_example(
    client_for, owner, outsider, router
):
    url = reverse("rule_examples_check", args=[router.pk])
    data = {
        "ex": ["a", "b", "c", "d", "e"],
        "ex-a": "refund order",  # also Billing's (and Code's)
        "ex-b": "bug python",  # the same words as Code's "python bug": near, for this model
        "ex-c": "good morning",
        "ex-d": "Good  morning",  # repeats c
        "ex-e": "",
    }
    html = client_for(owner).post(url, data, **HTMX).content.decode()
    assert 'id="exflag-a" hx-swap-oob="true">also an example of “Billing”' in html
    assert "nearly the same as “python bug” in “Code” (1.00)" in html
    assert 'id="exflag-c" hx-swap-oob="true"></small>' in html
    assert "repeats example 3 (kept once)" in html
    assert html.startswith("Examples flagged:")
    assert client_for(outsider).post(url, data, **HTMX).status_code == 404


def test_the_rule_being_edited_is_not_its_own_duplicate(client_for, owner, router):
    rule = Rule.objects.get(name="Code")
    data = {"ex": ["a", "b"], "ex-a": "python bug", "ex-b": "error", "rule_id": str(rule.pk)}
    html = (
        client_for(owner)
        .post(reverse("rule_examples_check", args=[router.pk]), data, **HTMX)
        .content.decode()
    )
    assert html.startswith("No example repeats another semantic rule")


def test_suggest_threshold_reads_the_example_fields(client_for, owner, router):
    data = {"ex": ["a", "b", "c"], "ex-a": "python bug", "ex-b": "error", "ex-c": "python error"}
    html = (
        client_for(owner)
        .post(reverse("rule_suggest_threshold", args=[router.pk]), data, **HTMX)
        .content.decode()
    )
    assert "Suggested:" in html and "each of the 3 examples" in html
