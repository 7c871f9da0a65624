"""Profiles: a rule's requirements resolved against catalog facts, without a database."""

from __future__ import annotations

import pickle

import pytest
from engine_helpers import NOW, cond

from engine import (
    BUILTIN_PROFILES,
    ModelInfo,
    RouteInput,
    RouterSpec,
    RuleError,
    RuleSpec,
    compile_router,
    resolve_profile,
    route,
)
from engine.profiles import ProfileSpec, check_families, check_profile


def _m(ref, family, size, price_in, price_out, *, context=128_000, images=False, tools=False):
    return ModelInfo(
        ref,
        ref,
        context,
        images,
        family=family,
        size_class=size,
        supports_tools=tools,
        input_price=price_in,
        output_price=price_out,
    )


CATALOG = {
    m.ref: m
    for m in (
        _m("anthropic/haiku", "claude", "small", 1.0, 5.0, context=200_000, images=True, tools=True),
        _m("anthropic/sonnet", "claude", "medium", 3.0, 15.0, context=200_000, images=True, tools=True),
        _m("anthropic/opus", "claude", "large", 15.0, 75.0, context=200_000, images=True, tools=True),
        _m("groq/llama-8b", "llama", "small", 0.05, 0.08, context=8_192),
        _m("groq/llama-70b", "llama", "medium", 0.59, 0.79, context=128_000, tools=True),
        _m("mistral/codestral", "mistral", "medium", 0.3, 0.9, context=256_000, tools=True),
        _m("mistral/large", "mistral", "large", 2.0, 6.0, context=128_000, tools=True),
        _m("odd/unsized", "", "", 0.0, 0.0),
    )
}  # fmt: skip


def test_the_catalog_is_filtered_by_size_class_and_ordered_by_price_without_preferences():
    res = resolve_profile(BUILTIN_PROFILES["fast"], CATALOG)
    assert res.chain == ("groq/llama-8b", "anthropic/haiku")
    assert dict(res.rejected)["anthropic/opus"] == "large, not small"
    assert dict(res.rejected)["odd/unsized"] == "no size class, not small"


def test_preferred_families_come_before_price_and_unlisted_families_come_last():
    res = resolve_profile(BUILTIN_PROFILES["fast"], CATALOG, ("claude", "llama"))
    assert res.chain == ("anthropic/haiku", "groq/llama-8b")
    res = resolve_profile(BUILTIN_PROFILES["code"], CATALOG, ("mistral",))
    # mistral first (cheapest first within it), then the others by price.
    assert res.chain == (
        "mistral/codestral",
        "mistral/large",
        "groq/llama-70b",
        "anthropic/sonnet",
        "anthropic/opus",
    )
    first = res.candidates[0]
    assert first.score() == "family mistral (preferred #1), $1.20 per 1M in + out"
    assert res.candidates[2].score() == "family llama (not preferred), $1.38 per 1M in + out"


def test_each_requirement_filters_and_says_why():
    profile = check_profile(
        ProfileSpec(
            "vision-cheap", needs_images=True, needs_tools=True, min_context=150_000, max_price=20
        )
    )
    res = resolve_profile(profile, CATALOG)
    assert res.chain == ("anthropic/haiku", "anthropic/sonnet")
    why = dict(res.rejected)
    assert why["groq/llama-70b"] == "does not accept images"
    assert why["anthropic/opus"] == "$90.00 per 1M in + out > $20.00"
    tools_only = resolve_profile(ProfileSpec("t", needs_tools=True), CATALOG)
    assert dict(tools_only.rejected)["groq/llama-8b"] == "does not call tools"
    ctx = resolve_profile(ProfileSpec("c", min_context=200_001), CATALOG)
    assert dict(ctx.rejected)["mistral/large"] == "128,000-token context < 200,001"
    assert "codestral" in ctx.chain[0]


def test_profile_and_family_names_are_checked():
    with pytest.raises(RuleError, match="Size class"):
        check_profile(ProfileSpec("x", size_classes=("huge",)))
    with pytest.raises(RuleError, match="Minimum context"):
        check_profile(ProfileSpec("x", min_context=-1))
    with pytest.raises(RuleError, match="Maximum price"):
        check_profile(ProfileSpec("x", max_price=True))  # type: ignore[arg-type]
    with pytest.raises(RuleError, match="Profile"):
        check_profile(ProfileSpec("has space"))
    assert check_families(["Claude", "llama", "claude"]) == ("claude", "llama")
    with pytest.raises(RuleError, match="Preferred family"):
        check_families(["ok", ""])
    with pytest.raises(RuleError, match="list"):
        check_families("claude")  # type: ignore[arg-type]


def _router(*rules, families=("claude",), profiles=None, fallbacks=()):
    return compile_router(
        RouterSpec(
            1,
            "groq/llama-70b",
            rules=rules,
            models=CATALOG,
            profiles=dict(BUILTIN_PROFILES) if profiles is None else profiles,
            preferred_families=families,
            fallbacks=fallbacks,
        )
    )


def _profile_rule(rule_id, profile, *conditions):
    return RuleSpec(
        rule_id,
        f"Rule {rule_id}",
        "calculated",
        "",
        conditions=conditions or (cond("message_chars", "gte", 0),),
        profile=profile,
    )


def test_a_rule_targeting_a_profile_answers_with_its_best_model_and_falls_back_along_the_rest():
    compiled = _router(_profile_rule(1, "code", cond("has_code", "is_true")))
    decision = route(compiled, RouteInput("```py\nprint(1)\n```", now=NOW))
    assert decision.model == "anthropic/sonnet"
    # The profile's chain, then the primary.
    assert decision.chain == (
        "anthropic/sonnet",
        "anthropic/opus",
        "mistral/codestral",
        "groq/llama-70b",
        "mistral/large",
    )
    assert "profile “code” chose anthropic/sonnet" in decision.reason
    assert "family claude (preferred #1)" in decision.reason
    facts = decision.to_dict()["profile"]
    assert facts["name"] == "code"
    assert facts["score"] == "family claude (preferred #1), $18.00 per 1M in + out"
    assert facts["candidates"][0]["model"] == "anthropic/sonnet"


def test_the_capability_filter_skips_profile_models_that_cannot_take_the_message():
    compiled = _router(_profile_rule(1, "fast"), families=("llama",))
    long = RouteInput("hi", now=NOW, conversation_tokens=50_000)
    decision = route(compiled, long)
    # llama-8b (8k context) is skipped; haiku, the next survivor, answers.
    assert decision.model == "anthropic/haiku"
    assert decision.skipped[0][0] == "groq/llama-8b"


def test_a_profile_no_model_meets_falls_back_to_the_router_and_says_so():
    profiles = {"huge": ProfileSpec("huge", min_context=10_000_000)}
    compiled = _router(_profile_rule(1, "huge"), profiles=profiles, fallbacks=("mistral/large",))
    decision = route(compiled, RouteInput("hello", now=NOW))
    assert decision.model == "mistral/large"
    assert "no model qualifies" in decision.reason


def test_a_profile_nobody_defines_any_more_does_not_break_the_router():
    compiled = _router(_profile_rule(1, "gone"), profiles={})
    decision = route(compiled, RouteInput("hello", now=NOW))
    assert decision.model == "groq/llama-70b"  # the primary
    assert "profile “gone” is not defined" in decision.reason


def test_a_bad_profile_name_on_a_rule_is_a_rule_error():
    with pytest.raises(RuleError, match="profile"):
        _router(_profile_rule(1, "Not a name!"))


def test_a_compiled_router_with_profiles_survives_pickling():
    compiled = _router(_profile_rule(1, "creative"))
    again = pickle.loads(pickle.dumps(compiled))
    assert (
        again.profiles["creative"].chain
        == compiled.profiles["creative"].chain
        == (
            "anthropic/opus",
            "mistral/large",
        )
    )


def test_workspace_type_is_a_property_rules_can_test():
    rule = RuleSpec(
        1,
        "Coding workspace",
        "calculated",
        "mistral/codestral",
        conditions=(cond("workspace_type", "eq", "Coding"),),
    )
    compiled = _router(rule)
    hit = route(compiled, RouteInput("hi", now=NOW, workspace_type="coding"))
    miss = route(compiled, RouteInput("hi", now=NOW, workspace_type="writing"))
    assert hit.model == "mistral/codestral"
    assert 'workspace type = "coding"' in hit.reason
    assert miss.source == "primary"
    with pytest.raises(RuleError, match="not a workspace type"):
        _router(
            RuleSpec(
                2,
                "x",
                "calculated",
                "mistral/large",
                conditions=(cond("workspace_type", "eq", "x"),),
            )
        )
    tags = RuleSpec(
        3,
        "Legal",
        "calculated",
        "anthropic/opus",
        conditions=(cond("workspace_tags", "contains_any", ["legal"]),),
    )
    assert route(_router(tags), RouteInput("hi", now=NOW, workspace_tags=("Legal",))).rule_id == 3
