"""Every property × every allowed operator, with a case that holds and one that does not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from engine_helpers import cond, holds

from engine import PROPERTIES, HistoryMessage
from engine.facets import Facets

HISTORY = (
    HistoryMessage("user", "a" * 400),  # 100 + 4 tokens
    HistoryMessage("assistant", "b" * 800),  # 200 + 4 tokens
    HistoryMessage("user", "c" * 40, images=1),  # 10 + 4 + 765 tokens
)
# "hello there" (11 chars → 3 tokens + 4) plus the history above = 1,094 tokens, 3 turns.
CONVERSATION_TOKENS = 1094
TUESDAY_2330_UTC = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)

CODE_HARD = Facets("code", "hard")
CHAT_MEDIUM = Facets("chat", "medium")

Case = tuple[dict[str, Any], dict[str, Any], bool]
CASES: list[Case] = [
    # keywords
    (cond("keywords", "contains_any", ["python", "rust"]), {"text": "I love Python!"}, True),
    (cond("keywords", "contains_any", ["python", "rust"]), {"text": "I love Go"}, False),
    (cond("keywords", "contains_all", ["python", "rust"]), {"text": "rust and PYTHON"}, True),
    (cond("keywords", "contains_all", ["python", "rust"]), {"text": "just python"}, False),
    (cond("keywords", "contains_none", ["python", "rust"]), {"text": "just go"}, True),
    (cond("keywords", "contains_none", ["python", "rust"]), {"text": "rust here"}, False),
    # regex
    (cond("regex", "matches", r"error \d{3}"), {"text": "got error 503 today"}, True),
    (cond("regex", "matches", r"error \d{3}"), {"text": "got error 5"}, False),
    (cond("regex", "not_matches", r"error \d{3}"), {"text": "all fine"}, True),
    (cond("regex", "not_matches", r"error \d{3}"), {"text": "error 404"}, False),
    # message_chars (11 chars)
    (cond("message_chars", "eq", 11), {}, True),
    (cond("message_chars", "eq", 12), {}, False),
    (cond("message_chars", "ne", 12), {}, True),
    (cond("message_chars", "ne", 11), {}, False),
    (cond("message_chars", "lt", 12), {}, True),
    (cond("message_chars", "lt", 11), {}, False),
    (cond("message_chars", "lte", 11), {}, True),
    (cond("message_chars", "lte", 10), {}, False),
    (cond("message_chars", "gt", 10), {}, True),
    (cond("message_chars", "gt", 11), {}, False),
    (cond("message_chars", "gte", 11), {}, True),
    (cond("message_chars", "gte", 12), {}, False),
    (cond("message_chars", "between", [11, 20]), {}, True),
    (cond("message_chars", "between", [1, 11]), {}, True),
    (cond("message_chars", "between", [12, 20]), {}, False),
    (cond("message_chars", "between", [1, 10]), {}, False),
    # message_tokens: 11 chars → 3 tokens
    (cond("message_tokens", "eq", 3), {}, True),
    (cond("message_tokens", "eq", 11), {}, False),
    (cond("message_tokens", "ne", 4), {}, True),
    (cond("message_tokens", "ne", 3), {}, False),
    (cond("message_tokens", "lt", 4), {}, True),
    (cond("message_tokens", "lt", 3), {}, False),
    (cond("message_tokens", "lte", 3), {}, True),
    (cond("message_tokens", "lte", 2), {}, False),
    (cond("message_tokens", "gt", 2), {}, True),
    (cond("message_tokens", "gt", 3), {}, False),
    (cond("message_tokens", "gte", 3), {}, True),
    (cond("message_tokens", "gte", 4), {}, False),
    (cond("message_tokens", "between", [3, 3]), {}, True),
    (cond("message_tokens", "between", [4, 9]), {}, False),
    # conversation_tokens
    (cond("conversation_tokens", "eq", CONVERSATION_TOKENS), {"history": HISTORY}, True),
    (cond("conversation_tokens", "eq", CONVERSATION_TOKENS), {}, False),
    (cond("conversation_tokens", "ne", 7), {"history": HISTORY}, True),
    (cond("conversation_tokens", "ne", 7), {}, False),
    (cond("conversation_tokens", "lt", 8), {}, True),
    (cond("conversation_tokens", "lt", 1000), {"history": HISTORY}, False),
    (cond("conversation_tokens", "lte", 7), {}, True),
    (cond("conversation_tokens", "lte", 6), {}, False),
    (cond("conversation_tokens", "gt", 1000), {"history": HISTORY}, True),
    (cond("conversation_tokens", "gt", 1000), {}, False),
    (cond("conversation_tokens", "gte", CONVERSATION_TOKENS), {"history": HISTORY}, True),
    (cond("conversation_tokens", "gte", CONVERSATION_TOKENS + 1), {"history": HISTORY}, False),
    (cond("conversation_tokens", "between", [1000, 2000]), {"history": HISTORY}, True),
    (cond("conversation_tokens", "between", [1000, 2000]), {}, False),
    # turns: prior user messages + 1
    (cond("turns", "eq", 3), {"history": HISTORY}, True),
    (cond("turns", "eq", 3), {}, False),
    (cond("turns", "ne", 1), {"history": HISTORY}, True),
    (cond("turns", "ne", 1), {}, False),
    (cond("turns", "lt", 2), {}, True),
    (cond("turns", "lt", 3), {"history": HISTORY}, False),
    (cond("turns", "lte", 3), {"history": HISTORY}, True),
    (cond("turns", "lte", 2), {"history": HISTORY}, False),
    (cond("turns", "gt", 2), {"history": HISTORY}, True),
    (cond("turns", "gt", 1), {}, False),
    (cond("turns", "gte", 1), {}, True),
    (cond("turns", "gte", 4), {"history": HISTORY}, False),
    (cond("turns", "between", [2, 3]), {"history": HISTORY}, True),
    (cond("turns", "between", [2, 3]), {}, False),
    # has_image / has_code
    (cond("has_image", "is_true"), {"has_image": True}, True),
    (cond("has_image", "is_true"), {}, False),
    (cond("has_image", "is_false"), {}, True),
    (cond("has_image", "is_false"), {"has_image": True}, False),
    (cond("has_code", "is_true"), {"text": "see:\n```\nx = 1\n```"}, True),
    (cond("has_code", "is_true"), {"text": "no code here; just prose"}, False),
    (cond("has_code", "is_false"), {"text": "plain words"}, True),
    (cond("has_code", "is_false"), {"text": "import os\nos.exit(1);"}, False),
    # attachment_type
    (cond("attachment_type", "contains_any", ["pdf"]), {"attachment_types": ("application/pdf",)}, True),
    (cond("attachment_type", "contains_any", ["image/png"]), {"attachment_types": ("PNG",)}, True),
    (cond("attachment_type", "contains_any", ["pdf"]), {"attachment_types": ("png",)}, False),
    (cond("attachment_type", "contains_any", ["pdf"]), {}, False),
    (cond("attachment_type", "contains_none", ["pdf"]), {"attachment_types": ("png",)}, True),
    (cond("attachment_type", "contains_none", [".PDF"]), {"attachment_types": ("report.pdf",)}, False),
    # language
    (cond("language", "eq", "de"), {"text": "Ich habe eine Frage, die nicht einfach ist."}, True),
    (cond("language", "eq", "de"), {"text": "I have a question that is not easy."}, False),
    (cond("language", "ne", "de"), {"text": "I have a question that is not easy."}, True),
    (cond("language", "ne", "en"), {"text": "I have a question that is not easy."}, False),
    (cond("language", "contains_any", ["fr", "es"]), {"text": "¿Dónde está la estación de tren, por favor?"}, True),
    (cond("language", "contains_any", ["fr", "es"]), {"text": "Where is the train station, please?"}, False),
    (cond("language", "contains_none", ["fr", "es"]), {"text": "Where is the train station, please?"}, True),
    (cond("language", "contains_none", ["fr", "es"]), {"text": "Je ne sais pas où est la gare, et vous ?"}, False),
    # time_of_day (router zone UTC by default; NOW is 12:00)
    (cond("time_of_day", "between", ["09:00", "17:00"]), {}, True),
    (cond("time_of_day", "between", ["22:00", "06:00"]), {}, False),
    (cond("time_of_day", "lt", "12:01"), {}, True),
    (cond("time_of_day", "lt", "12:00"), {}, False),
    (cond("time_of_day", "gte", "12:00"), {}, True),
    (cond("time_of_day", "gte", "12:01"), {}, False),
    # day_of_week (NOW is a Wednesday)
    (cond("day_of_week", "contains_any", ["wed", "thu"]), {}, True),
    (cond("day_of_week", "contains_any", ["sat", "sun"]), {}, False),
    (cond("day_of_week", "contains_none", ["sat", "sun"]), {}, True),
    (cond("day_of_week", "contains_none", ["Wednesday"]), {}, False),
    # user
    (cond("user", "eq", "Ada"), {"user": "ada"}, True),
    (cond("user", "eq", "ada"), {"user": "bob"}, False),
    (cond("user", "ne", "ada"), {"user": "bob"}, True),
    (cond("user", "ne", "ADA"), {"user": "ada"}, False),
    (cond("user", "contains_any", ["ada", "bob"]), {"user": "BOB"}, True),
    (cond("user", "contains_any", ["ada", "bob"]), {"user": "eve"}, False),
    (cond("user", "contains_none", ["ada", "bob"]), {"user": "eve"}, True),
    (cond("user", "contains_none", ["ada", "bob"]), {"user": "ada"}, False),
    # group
    (cond("group", "contains_any", ["legal", "eng"]), {"groups": ("Eng", "ops")}, True),
    (cond("group", "contains_any", ["legal"]), {"groups": ("eng",)}, False),
    (cond("group", "contains_all", ["eng", "ops"]), {"groups": ("ops", "ENG", "x")}, True),
    (cond("group", "contains_all", ["eng", "ops"]), {"groups": ("eng",)}, False),
    (cond("group", "contains_none", ["legal"]), {"groups": ("eng",)}, True),
    (cond("group", "contains_none", ["legal"]), {"groups": ("LEGAL",)}, False),
    # workspace
    (cond("workspace", "eq", "Research"), {"workspace": "research"}, True),
    (cond("workspace", "eq", "research"), {"workspace": "sales"}, False),
    (cond("workspace", "ne", "research"), {"workspace": "sales"}, True),
    (cond("workspace", "ne", "research"), {"workspace": "Research"}, False),
    (cond("workspace", "contains_any", ["research", "sales"]), {"workspace": "Sales"}, True),
    (cond("workspace", "contains_any", ["research"]), {"workspace": "sales"}, False),
    (cond("workspace", "contains_none", ["research"]), {"workspace": "sales"}, True),
    (cond("workspace", "contains_none", ["research"]), {"workspace": "RESEARCH"}, False),
    # workspace_tags
    (cond("workspace_tags", "contains_any", ["pii", "eu"]), {"workspace_tags": ("EU",)}, True),
    (cond("workspace_tags", "contains_any", ["pii"]), {"workspace_tags": ("eu",)}, False),
    (cond("workspace_tags", "contains_all", ["pii", "eu"]), {"workspace_tags": ("eu", "PII")}, True),
    (cond("workspace_tags", "contains_all", ["pii", "eu"]), {"workspace_tags": ("eu",)}, False),
    (cond("workspace_tags", "contains_none", ["pii"]), {"workspace_tags": ()}, True),
    (cond("workspace_tags", "contains_none", ["pii"]), {"workspace_tags": ("Pii",)}, False),
    # workspace_type
    (cond("workspace_type", "eq", "coding"), {"workspace_type": "Coding"}, True),
    (cond("workspace_type", "eq", "coding"), {"workspace_type": "writing"}, False),
    (cond("workspace_type", "ne", "coding"), {"workspace_type": ""}, True),
    (cond("workspace_type", "ne", "coding"), {"workspace_type": "coding"}, False),
    (cond("workspace_type", "contains_any", ["coding", "research"]), {"workspace_type": "research"}, True),
    (cond("workspace_type", "contains_any", ["coding"]), {"workspace_type": "general"}, False),
    (cond("workspace_type", "contains_none", ["writing"]), {"workspace_type": "coding"}, True),
    (cond("workspace_type", "contains_none", ["writing"]), {"workspace_type": "writing"}, False),
    # category and complexity: the classifier's judgement
    (cond("category", "eq", "code"), {"facets": CODE_HARD}, True),
    (cond("category", "eq", "Math"), {"facets": CODE_HARD}, False),
    (cond("category", "ne", "math"), {"facets": CODE_HARD}, True),
    (cond("category", "ne", "code"), {"facets": CODE_HARD}, False),
    (cond("category", "contains_any", ["math", "code"]), {"facets": CODE_HARD}, True),
    (cond("category", "contains_any", ["math"]), {"facets": CODE_HARD}, False),
    (cond("category", "contains_none", ["math"]), {"facets": CODE_HARD}, True),
    (cond("category", "contains_none", ["code"]), {"facets": CODE_HARD}, False),
    (cond("complexity", "eq", "medium"), {"facets": CHAT_MEDIUM}, True),
    (cond("complexity", "eq", "hard"), {"facets": CHAT_MEDIUM}, False),
    (cond("complexity", "ne", "hard"), {"facets": CHAT_MEDIUM}, True),
    (cond("complexity", "ne", "medium"), {"facets": CHAT_MEDIUM}, False),
    (cond("complexity", "lt", "hard"), {"facets": CHAT_MEDIUM}, True),
    (cond("complexity", "lt", "medium"), {"facets": CHAT_MEDIUM}, False),
    (cond("complexity", "lte", "medium"), {"facets": CHAT_MEDIUM}, True),
    (cond("complexity", "lte", "simple"), {"facets": CHAT_MEDIUM}, False),
    (cond("complexity", "gt", "simple"), {"facets": CHAT_MEDIUM}, True),
    (cond("complexity", "gt", "medium"), {"facets": CHAT_MEDIUM}, False),
    (cond("complexity", "gte", "medium"), {"facets": CHAT_MEDIUM}, True),
    (cond("complexity", "gte", "hard"), {"facets": CHAT_MEDIUM}, False),
]  # fmt: skip


def _case_id(case: Case) -> str:
    condition, _, expected = case
    return f"{condition['property']}-{condition['operator']}-{expected}"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_each_property_and_operator(case: Case) -> None:
    condition, fields, expected = case
    fields = dict(fields)
    text = fields.pop("text", "hello there")
    assert holds(condition, text, **fields) is expected


def test_every_property_and_operator_has_a_true_and_a_false_case() -> None:
    covered = {(c["property"], c["operator"], expected) for c, _, expected in CASES}
    missing = [
        (name, operator, expected)
        for name, info in PROPERTIES.items()
        for operator in info.operators
        for expected in (True, False)
        if (name, operator, expected) not in covered
    ]
    assert missing == []


def test_conversation_tokens_and_turns_can_be_overridden() -> None:
    assert holds(cond("conversation_tokens", "gt", 50_000), conversation_tokens=60_000)
    assert not holds(cond("conversation_tokens", "gt", 50_000), history=HISTORY)
    assert holds(cond("turns", "eq", 9), turns=9, history=HISTORY)


def test_an_image_on_the_new_message_counts_toward_conversation_tokens() -> None:
    # 3 tokens + 4 framing + 765 for the image
    assert holds(cond("conversation_tokens", "eq", 772), has_image=True)


def test_only_user_messages_count_as_turns() -> None:
    history = (HistoryMessage("assistant", "hi"), HistoryMessage("system", "be nice"))
    assert holds(cond("turns", "eq", 1), history=history)


@pytest.mark.parametrize(
    ("clock", "expected"),
    [("21:59", False), ("22:00", True), ("23:59", True), ("00:00", True), ("05:59", True),
     ("06:00", False), ("12:00", False)],
)  # fmt: skip
def test_a_time_range_wraps_midnight_with_start_included_and_end_excluded(
    clock: str, expected: bool
) -> None:
    hour, minute = map(int, clock.split(":"))
    now = datetime(2026, 3, 11, hour, minute, 30, tzinfo=UTC)
    assert holds(cond("time_of_day", "between", ["22:00", "06:00"]), now=now) is expected


@pytest.mark.parametrize(
    ("clock", "expected"), [("08:59", False), ("09:00", True), ("16:59", True), ("17:00", False)]
)
def test_a_daytime_range_includes_its_start_and_excludes_its_end(
    clock: str, expected: bool
) -> None:
    hour, minute = map(int, clock.split(":"))
    now = datetime(2026, 3, 11, hour, minute, tzinfo=UTC)
    assert holds(cond("time_of_day", "between", ["09:00", "17:00"]), now=now) is expected


def test_the_same_instant_is_night_in_tokyo_and_day_in_new_york() -> None:
    instant = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)  # 00:00 in Tokyo, 11:00 in New York
    night = cond("time_of_day", "between", ["22:00", "06:00"])
    assert holds(night, now=instant, router_settings={"time_zone": "Asia/Tokyo"})
    assert not holds(night, now=instant, router_settings={"time_zone": "America/New_York"})


def test_the_day_of_week_is_the_router_zone_day() -> None:
    instant = TUESDAY_2330_UTC  # already Wednesday in Tokyo, still Tuesday in New York
    wednesday = cond("day_of_week", "contains_any", ["wed"])
    assert holds(wednesday, now=instant, router_settings={"time_zone": "Asia/Tokyo"})
    assert not holds(wednesday, now=instant, router_settings={"time_zone": "America/New_York"})
    assert not holds(wednesday, now=instant)  # UTC


def test_a_non_utc_input_time_is_converted_to_the_router_zone() -> None:
    from zoneinfo import ZoneInfo

    paris_9am = datetime(2026, 3, 11, 9, 0, tzinfo=ZoneInfo("Europe/Paris"))  # 08:00 UTC
    assert holds(cond("time_of_day", "lt", "08:30"), now=paris_9am)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        holds(cond("turns", "gte", 1), now=datetime(2026, 3, 11, 12, 0))
