"""A golden-set run is bounded: a time budget on the injected clock (the cases it leaves are
"not run", neither passed nor failed) and one run per router at a time on the pages and API.
`router_test` runs unbounded unless given --time-limit, and never takes the lock."""

from __future__ import annotations

import html as markup
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from evaluation import golden as golden_module
from evaluation.golden import GoldenRunBusy, golden_case_create, golden_run
from routerweb import clock as clocks
from routerweb import shared_cache
from routerweb.cache_health import CacheDown
from tests.api.test_json_api import Api, api, api_as  # noqa: F401
from tests.fakeclock import FakeClock

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
LIMIT_TEXT = "not run: the run's time limit of 60 s was reached"


@pytest.fixture
def golden(private_router):
    for message, expected in [
        ("my python bug", "Code"),
        ("is this contract legal under the law?", "Legal"),
        ("hello there", ""),
        ("fix my python", "Code"),
        ("hi", ""),
    ]:
        golden_case_create(
            router=private_router, actor=private_router.owner, message=message, expected=expected
        )
    return private_router


@pytest.fixture
def slow_cases(monkeypatch, settings):
    """Every case takes 25 s on the installed fake clock; the budget is 60 s."""
    settings.GOLDEN_RUN_SECONDS = 60
    fake = FakeClock()
    clocks.install(fake)
    real = golden_module._run_case

    def slow(evaluator, case):
        result = real(evaluator, case)
        fake.advance(25)
        return result

    monkeypatch.setattr(golden_module, "_run_case", slow)
    yield fake
    clocks.install(None)


def test_a_run_stops_starting_cases_at_its_time_limit(golden, slow_cases):
    report = golden_run(router=golden)
    # Cases start at 0, 25 and 50 s; at 75 s the 60 s budget is spent.
    assert (report.passed, report.failed, len(report.not_run)) == (3, 0, 2)
    assert not report.ok
    assert report.not_run_reason == LIMIT_TEXT
    assert [c.message for c in report.not_run] == ["fix my python", "hi"]
    out = report.to_dict()
    assert (out["passed"], out["failed"], out["not_run"], out["ok"]) == (3, 0, 2, False)
    assert out["not_run_cases"][0]["message"] == "fix my python"


def test_a_quick_run_has_nothing_left_unrun(golden):
    report = golden_run(router=golden)
    assert (report.passed, report.not_run, report.ok) == (5, [], True)
    assert report.to_dict()["not_run"] == 0


def test_the_page_and_api_show_cases_not_run(client_for, api: Api, golden, slow_cases):  # noqa: F811
    client = client_for(golden.owner)
    page = client.post(reverse("golden_run", args=[golden.pk]), {}, **HTMX)
    html = markup.unescape(page.content.decode())
    assert "3 passed, 0 failed, 2 not run" in html and LIMIT_TEXT in html
    report = api.post(f"/routers/{golden.pk}/golden/run", {}).json()
    assert (report["passed"], report["failed"], report["not_run"]) == (3, 0, 2)
    assert report["ok"] is False and report["not_run_reason"] == LIMIT_TEXT


def test_router_test_runs_every_case_unless_given_a_time_limit(golden, slow_cases):
    out = io.StringIO()
    call_command("router_test", golden.slug, stdout=out)
    assert "5 passed, 0 failed ·" in out.getvalue()

    out = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("router_test", golden.slug, "--time-limit", "30", stdout=out)
    assert exited.value.code == 1
    assert "2 passed, 0 failed, 3 not run" in out.getvalue()
    assert "SKIP  'fix my python': not run: the run's time limit of 30 s" in out.getvalue()

    out = io.StringIO()
    with pytest.raises(SystemExit):
        call_command("router_test", golden.slug, "--time-limit", "30", "--json", stdout=out)
    assert json.loads(out.getvalue())["not_run"] == 3

    for bad in ("0", "-5", "nan", "inf"):
        with pytest.raises(CommandError) as refused:
            call_command("router_test", golden.slug, "--time-limit", bad)
        assert refused.value.returncode == 2


def test_one_run_per_router_at_a_time(golden, monkeypatch):
    real = golden_module._run_case
    seen: list[str] = []

    def meanwhile(evaluator, case):
        if not seen:
            with pytest.raises(GoldenRunBusy) as busy:
                golden_run(router=golden)
            seen.append(str(busy.value))
            # The command does not take the lock: a pipeline is never refused.
            assert golden_run(router=golden, exclusive=False).passed == 5
        return real(evaluator, case)

    monkeypatch.setattr(golden_module, "_run_case", meanwhile)
    assert golden_run(router=golden).passed == 5
    assert "already being run" in seen[0]
    # Released when the run ends: the next one is not refused.
    assert golden_run(router=golden).passed == 5


def test_a_second_concurrent_run_gets_a_clear_error(client_for, api: Api, golden):  # noqa: F811
    assert shared_cache.add_now(f"golden-run:{golden.pk}", "another run", ttl=60)
    response = api.post(f"/routers/{golden.pk}/golden/run", {})
    assert response.status_code == 409
    assert "already being run" in response.json()["detail"]
    page = client_for(golden.owner).post(reverse("golden_run", args=[golden.pk]), {}, **HTMX)
    assert page.status_code == 200 and "already being run" in page.content.decode()
    # Someone else's lock is left alone.
    assert shared_cache.get_now(f"golden-run:{golden.pk}") == "another run"


def test_with_the_shared_cache_down_a_run_still_runs(golden, monkeypatch):
    def down(*args, **kwargs):
        raise CacheDown("Redis is down")

    monkeypatch.setattr(shared_cache, "add_now", down)
    assert golden_run(router=golden).passed == 5
