"""The routing engine: a pure-Python library that decides which model answers a message.

It imports nothing from Django (a test enforces it): frozen dataclasses in, a `Decision`
out, and one exception, `RuleError`, for anything wrong with a router or rule.

    router = compile_router(spec)             # once per router version; cache it
    decision = route(router, inp, classify=f) # or evaluate → classifier → decide

Module map: types.py (data in and out), properties.py (the condition catalog),
conditions.py (validation and compiled tests), regexes.py (RE2 and keyword matching),
language.py, code_heuristic.py and attachments.py (features), features.py (lazy per-input
values), compile.py, route.py (order semantics, stickiness, capability filter),
classifier.py (prompt and answer parsing), tokens.py (token estimates), profiles.py
(a rule's profile resolved against the catalog).
"""

from __future__ import annotations

from .classifier import build_classifier_prompt, classifier_verdict, parse_classifier_answer
from .compile import (
    CompiledRouter,
    check_router_size,
    check_rule_size,
    compile_router,
    is_model_ref,
)
from .conditions import validate_condition
from .errors import ClassifierAnswerError, RuleError
from .language import detect_language
from .profiles import (
    BUILTIN_PROFILES,
    SIZE_CLASSES,
    ProfileResolution,
    ProfileSpec,
    resolve_profile,
)
from .properties import OPERATORS, PROPERTIES, WORKSPACE_TYPES, OperatorInfo, PropertyInfo
from .route import decide, evaluate, route
from .types import (
    ClassifierPrompt,
    ClassifierVerdict,
    ConditionVerdict,
    Decision,
    Evaluation,
    HistoryMessage,
    ModelInfo,
    RouteInput,
    RouterSpec,
    RuleSpec,
    RuleVerdict,
    StickyState,
)

__all__ = [
    "BUILTIN_PROFILES",
    "SIZE_CLASSES",
    "WORKSPACE_TYPES",
    "ProfileResolution",
    "ProfileSpec",
    "resolve_profile",
    "OPERATORS",
    "PROPERTIES",
    "ClassifierAnswerError",
    "ClassifierPrompt",
    "ClassifierVerdict",
    "CompiledRouter",
    "ConditionVerdict",
    "Decision",
    "Evaluation",
    "HistoryMessage",
    "ModelInfo",
    "OperatorInfo",
    "PropertyInfo",
    "RouteInput",
    "RouterSpec",
    "RuleError",
    "RuleSpec",
    "RuleVerdict",
    "StickyState",
    "build_classifier_prompt",
    "check_router_size",
    "check_rule_size",
    "classifier_verdict",
    "compile_router",
    "decide",
    "detect_language",
    "evaluate",
    "is_model_ref",
    "parse_classifier_answer",
    "route",
    "validate_condition",
]
