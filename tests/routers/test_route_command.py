from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


def _route(*args: str) -> str:
    out = StringIO()
    call_command("route", *args, stdout=out)
    return out.getvalue()


def test_it_prints_the_winning_rule_model_reason_and_every_verdict(private_router):
    out = _route("--router", private_router.slug, "my python script has a bug")
    lines = out.splitlines()
    assert lines[0] == "Rule:   Code (calculated)"
    assert lines[1] == "Model:  demo/coder"
    assert lines[2].startswith('Reason: Rule "Code"')
    assert " *1. Code: matched" in out
    assert "  2. Legal: not reached" in out
    assert "  3. Images: not reached" in out


def test_json_output_is_the_decision_dict(private_router):
    data = json.loads(_route("--router", private_router.slug, "--image", "--json", "look at this"))
    assert data["rule_name"] == "Images"
    assert data["model"] == "demo/large"
    assert data["router_version"] == private_router.version
    assert [v["name"] for v in data["verdicts"]] == ["Code", "Legal", "Images"]
    # The Legal rule stands before the match, so the classifier was asked (and said no).
    assert data["classifier_called"] is True


def test_no_rule_matching_goes_to_the_primary_model(private_router):
    out = _route("--router", private_router.slug, "--time", "09:15", "hello there")
    assert out.startswith("Rule:   none (primary model)\nModel:  demo/small")


def test_an_unknown_slug_is_a_clear_error(private_router):
    with pytest.raises(CommandError, match="No router with slug 'nope'"):
        _route("--router", "nope", "hello")


def test_user_scoping_hides_private_routers(private_router, outsider, owner):
    with pytest.raises(CommandError, match="that oscar can see"):
        _route("--router", private_router.slug, "--user", outsider.username, "hello")
    assert "Model:" in _route("--router", private_router.slug, "--user", owner.username, "hello")


def test_a_bad_time_is_refused(private_router):
    with pytest.raises(CommandError, match="HH:MM"):
        _route("--router", private_router.slug, "--time", "25:00", "hello")


def test_the_command_exits_non_zero_for_an_unknown_router(db, capsys):
    # Run as from the command line: a CommandError becomes exit status 1 and a message.
    with pytest.raises(SystemExit) as exc:
        ManagementUtility(["manage.py", "route", "--router", "missing", "hi"]).execute()
    assert exc.value.code == 1
    assert "No router with slug 'missing'" in capsys.readouterr().err
