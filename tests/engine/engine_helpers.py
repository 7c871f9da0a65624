"""Builders shared by the engine tests: small routers, rules, conditions and inputs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from engine import (
    CompiledRouter,
    ModelInfo,
    RouteInput,
    RouterSpec,
    RuleSpec,
    compile_router,
    evaluate,
)

# A Wednesday, midday UTC.
NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)

MODELS = {
    info.ref: info
    for info in (
        ModelInfo("openai/gpt-4o", "GPT-4o", 128_000, True),
        ModelInfo("openai/gpt-4o-mini", "GPT-4o mini", 128_000, True),
        ModelInfo("anthropic/claude", "Claude", 200_000, True),
        ModelInfo("local/small", "Small local", 8_192, False),
        ModelInfo("local/tiny", "Tiny local", 2_048, True),
    )
}


def cond(prop: str, operator: str, value: Any = None) -> dict[str, Any]:
    return {"property": prop, "operator": operator, "value": value}


def calc(
    rule_id: int,
    *conditions: dict[str, Any],
    target: str = "anthropic/claude",
    match: str = "all",
    enabled: bool = True,
    fallbacks: tuple[str, ...] = (),
    name: str | None = None,
) -> RuleSpec:
    return RuleSpec(
        rule_id,
        name or f"Calc {rule_id}",
        "calculated",
        target,
        match=match,  # type: ignore[arg-type]
        conditions=conditions,
        enabled=enabled,
        fallbacks=fallbacks,
    )


def llm(
    rule_id: int,
    description: str = "questions about contracts, law or compliance",
    *,
    target: str = "anthropic/claude",
    enabled: bool = True,
    name: str | None = None,
) -> RuleSpec:
    return RuleSpec(
        rule_id,
        name or f"LLM {rule_id}",
        "llm",
        target,
        description=description,
        enabled=enabled,
    )


def router(*rules: RuleSpec, **settings: Any) -> CompiledRouter:
    settings.setdefault("models", MODELS)
    primary = settings.pop("primary", "openai/gpt-4o")
    return compile_router(RouterSpec(settings.pop("id", 1), primary, rules=rules, **settings))


def message(text: str = "hello there", **fields: Any) -> RouteInput:
    fields.setdefault("now", NOW)
    return RouteInput(text, **fields)


def holds(condition: dict[str, Any], text: str = "hello there", **fields: Any) -> bool:
    """Whether a one-condition rule matches the message."""
    compiled = router(calc(1, condition), **fields.pop("router_settings", {}))
    facets = fields.pop("facets", None)
    return evaluate(compiled, message(text, **fields), facets=facets).matched_rule_id == 1


# A condition every message meets.
ALWAYS_COND = cond("turns", "gte", 1)
