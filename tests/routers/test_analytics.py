from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.urls import include, path, reverse

from decisions.analytics import (
    MAX_SERIES,
    OTHER,
    analytics_range_parse,
    percentile,
    router_analytics,
    router_decision_rows,
)
from decisions.models import RoutingDecision
from routers.models import Router, Rule

# The lead mounts decisions.urls beside routers.urls; until then (and regardless), these
# tests run against the real URL conf plus the analytics URLs.
urlpatterns = [
    path("", include("routerweb.urls")),
    path("routers/", include("decisions.urls")),
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

UTC_ZONE = ZoneInfo("UTC")
D1, D2, D3 = date(2025, 3, 1), date(2025, 3, 2), date(2025, 3, 3)


def at(day: date, hour: int = 12, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def make_router(owner, demo_catalog):
    def make(
        *, slug: str = "support", visibility: str = "private", time_zone: str = "UTC", user=None
    ) -> Router:
        router = Router.objects.create(
            name=slug.title(),
            slug=slug,
            owner=user or owner,
            visibility=visibility,
            primary_model=demo_catalog["large"],
            time_zone=time_zone,
        )
        Rule.objects.create(
            router=router, name="Code", position=0, target_model=demo_catalog["coder"]
        )
        Rule.objects.create(
            router=router, name="Legal", position=1, kind="llm", target_model=demo_catalog["small"]
        )
        return router

    return make


@pytest.fixture
def router(make_router) -> Router:
    return make_router()


def decide(router: Router, when: datetime, **fields) -> RoutingDecision:
    values = {
        "source": "rule",
        "rule_name": "Code",
        "model_ref": "demo/coder",
        "answered_by": "demo/coder",
        "cost": Decimal("0.001"),
        "primary_cost": Decimal("0.004"),
        "reason": "Rule “Code” matched.",
    }
    values.update(fields)
    if values["source"] == "rule" and "rule" not in values:
        values["rule"] = router.rules.filter(name=values["rule_name"]).first()
    return RoutingDecision.objects.create(router=router, created_at=when, **values)


def stats_for(router: Router, start: date = D1, end: date = D3, tz=UTC_ZONE):
    return router_analytics(router=router, start=start, end=end, tz=tz)


def series(stats, kind: str) -> dict[str, list[int]]:
    return {s.label: s.values for s in getattr(stats, f"{kind}_series")}


# --- numbers -------------------------------------------------------------------------------


def test_it_counts_messages_per_route_per_day_and_names_each_source(router):
    decide(router, at(D1))
    decide(router, at(D1, 13))
    decide(router, at(D3), rule_name="Legal", classifier_called=True, classifier_latency_ms=80)
    decide(router, at(D1), source="primary", rule_name="", rule=None, answered_by="demo/large")
    decide(router, at(D3), source="sticky", rule_name="Legal", rule=None)
    decide(
        router,
        at(D3),
        source="override",
        rule_name="",
        rule=None,
        overridden=True,
        answered_by="demo/small",
    )

    stats = stats_for(router)

    assert stats.days == [D1, D2, D3]
    assert series(stats, "rule") == {
        "Code": [2, 0, 0],
        "Legal": [0, 0, 1],
        "Primary (no rule matched)": [1, 0, 0],
        "Sticky: Legal": [0, 0, 1],
        "Manual override": [0, 0, 1],
    }
    assert [(row.label, row.messages) for row in stats.by_rule][0] == ("Code", 2)
    assert stats.messages == 6


def test_a_day_without_traffic_is_zero_in_every_series(router):
    decide(router, at(D1))
    decide(router, at(D3))

    stats = stats_for(router)

    assert series(stats, "rule") == {"Code": [1, 0, 1]}
    assert series(stats, "model") == {"demo/coder": [1, 0, 1]}
    assert stats.daily_cost == [Decimal("0.001"), Decimal("0"), Decimal("0.001")]
    assert stats.cumulative_cost == [Decimal("0.001"), Decimal("0.001"), Decimal("0.002")]
    assert stats.chart_data()["days"] == ["2025-03-01", "2025-03-02", "2025-03-03"]


def test_it_counts_messages_per_answering_model_including_fallbacks(router):
    decide(router, at(D1))
    decide(router, at(D2), answered_by="demo/small", fallback_used=True)
    decide(router, at(D2), answered_by="demo/small", fallback_used=True)
    decide(router, at(D2), answered_by="", succeeded=False)

    stats = stats_for(router)

    assert series(stats, "model") == {
        "demo/small": [0, 2, 0],
        "demo/coder": [1, 0, 0],
        "(no answer)": [0, 1, 0],
    }
    assert {row.label: round(row.share, 2) for row in stats.by_model} == {
        "demo/small": 0.5,
        "demo/coder": 0.25,
        "(no answer)": 0.25,
    }


def test_saving_compares_actual_cost_with_the_primary_only_cost(router):
    decide(router, at(D1), cost=Decimal("0.010000"), primary_cost=Decimal("0.040000"))
    decide(router, at(D2), cost=Decimal("0.005000"), primary_cost=Decimal("0.020000"))
    decide(
        router,
        at(D2),
        source="primary",
        rule=None,
        rule_name="",
        cost=Decimal("0.020000"),
        primary_cost=Decimal("0.020000"),
    )

    stats = stats_for(router)

    assert stats.cost == Decimal("0.035")
    assert stats.primary_cost == Decimal("0.080")
    assert stats.saving == Decimal("0.045")
    assert stats.saving_pct == pytest.approx(56.25)
    assert stats.daily_primary_cost == [Decimal("0.04"), Decimal("0.04"), Decimal("0")]
    assert stats.cumulative_primary_cost == [Decimal("0.04"), Decimal("0.08"), Decimal("0.08")]
    code = next(row for row in stats.by_rule if row.label == "Code")
    assert (code.cost, code.primary_cost, code.saving) == (
        Decimal("0.015"),
        Decimal("0.06"),
        Decimal("0.045"),
    )


def test_saving_is_negative_when_routing_cost_more(router):
    decide(router, at(D1), cost=Decimal("0.03"), primary_cost=Decimal("0.01"))
    stats = stats_for(router)
    assert stats.saving == Decimal("-0.02")
    assert stats.saving_pct == pytest.approx(-200.0)


def test_rates_are_shares_of_all_messages(router):
    for i in range(10):
        decide(
            router,
            at(D1, 10, i),
            classifier_called=i < 4,
            classifier_latency_ms=100.0 if i < 4 else None,
            fallback_used=i < 2,
            overridden=i == 9,
            succeeded=i != 5,
        )

    stats = stats_for(router)

    assert stats.messages == 10
    assert stats.classifier_calls == 4
    assert stats.classifier_rate == pytest.approx(0.4)
    assert stats.fallback_rate == pytest.approx(0.2)
    assert stats.override_rate == pytest.approx(0.1)
    assert stats.failures == 1


def test_classifier_latency_percentiles_are_nearest_rank(router):
    # Latencies 10, 20, …, 200 ms arrive in shuffled order; one call without a latency is ignored.
    for i, ms in enumerate(
        [70, 10, 200, 30, 150, 90, 20, 190, 40, 60, 180, 50, 80, 170, 100, 110, 160, 120, 140, 130]
    ):
        decide(router, at(D2, 9, i), classifier_called=True, classifier_latency_ms=float(ms))
    decide(router, at(D2, 11), classifier_called=True, classifier_latency_ms=None)
    decide(router, at(D2, 12), classifier_called=False, classifier_latency_ms=999.0)

    stats = stats_for(router)

    assert stats.classifier_calls == 21
    assert stats.classifier_p50_ms == 100.0  # rank ceil(0.5 * 20) = 10
    assert stats.classifier_p95_ms == 190.0  # rank ceil(0.95 * 20) = 19


def test_percentiles_are_none_without_classifier_calls(router):
    decide(router, at(D1))
    stats = stats_for(router)
    assert stats.classifier_rate == 0
    assert (stats.classifier_p50_ms, stats.classifier_p95_ms) == (None, None)


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 95, 5.0),
        ([1.0, 2.0], 50, 1.0),
        ([3.0, 1.0, 2.0, 4.0], 75, 3.0),
        ([], 50, None),
        ([5.0, 4.0, 3.0, 2.0, 1.0], 50, 3.0),
        ([float(v) for v in range(1, 31)], 95, 29.0),
    ],
)
def test_nearest_rank_percentile(values, pct, expected):
    assert percentile(values, pct) == expected


def test_only_decisions_inside_the_inclusive_range_count(router, make_router):
    decide(router, datetime(2025, 2, 28, 23, 59, 59, tzinfo=UTC))  # the day before: out
    decide(router, datetime(2025, 3, 1, 0, 0, 0, tzinfo=UTC))  # first instant of start: in
    decide(router, datetime(2025, 3, 3, 23, 59, 59, tzinfo=UTC))  # last second of end: in
    decide(router, datetime(2025, 3, 4, 0, 0, 0, tzinfo=UTC))  # the day after: out
    decide(make_router(slug="other"), at(D2))  # another router: out

    stats = stats_for(router)

    assert stats.messages == 2
    assert series(stats, "rule") == {"Code": [1, 0, 1]}


def test_days_are_the_routers_local_days(make_router):
    berlin = make_router(slug="berlin", time_zone="Europe/Berlin")
    # 23:30 UTC on 1 March is 00:30 on 2 March in Berlin (UTC+1).
    decide(berlin, datetime(2025, 3, 1, 23, 30, tzinfo=UTC))
    # 23:30 UTC on 28 February is 00:30 on 1 March in Berlin: inside the range.
    decide(berlin, datetime(2025, 2, 28, 23, 30, tzinfo=UTC))

    stats = stats_for(berlin, tz=ZoneInfo("Europe/Berlin"))

    assert series(stats, "rule") == {"Code": [1, 1, 0]}


def test_many_routes_are_folded_into_other_for_the_chart_but_not_the_table(router):
    names = [f"Rule {i:02d}" for i in range(MAX_SERIES + 3)]
    for i, name in enumerate(names):
        for _ in range(len(names) - i):  # Rule 00 busiest
            decide(router, at(D1), rule_name=name, rule=None)

    stats = stats_for(router)

    labels = [s.label for s in stats.rule_series]
    assert len(labels) == MAX_SERIES
    assert labels[: MAX_SERIES - 1] == names[: MAX_SERIES - 1]
    assert labels[-1] == OTHER
    assert stats.rule_series[-1].total == sum(
        len(names) - i for i in range(MAX_SERIES - 1, len(names))
    )
    assert len(stats.by_rule) == len(names)


def test_the_page_costs_the_same_few_queries_for_any_range(
    router, client_for, django_assert_max_num_queries
):
    for day in range(40):
        decide(router, at(date(2025, 1, 1) + timedelta(days=day)))
    client = client_for(router.owner)
    url = reverse("router_analytics", args=[router.pk])
    # Session + user + router + five analytics queries (tiers and categories: one) + feedback
    # and events; the bound must not grow with the range.
    with django_assert_max_num_queries(11):
        assert client.get(url, {"start": "2025-01-01", "end": "2025-01-05"}).status_code == 200
    with django_assert_max_num_queries(11):
        assert client.get(url, {"start": "2025-01-01", "end": "2025-12-31"}).status_code == 200


# --- date range ----------------------------------------------------------------------------

TODAY = date(2025, 6, 30)


def test_no_range_means_the_last_thirty_days_including_today():
    r = analytics_range_parse(start=None, end=None, today=TODAY)
    assert (r.start, r.end, r.error, r.days) == (date(2025, 6, 1), TODAY, "", 30)


def test_a_valid_range_is_kept_as_given():
    r = analytics_range_parse(start="2025-01-01", end="2025-01-01", today=TODAY)
    assert (r.start, r.end, r.error, r.days) == (date(2025, 1, 1), date(2025, 1, 1), "", 1)


def test_a_year_of_366_days_is_allowed():
    r = analytics_range_parse(start="2024-01-01", end="2024-12-31", today=TODAY)
    assert r.error == "" and r.days == 366


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2025-05-10", "2025-05-01", "start date must be on or before the end date"),
        ("2023-12-31", "2024-12-31", "at most 366 days"),
        ("yesterday", "2025-05-01", "Dates must look like"),
        ("2025-02-30", "2025-03-01", "Dates must look like"),
    ],
)
def test_a_bad_range_falls_back_to_the_default_and_says_why(start, end, message):
    r = analytics_range_parse(start=start, end=end, today=TODAY)
    assert message in r.error
    assert "last 30 days" in r.error
    assert (r.start, r.end) == (date(2025, 6, 1), TODAY)


def test_the_page_shows_a_bad_range_message_and_the_default_range(router, client_for):
    response = client_for(router.owner).get(
        reverse("router_analytics", args=[router.pk]), {"start": "2025-05-10", "end": "2025-05-01"}
    )
    assert response.status_code == 200
    assert "The start date must be on or before the end date." in response.content.decode()
    stats = response.context["stats"]
    assert stats.end == datetime.now(UTC).date()
    assert stats.start == stats.end - timedelta(days=29)


# --- the page ------------------------------------------------------------------------------


def test_the_page_shows_the_numbers_and_embeds_chart_data_without_inline_script(router, client_for):
    decide(
        router,
        at(D1),
        cost=Decimal("0.25"),
        primary_cost=Decimal("1.00"),
        classifier_called=True,
        classifier_latency_ms=42.0,
    )
    decide(
        router,
        at(D2),
        source="primary",
        rule=None,
        rule_name="",
        cost=Decimal("0.75"),
        primary_cost=Decimal("0.75"),
    )

    response = client_for(router.owner).get(
        reverse("router_analytics", args=[router.pk]), {"start": "2025-03-01", "end": "2025-03-03"}
    )
    html = response.content.decode()

    assert response.status_code == 200
    assert '<script id="analytics-data" type="application/json">' in html
    assert response.context["chart_data"]["rules"] == [
        {"label": "Code", "values": [1, 0, 0]},
        {"label": "Primary (no rule matched)", "values": [0, 1, 0]},
    ]
    assert "$1.00" in html and "$1.75" in html and "$0.75" in html  # actual, primary-only, saving
    assert "42.9% less than the primary only" in html  # 0.75 / 1.75
    assert "p50 42 ms" in html
    assert "js/analytics.js" in html and "vendor/chart-4.6.1.umd.min.js" in html
    assert 'style="' not in html
    csv_url = (
        reverse("router_analytics_csv", args=[router.pk]) + "?start=2025-03-01&amp;end=2025-03-03"
    )
    assert csv_url in html


def test_an_empty_range_shows_an_empty_state_instead_of_charts(router, client_for):
    decide(router, at(D1))
    response = client_for(router.owner).get(
        reverse("router_analytics", args=[router.pk]), {"start": "2025-04-01", "end": "2025-04-30"}
    )
    html = response.content.decode()
    assert "No messages in this range" in html
    assert "analytics-data" not in html


# --- CSV -----------------------------------------------------------------------------------


def _csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_the_csv_has_one_row_per_decision_in_the_range_oldest_first(router, client_for):
    decide(router, datetime(2025, 2, 28, 23, 0, tzinfo=UTC))  # outside
    decide(
        router,
        at(D2, 9),
        input_tokens=120,
        output_tokens=300,
        classifier_called=True,
        classifier_latency_ms=55.5,
    )
    decide(
        router,
        at(D1, 8),
        source="override",
        rule=None,
        rule_name="",
        overridden=True,
        channel="api",
        succeeded=False,
    )

    response = client_for(router.owner).get(
        reverse("router_analytics_csv", args=[router.pk]),
        {"start": "2025-03-01", "end": "2025-03-03"},
    )

    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"].startswith("text/csv")
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="support-decisions-2025-03-01-2025-03-03.csv"'
    )
    rows = _csv(response)
    assert rows[0] == [
        "created_at", "channel", "rule", "source", "model_ref", "answered_by", "input_tokens", "output_tokens",
        "cost", "primary_cost", "classifier_called", "classifier_latency_ms", "fallback_used", "overridden",
        "succeeded", "tier", "tier_source", "category", "complexity", "reason", "profile", "policy",
        "policy_action", "budget", "budget_step",
    ]  # fmt: skip
    assert len(rows) == 3
    first, second = rows[1], rows[2]
    assert first[:4] == ["2025-03-01T08:00:00+00:00", "api", "", "override"]
    assert first[13:15] == ["true", "false"]
    assert second[0] == "2025-03-02T09:00:00+00:00"
    assert second[2:8] == ["Code", "rule", "demo/coder", "demo/coder", "120", "300"]
    assert Decimal(second[8]) == Decimal("0.001") and Decimal(second[9]) == Decimal("0.004")
    assert second[10:12] == ["true", "55.5"]


def test_the_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas(router, client_for):
    decide(
        router,
        at(D1),
        rule=None,
        rule_name='=HYPERLINK("http://evil")',
        reason="+1 cmd",
        answered_by="@SUM(A1)",
    )
    decide(router, at(D1, 13), rule=None, rule_name="-2+3", reason="plain reason")

    rows = _csv(
        client_for(router.owner).get(
            reverse("router_analytics_csv", args=[router.pk]),
            {"start": "2025-03-01", "end": "2025-03-01"},
        )
    )

    assert rows[1][2] == '\'=HYPERLINK("http://evil")'
    assert rows[1][5] == "'@SUM(A1)"
    assert rows[1][19] == "'+1 cmd"
    assert rows[2][2] == "'-2+3"
    assert rows[2][19] == "plain reason"


def test_the_csv_rows_use_the_routers_time_zone(make_router):
    berlin = make_router(slug="berlin", time_zone="Europe/Berlin")
    decide(berlin, datetime(2025, 3, 1, 23, 30, tzinfo=UTC))
    rows = list(router_decision_rows(router=berlin, start=D2, end=D2, tz=ZoneInfo("Europe/Berlin")))
    assert rows[1][0] == "2025-03-02T00:30:00+01:00"


# --- permissions ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["router_analytics", "router_analytics_csv"])
def test_the_owner_and_admins_see_analytics(router, client_for, admin_user, name):
    url = reverse(name, args=[router.pk])
    assert client_for(router.owner).get(url).status_code == 200
    assert client_for(admin_user).get(url).status_code == 200


@pytest.mark.parametrize("name", ["router_analytics", "router_analytics_csv"])
def test_a_manager_sees_a_shared_routers_analytics_but_not_a_private_one(
    make_router, client_for, manager, name
):
    shared = make_router(slug="shared", visibility="shared")
    private = make_router(slug="private")
    client = client_for(manager)
    assert client.get(reverse(name, args=[shared.pk])).status_code == 200
    assert client.get(reverse(name, args=[private.pk])).status_code == 404


@pytest.mark.parametrize("name", ["router_analytics", "router_analytics_csv"])
def test_a_teammate_who_can_only_use_a_shared_router_is_refused(
    make_router, client_for, teammate, name
):
    shared = make_router(slug="shared", visibility="shared")
    decide(shared, at(D1))
    response = client_for(teammate).get(
        reverse(name, args=[shared.pk]), {"start": "2025-03-01", "end": "2025-03-01"}
    )
    assert response.status_code == 403
    assert b"Code" not in b"".join(
        response.streaming_content if response.streaming else [response.content]
    )


@pytest.mark.parametrize("name", ["router_analytics", "router_analytics_csv"])
def test_an_outsider_cannot_tell_a_private_router_exists(router, client_for, outsider, name):
    assert client_for(outsider).get(reverse(name, args=[router.pk])).status_code == 404


@pytest.mark.parametrize("name", ["router_analytics", "router_analytics_csv"])
def test_anonymous_visitors_are_sent_to_log_in(router, client, name):
    url = reverse(name, args=[router.pk])
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_analytics_only_answer_get(router, client_for):
    assert (
        client_for(router.owner).post(reverse("router_analytics", args=[router.pk])).status_code
        == 405
    )


def test_it_breaks_messages_down_by_tier_and_by_category_and_complexity(router, client_for):
    decide(router, at(D1), tier="coding", tier_source="rule", category="code", complexity="hard")
    decide(router, at(D1, 13), tier="coding", tier_source="user")
    decide(
        router, at(D2), tier="deep", tier_source="escalation", category="chat", complexity="hard"
    )
    decide(router, at(D3))
    stats = stats_for(router)
    tiers = {row.label: row.messages for row in stats.by_tier}
    assert tiers == {"coding": 2, "deep": 1, "No tier": 1}
    judged = {row.label: (row.messages, row.share) for row in stats.by_category}
    assert judged == {"code × hard": (1, 0.5), "chat × hard": (1, 0.5)}
    html = (
        client_for(router.owner)
        .get(
            reverse("router_analytics", args=[router.pk]),
            {"start": "2025-03-01", "end": "2025-03-03"},
        )
        .content.decode()
    )
    assert "By tier" in html and "By category × complexity" in html and "code × hard" in html
