"""The routing engine: a pure-Python library that decides which model answers a message.

It imports nothing from Django (a test enforces it): frozen dataclasses in, a `Decision`
out, and one exception, `RuleError`, for anything wrong with a router or rule.

    router = compile_router(spec)             # once per router version; cache it
    decision = route(router, inp, classify=f) # or evaluate → classifier → decide

Module map: types.py (data in and out), properties.py (the condition catalog),
conditions.py (validation and compiled tests), regexes.py (RE2 and keyword matching),
language.py, code_heuristic.py and attachments.py (features), features.py (lazy per-input
values), compile.py, validation.py (every problem of a router and its rules, located),
route.py (order semantics, stickiness, capability filter), classifier.py (prompt and answer
parsing), tokens.py (token estimates), profiles.py (a rule's profile resolved against the
catalog).
"""

from __future__ import annotations

from .classifier import build_classifier_prompt, classifier_verdict, parse_classifier_answer
from .compile import CompiledRouter, check_router_size, compile_router, spec_problems
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
from .validation import Problem, for_people, is_model_ref, router_problems, rule_problems

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
    "Problem",
    "PropertyInfo",
    "RouteInput",
    "RouterSpec",
    "RuleError",
    "RuleSpec",
    "RuleVerdict",
    "StickyState",
    "build_classifier_prompt",
    "check_router_size",
    "classifier_verdict",
    "compile_router",
    "decide",
    "detect_language",
    "evaluate",
    "for_people",
    "is_model_ref",
    "parse_classifier_answer",
    "route",
    "router_problems",
    "rule_problems",
    "spec_problems",
    "validate_condition",
]
