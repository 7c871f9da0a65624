"""The experiment arms' significance: Wilson intervals and the two-proportion z-test on known
numbers, and the verdict's guards (too few to tell, which arm is better)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from decisions.log import new_payload
from decisions.services import decision_write
from experiments.services import experiment_start
from experiments.significance import RateComparison, two_proportion_z, wilson_interval
from routers import services


def test_the_wilson_interval_of_known_counts():
    low, high = wilson_interval(50, 100)
    assert (round(low, 4), round(high, 4)) == (0.4038, 0.5962)
    low, high = wilson_interval(0, 10)  # no successes: still an interval above zero
    assert low == 0.0 and round(high, 4) == 0.2775
    low, high = wilson_interval(10, 10)
    assert round(low, 4) == 0.7225 and high == pytest.approx(1.0)
    assert wilson_interval(0, 0) is None


def test_the_two_proportion_z_test_of_known_counts():
    # 50/100 against 65/100: pooled p = 0.575, se = 0.0699, z = 2.146, p = 0.0319.
    z, p = two_proportion_z(50, 100, 65, 100)
    assert round(z, 3) == 2.146 and round(p, 4) == 0.0319
    z, p = two_proportion_z(65, 100, 50, 100)
    assert round(z, 3) == -2.146 and round(p, 4) == 0.0319
    z, p = two_proportion_z(120, 1000, 120, 1000)
    assert z == 0 and p == 1.0
    assert two_proportion_z(0, 10, 0, 20) is None  # both 0%: nothing to compare
    assert two_proportion_z(1, 0, 1, 10) is None


def test_the_verdict_says_which_arm_is_better_or_that_it_cannot_tell():
    satisfaction = RateComparison("satisfaction", (50, 100), (65, 100), higher_is_better=True)
    assert satisfaction.verdict == "likely a real difference: the variant is better"
    overrides = RateComparison("override rate", (50, 100), (65, 100), higher_is_better=False)
    assert overrides.verdict == "likely a real difference: the control is better"
    close = RateComparison("satisfaction", (50, 100), (55, 100), higher_is_better=True)
    assert round(close.p_value, 3) == 0.479 and close.verdict == "no clear difference"
    # A large gap on few messages is not evidence yet.
    few = RateComparison("satisfaction", (2, 10), (9, 10), higher_is_better=True)
    assert few.p_value < 0.05 and few.verdict == "too few to tell"
    rare = RateComparison("override rate", (1, 400), (2, 400), higher_is_better=False)
    assert rare.verdict == "too few to tell"  # 3 events in all
    data = satisfaction.to_dict()
    assert data["verdict"] == satisfaction.verdict and round(data["p_value"], 4) == 0.0319


def test_counts_that_disagree_never_break_the_arithmetic():
    assert wilson_interval(12, 10) == wilson_interval(10, 10)
    assert two_proportion_z(12, 10, 5, 10) == two_proportion_z(10, 10, 5, 10)


@pytest.mark.django_db
def test_the_experiment_page_shows_intervals_p_values_and_verdicts(client_for, owner, demo_catalog):
    router = services.router_create(
        owner=owner, actor=owner, name="R", slug="r", primary_model="demo/small"
    )
    services.router_update(router=router, actor=owner, primary_model="demo/large")
    router.refresh_from_db()
    experiment = experiment_start(router=router, actor=owner, variant="draft", percent=50)
    for arm, fallbacks in (("control", 10), ("variant", 30)):
        for i in range(100):
            decision_write(
                new_payload(
                    router_id=router.pk,
                    router_version=1,
                    source="primary",
                    experiment_id=experiment.pk,
                    arm=arm,
                    fallback_used=i < fallbacks,
                )
            )
    page = client_for(owner).get(reverse("router_experiments", args=[router.pk]))
    significance = page.context["significance"]
    fallback = next(c for c in significance if c.metric == "Fallback rate")
    assert (fallback.control, fallback.variant) == ((10, 100), (30, 100))
    assert fallback.p_value < 0.001
    assert fallback.verdict == "likely a real difference: the control is better"
    feedback = next(c for c in significance if c.metric.startswith("Feedback"))
    assert feedback.verdict == "too few to tell"  # nobody rated anything
    html = page.content.decode()
    table = html[html.index("data-significance") :]
    assert '10.0% <span class="muted">(5.5%–17.4%)</span>' in table
    assert "likely a real difference: the control is better" in table
    detail = (
        client_for(owner)
        .get(reverse("experiment_detail", args=[router.pk, experiment.pk]))
        .content.decode()
    )
    assert "data-significance" in detail
