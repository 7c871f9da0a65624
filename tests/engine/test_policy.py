"""Sensitive-data detectors (true and false positives), policy actions, and how a restriction
binds routing: approved models only, the classifier included."""

from __future__ import annotations

import pytest
from engine_helpers import calc, cond, llm, message, router

from engine import ClassifierPrompt, ClassifierVerdict, RuleError, classifier_verdict, route
from engine.policy import PolicySpec, compile_policies, detect, iban_ok, luhn_ok
from engine.types import Restriction


def found(detector: str, text: str) -> list[str]:
    return [text[start:end] for start, end in detect(detector, text)]


# --- detectors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Mail jane.doe+billing@example.co.uk today", ["jane.doe+billing@example.co.uk"]),
        ("ops@acme.io, sales@acme.io", ["ops@acme.io", "sales@acme.io"]),
    ],
)
def test_email_addresses_are_found(text, expected):
    assert found("email", text) == expected


@pytest.mark.parametrize(
    "text", ["ping @jane on slack", "user@localhost", "a@b", "version 1.2@beta", "mailto:"]
)
def test_things_that_are_not_email_addresses_are_not_flagged(text):
    assert found("email", text) == []


@pytest.mark.parametrize(
    "text, number",
    [
        ("Call +44 20 7946 0958 please", "+44 20 7946 0958"),
        ("office (555) 123-4567", "(555) 123-4567"),
        ("cell 555-123-4567.", "555-123-4567"),
        ("whatsapp +4915112345678", "+4915112345678"),
    ],
)
def test_phone_numbers_are_found(text, number):
    assert found("phone", text) == [number]


@pytest.mark.parametrize(
    "text",
    [
        "released on 2024-01-15",
        "order 12345678 shipped",
        "server 192.168.100.100 is down",
        "pi is 3.14159",
        "the year 2026",
        "card 4111 1111 1111 1111",  # 16 digits: a card, not a phone number
    ],
)
def test_dates_ids_and_addresses_are_not_phone_numbers(text):
    assert found("phone", text) == []


@pytest.mark.parametrize(
    "number",
    ["4111 1111 1111 1111", "4111-1111-1111-1111", "5500005555555559", "378282246310005"],
)
def test_card_numbers_that_pass_luhn_are_found(number):
    assert found("card", f"my card is {number}, thanks") == [number]


def test_a_16_digit_order_number_failing_luhn_is_not_a_card():
    assert not luhn_ok("1234567812345678")
    assert found("card", "order number 1234567812345678") == []
    assert found("card", "order 1234 5678 1234 5678") == []


def test_mixed_separators_and_long_digit_runs_are_not_cards():
    assert found("card", "4111 1111-1111 1111") == []
    assert found("card", "tracking 41111111111111110000000") == []


@pytest.mark.parametrize(
    "iban",
    ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR1420041010050500013M02606"],
)
def test_ibans_that_pass_mod_97_are_found(iban):
    assert iban_ok(iban)
    assert found("iban", f"pay to {iban} and more text") == [iban]


def test_an_iban_shaped_string_failing_mod_97_is_not_an_iban():
    assert not iban_ok("DE89 3704 0044 0532 0130 01")
    assert found("iban", "ref DE89 3704 0044 0532 0130 01") == []
    assert found("iban", "product code AB12CDEFGHIJKLMNOP") == []


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-Abcdefghijklmnopqrstuvwx1234",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx",
        "AKIAIOSFODNN7EXAMPLE",
        "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
        "xoxb-1234567890-abcdefghij",
        "-----BEGIN RSA PRIVATE KEY-----",
        "q8Zr3Kp1Lm9Tx2Vb7Nc4Wd6Ye0Hf5Ja",  # no prefix, but a long high-entropy token
    ],
)
def test_api_keys_and_secrets_are_found(secret):
    assert found("secret", f"use {secret} to connect") == [secret]


@pytest.mark.parametrize(
    "text",
    [
        "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",  # hex: lower case only
        "supercalifragilisticexpialidocious is a word",
        "see /usr/local/lib/python3.12/site-packages",
        "the skeleton key to success",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
    ],
)
def test_ordinary_long_strings_are_not_secrets(text):
    assert found("secret", text) == []


# --- policies ------------------------------------------------------------------------------

CUSTOMER = PolicySpec(
    1,
    "Customer data",
    "restrict",
    detectors=("card", "iban"),
    approved=("local/small", "local/tiny"),
)


def test_a_policy_reports_what_kind_of_data_it_found_never_the_data():
    outcome = compile_policies([CUSTOMER]).check(["card 4111 1111 1111 1111 and 4111111111111111"])
    assert outcome.approved == ("local/small", "local/tiny")
    summary = outcome.summary()
    assert summary == 'policy "Customer data" (card number ×2): approved models only'
    assert "4111" not in str(outcome.to_dict())


def test_a_message_without_sensitive_data_is_not_restricted():
    outcome = compile_policies([CUSTOMER]).check(["order 1234567812345678"])
    assert outcome.hits == () and outcome.approved is None


def test_masking_replaces_the_data_and_runs_before_other_policies():
    mask = PolicySpec(2, "Mask mail", "mask", detectors=("email",))
    refuse = PolicySpec(3, "No mail out", "refuse", detectors=("email",))
    outcome = compile_policies([refuse, mask]).check(["write to jane@example.com now"])
    assert outcome.texts == ("write to [e-mail address] now",)
    assert outcome.refused_by is None, "a masked address never leaves, so nothing to refuse"
    assert outcome.masked


def test_refusal_says_which_policy_and_what_kind_of_data():
    refuse = PolicySpec(4, "Secrets", "refuse", detectors=("secret",), scope="instance")
    outcome = compile_policies([refuse]).check(["key AKIAIOSFODNN7EXAMPLE"])
    assert outcome.refusal.startswith('Refused by policy "Secrets" (instance)')
    assert "AKIA" not in outcome.refusal


def test_admin_patterns_and_keywords_are_detectors():
    spec = PolicySpec(
        5,
        "Project names",
        "mask",
        patterns=(r"PRJ-\d{4}",),
        keywords=("Project Falcon",),
    )
    outcome = compile_policies([spec]).check(["PRJ-1234 is project falcon's code"])
    assert outcome.texts == ("[pattern] is [keyword]'s code",)


def test_two_restricting_policies_allow_only_models_both_approve():
    other = PolicySpec(6, "EU only", "restrict", detectors=("iban",), approved=("local/tiny",))
    outcome = compile_policies([CUSTOMER, other]).check(["IBAN DE89 3704 0044 0532 0130 00"])
    assert outcome.approved == ("local/tiny",)


@pytest.mark.parametrize(
    "spec, message",
    [
        (PolicySpec(7, "x", "restrict", detectors=("card",)), "approved model"),
        (PolicySpec(7, "x", "mask"), "at least one detector"),
        (PolicySpec(7, "x", "mask", detectors=("dna",)), "Unknown detector"),
        (PolicySpec(7, "x", "mask", patterns=("(a",)), "unbalanced parenthesis"),
        (PolicySpec(7, "x", "mask", patterns=("(?=a)",)), "lookahead"),
    ],
)
def test_a_bad_policy_is_rejected_with_a_reason(spec, message):
    with pytest.raises(RuleError, match=message):
        compile_policies([spec])


# --- restriction in routing ----------------------------------------------------------------

RESTRICT = Restriction(("local/small", "local/tiny"), 'policy "Customer data"')


class Recording:
    def __init__(self) -> None:
        self.prompts: list[ClassifierPrompt] = []

    def __call__(self, prompt: ClassifierPrompt) -> ClassifierVerdict:
        self.prompts.append(prompt)
        return classifier_verdict("none", prompt, latency_ms=1, input_tokens=1)


def test_the_router_picks_among_approved_models_and_says_what_it_skipped():
    compiled = router(
        calc(1, cond("keywords", "contains_any", ["invoice"]), target="anthropic/claude"),
        fallbacks=("openai/gpt-4o-mini",),
    )
    decision = route(compiled, message("invoice for card holder"), restriction=RESTRICT)
    assert decision.rule_name == "Calc 1"
    assert decision.model == "local/small"
    assert decision.chain == ("local/small", "local/tiny")
    assert ("anthropic/claude", 'not approved by policy "Customer data"') in decision.skipped
    assert 'not approved by policy "Customer data"' in decision.reason


def test_an_approved_fallback_is_kept_in_the_router_order():
    compiled = router(
        calc(1, cond("turns", "gte", 1), target="anthropic/claude", fallbacks=("local/tiny",))
    )
    decision = route(compiled, message(), restriction=RESTRICT)
    assert decision.chain == ("local/tiny", "local/small")


def test_no_suitable_approved_model_leaves_no_chain_and_says_why():
    compiled = router(calc(1, cond("turns", "gte", 1), target="anthropic/claude"))
    only_small = Restriction(("local/small",), 'policy "Customer data"')
    decision = route(compiled, message(has_image=True), restriction=only_small)
    assert decision.model is None and decision.chain == ()
    assert "local/small: does not accept images" in decision.reason


def test_an_unapproved_classifier_is_never_called():
    compiled = router(llm(1), primary="openai/gpt-4o")
    classifier = Recording()
    decision = route(compiled, message("is this contract legal?"), classify=classifier,
                     restriction=RESTRICT)  # fmt: skip
    assert classifier.prompts == []
    assert decision.model == "local/small"


def test_an_approved_classifier_is_called():
    compiled = router(llm(1), primary="local/small")
    classifier = Recording()
    route(compiled, message("is this contract legal?"), classify=classifier, restriction=RESTRICT)
    assert len(classifier.prompts) == 1
