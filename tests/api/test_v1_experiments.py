"""/v1 calls through a router with a running experiment: each user stays in one arm (their
prepared plan routes with that arm's version), and the decision records the arm."""

from __future__ import annotations

import pytest

from decisions.models import RoutingDecision
from experiments.assign import arm_of
from experiments.services import experiment_end, experiment_start
from routers import services
from tests.api.conftest import wait_for
from tests.api.test_plan_cache import CODE, answered, client_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_each_user_stays_in_one_arm_on_v1(
    live_url, owner, teammate, token_for, fake_router, fake_models
):
    fake_router.visibility = "shared"
    fake_router.save()
    code = fake_router.rules.get(name="Code")
    services.rule_update(rule=code, target_model="fake/fake-vision", actor=owner)
    experiment = experiment_start(router=fake_router, actor=owner, variant="draft", percent=50)
    expected = {}
    for user in (owner, teammate):
        arm = arm_of(experiment_id=experiment.pk, key=f"user:{user.pk}", percent=50)
        expected[user.pk] = arm
        client = client_for(live_url, token_for(user))
        model = "fake/fake-vision" if arm == "variant" else "fake/fake-large"
        for _ in range(3):
            assert answered(client) == model, f"{user} stays in the {arm} arm"
    wait_for(lambda: RoutingDecision.objects.filter(experiment_id=experiment.pk).count() == 6)
    for row in RoutingDecision.objects.filter(experiment_id=experiment.pk):
        assert row.arm == expected[row.user_id] and row.channel == "api"
        number = experiment.variant.number if row.arm == "variant" else experiment.control.number
        assert row.router_version == number

    experiment_end(experiment=experiment, actor=owner, publish_variant=True)
    client = client_for(live_url, token_for(owner))
    assert answered(client, CODE) == "fake/fake-vision", "the winner, for everyone, at once"
