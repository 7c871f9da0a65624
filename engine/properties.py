"""The catalog of what a calculated condition can test, for the engine and the rule builder.

`PROPERTIES` maps a property name to its label, value type, allowed operators and help
text; `OPERATORS` maps an operator name to the label shown in a condition row and the
shape of value it takes (`arity`):

  - "list":   a non-empty list of values (contains_any / contains_all / contains_none)
  - "single": one value (matches, eq, lt, …)
  - "pair":   `[low, high]`, both inclusive for numbers; for times start inclusive and
              end exclusive, wrapping midnight when start > end (between)
  - "none":   no value (is_true / is_false); any value given is ignored

Semantics per property (a condition's value is validated by `conditions.py`):

  - keywords: whole-word, case-insensitive (Unicode case folding) search of the new
    message. A keyword may be a phrase; its words match across any run of whitespace.
    "Whole word" means the message character next to a keyword edge that is a letter,
    digit or "_" must not itself be one — so "cat" does not match "concatenate", while
    "c++" still matches "I use c++.". Edges in scripts written without spaces (Han, kana,
    Thai) need no boundary.
  - regex: RE2 syntax, linear time, case-sensitive unless the pattern says `(?i)`;
    searched anywhere in the new message.
  - message_chars / message_tokens: length of the new message (tokens estimated, see
    tokens.py). conversation_tokens: history plus the new message, with message framing
    and images counted. turns: prior user messages plus one.
  - has_image: the new message has an image. has_code: see code_heuristic.py.
  - attachment_type: each attachment is known by its extension and MIME type ("png",
    "image/png", "image/*"); a value matches if it names any of them.
  - language: see language.py; "und" when the detector is unsure.
  - time_of_day / day_of_week: local to the router's time zone.
  - user / group / workspace / workspace_tags: case-insensitive comparisons.
  - workspace_type: the workspace's declared type (coding, writing, research, general), so
    context decides before the message is even read.
  - category / complexity: the classifier's judgement of the message (facets.py), asked
    only when a rule testing them is reached; unknown (the classifier failed) matches
    nothing. Complexity compares in the order simple < medium < hard.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

Arity = Literal["list", "single", "pair", "none"]


@dataclass(frozen=True, slots=True)
class OperatorInfo:
    name: str
    label: str
    arity: Arity


@dataclass(frozen=True, slots=True)
class PropertyInfo:
    name: str
    label: str
    # What one value is: "keyword", "regex", "integer", "boolean", "file_type",
    # "language", "time", "weekday", "text", "category" or "complexity".
    value_type: str
    operators: tuple[str, ...]
    help: str
    # How the property reads inside a sentence ("message tokens > 1,000").
    subject: str


def _operators(*items: tuple[str, str, Arity]) -> Mapping[str, OperatorInfo]:
    return MappingProxyType(
        {name: OperatorInfo(name, label, arity) for name, label, arity in items}
    )


OPERATORS: Mapping[str, OperatorInfo] = _operators(
    ("contains_any", "contains any of", "list"),
    ("contains_all", "contains all of", "list"),
    ("contains_none", "contains none of", "list"),
    ("matches", "matches", "single"),
    ("not_matches", "does not match", "single"),
    ("eq", "=", "single"),
    ("ne", "≠", "single"),
    ("lt", "<", "single"),
    ("lte", "≤", "single"),
    ("gt", ">", "single"),
    ("gte", "≥", "single"),
    ("between", "between", "pair"),
    ("is_true", "is true", "none"),
    ("is_false", "is false", "none"),
)

_SETS = ("contains_any", "contains_all", "contains_none")
_NUMERIC = ("eq", "ne", "lt", "lte", "gt", "gte", "between")
_BOOL = ("is_true", "is_false")
_ONE_OF = ("eq", "ne", "contains_any", "contains_none")

LANGUAGE_CODES: tuple[str, ...] = (
    "en", "de", "fr", "es", "it", "pt", "nl", "zh", "ja", "ko", "ru", "ar", "und",
)  # fmt: skip
WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WORKSPACE_TYPES: tuple[str, ...] = ("general", "coding", "writing", "research")


def _properties(*items: PropertyInfo) -> Mapping[str, PropertyInfo]:
    return MappingProxyType({p.name: p for p in items})


PROPERTIES: Mapping[str, PropertyInfo] = _properties(
    PropertyInfo(
        "keywords", "Keywords", "keyword", _SETS,
        "Whole words or phrases in the message, ignoring case. \"cat\" does not match "
        "\"concatenate\".",
        "message",
    ),
    PropertyInfo(
        "regex", "Regex", "regex", ("matches", "not_matches"),
        "An RE2 pattern searched anywhere in the message. Case-sensitive unless it starts "
        "with (?i). Backreferences and lookarounds are not supported; \\b and \\w are "
        "ASCII-only.",
        "message",
    ),
    PropertyInfo(
        "message_chars", "Message length (characters)", "integer", _NUMERIC,
        "Number of characters in the new message.",
        "message length",
    ),
    PropertyInfo(
        "message_tokens", "Message length (tokens)", "integer", _NUMERIC,
        "Estimated tokens in the new message (about four characters per token).",
        "message tokens",
    ),
    PropertyInfo(
        "conversation_tokens", "Conversation length (tokens)", "integer", _NUMERIC,
        "Estimated tokens of the whole conversation including the new message and images.",
        "conversation tokens",
    ),
    PropertyInfo(
        "turns", "Turns", "integer", _NUMERIC,
        "Number of user messages in the thread, counting the new one.",
        "turns",
    ),
    PropertyInfo(
        "has_image", "Image attached", "boolean", _BOOL,
        "The new message has an image attached.",
        "image attached",
    ),
    PropertyInfo(
        "has_code", "Contains code", "boolean", _BOOL,
        "A fenced ``` block, or at least two lines that look like code.",
        "contains code",
    ),
    PropertyInfo(
        "attachment_type", "Attachment type", "file_type", ("contains_any", "contains_none"),
        "File extensions or MIME types of the attachments, e.g. pdf, png, image/png, image/*.",
        "attachment types",
    ),
    PropertyInfo(
        "language", "Language", "language", ("eq", "ne", "contains_any", "contains_none"),
        "Detected language of the message (ISO 639-1 code); \"und\" when unsure.",
        "language",
    ),
    PropertyInfo(
        "time_of_day", "Time of day", "time", ("between", "lt", "gte"),
        "Local time HH:MM in the router's time zone. A range may wrap midnight "
        "(22:00–06:00); the start is included, the end is not.",
        "local time",
    ),
    PropertyInfo(
        "day_of_week", "Day of week", "weekday", ("contains_any", "contains_none"),
        "Local day in the router's time zone: mon, tue, wed, thu, fri, sat, sun.",
        "day",
    ),
    PropertyInfo(
        "user", "User", "text", _ONE_OF,
        "Username of the person asking, ignoring case.",
        "user",
    ),
    PropertyInfo(
        "group", "Group", "text", _SETS,
        "Groups of the person asking, ignoring case.",
        "groups",
    ),
    PropertyInfo(
        "workspace", "Workspace", "text", _ONE_OF,
        "Name of the workspace, ignoring case.",
        "workspace",
    ),
    PropertyInfo(
        "workspace_tags", "Workspace tags", "text", _SETS,
        "Tags of the workspace, ignoring case.",
        "workspace tags",
    ),
    PropertyInfo(
        "workspace_type", "Workspace type", "workspace_type", _ONE_OF,
        "The workspace's type, set on the workspace: general, coding, writing or research.",
        "workspace type",
    ),
    PropertyInfo(
        "category", "Task category", "category", ("eq", "ne", "contains_any", "contains_none"),
        "What the message asks for, judged by the classifier: one of the router's categories "
        "(chat, code, translation, multimodal, research, math, creative by default).",
        "category",
    ),
    PropertyInfo(
        "complexity", "Complexity", "complexity", ("eq", "ne", "lt", "lte", "gt", "gte"),
        "How hard the message is, judged by the classifier: simple < medium < hard.",
        "complexity",
    ),
)  # fmt: skip
