"""An outsider against a member's private router's versions, golden set, replays, experiments,
tiers and preferences, another person's preferences and suggestions, and another person's
feedback: 404 for what they may not know exists, 403 for a shared router they may use but
not change; nothing changes. (The surfaces added after the permission matrix.)"""

from __future__ import annotations

import json

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from decisions.models import Feedback, RoutingDecision
from evaluation.golden import golden_case_create
from evaluation.models import GoldenCase, ReplayRun
from experiments.services import experiment_start
from preferences.models import Preference, Suggestion
from preferences.services import preference_set, router_preferences_set
from providers.models import CatalogModel
from routers import services, versions
from tests.api.conftest import token_for  # noqa: F401
from tests.routers.conftest import add_rules, make_router  # noqa: F401


def test_an_outsider_reaches_nothing_of_anothers_router_or_preferences(
    make_router,  # noqa: F811
    owner,
    outsider,
    client_for,
    token_for,  # noqa: F811
    demo_catalog,
):
    r = make_router(slug="priv")
    add_rules(r)
    code = r.rules.first()
    services.rule_update(rule=code, name="Code2", actor=owner)
    versions.router_publish(router=r, actor=owner)
    services.rule_update(rule=code, name="Code3", actor=owner)
    case = golden_case_create(router=r, actor=owner, message="hello")
    run = ReplayRun.objects.create(router=r, start=timezone.now(), end=timezone.now())
    exp = experiment_start(router=r, actor=owner, variant="1", percent=50)
    sh = make_router(slug="shared", visibility="shared")
    add_rules(sh)
    router_preferences_set(actor=owner, router=sh, allowed=True)
    pref = preference_set(
        actor=owner,
        router=sh,
        rule=sh.rules.first(),
        model=CatalogModel.objects.get(model_id="coder"),
    )
    sug = Suggestion.objects.create(
        user=owner,
        router=sh,
        rule=sh.rules.first(),
        model_ref="demo/coder",
        evidence={},
        created_at=timezone.now(),
    )
    dec = RoutingDecision.objects.create(
        router=sh, rule_name="Code", created_at=timezone.now(), user=owner
    )
    versions_before = (r.versions.count(), sh.versions.count())
    c = client_for(outsider)
    c.raise_request_exception = False
    pk = r.pk
    ui = [
        ("get", reverse("router_versions", args=[pk])),
        ("get", reverse("router_compare", args=[pk]) + "?old=1&new=draft"),
        ("get", reverse("router_version_export", args=[pk, 1])),
        ("post", reverse("router_rollback", args=[pk, 1])),
        ("post", reverse("router_publish", args=[pk])),
        ("post", reverse("router_draft_import", args=[pk])),
        ("get", reverse("golden_page", args=[pk])),
        ("post", reverse("golden_add", args=[pk])),
        ("post", reverse("golden_run", args=[pk])),
        ("post", reverse("golden_delete", args=[pk, case.pk])),
        ("get", reverse("replay_page", args=[pk])),
        ("post", reverse("replay_estimate", args=[pk])),
        ("post", reverse("replay_start", args=[pk])),
        ("get", reverse("replay_detail", args=[pk, run.pk])),
        ("get", reverse("router_experiments", args=[pk])),
        ("post", reverse("experiment_start", args=[pk])),
        ("get", reverse("experiment_detail", args=[pk, exp.pk])),
        ("post", reverse("experiment_end", args=[pk, exp.pk])),
        ("post", reverse("router_tiers", args=[pk])),
        ("post", reverse("router_categories", args=[pk])),
        ("get", reverse("router_preferences", args=[pk])),
        ("post", reverse("router_preferences", args=[sh.pk])),
        ("post", reverse("preference_remove", args=[pref.pk])),
        ("post", reverse("suggestion_accept", args=[sug.pk])),
        ("post", reverse("suggestion_dismiss", args=[sug.pk])),
        ("get", reverse("router_analytics", args=[pk])),
        # The shared router: usable by the outsider, not theirs to change.
        ("get", reverse("router_experiments", args=[sh.pk])),
        ("post", reverse("experiment_start", args=[sh.pk])),
        ("post", reverse("golden_add", args=[sh.pk])),
        ("post", reverse("replay_start", args=[sh.pk])),
        ("post", reverse("router_publish", args=[sh.pk])),
        ("post", reverse("router_tiers", args=[sh.pk])),
        ("post", reverse("router_draft_import", args=[sh.pk])),
    ]
    for m, u in ui:
        resp = getattr(c, m)(u)
        expected = 403 if f"/routers/{sh.pk}/" in u else 404
        assert resp.status_code == expected, (m, u, resp.status_code)
    a = Client(raise_request_exception=False)
    h = {"HTTP_AUTHORIZATION": f"Bearer {token_for(outsider)}"}
    api = [
        ("get", f"/api/routers/{pk}/versions", None),
        ("get", f"/api/routers/{pk}/versions/1", None),
        ("get", f"/api/routers/{pk}/diff", None),
        ("post", f"/api/routers/{pk}/publish", {}),
        ("post", f"/api/routers/{pk}/versions/1/rollback", {}),
        ("put", f"/api/routers/{pk}/draft", {}),
        ("get", f"/api/routers/{pk}/golden", None),
        ("post", f"/api/routers/{pk}/golden", {"message": "x"}),
        ("delete", f"/api/routers/{pk}/golden/{case.pk}", None),
        ("post", f"/api/routers/{pk}/golden/run", {}),
        (
            "post",
            f"/api/routers/{pk}/replays/estimate",
            {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"},
        ),
        ("get", f"/api/routers/{pk}/replays/{run.pk}", None),
        ("put", f"/api/routers/{pk}/tiers", {"tiers": []}),
        ("put", f"/api/routers/{pk}/categories", {"categories": ["x"]}),
        ("post", f"/api/routers/{pk}/dry-run", {"message": "x"}),
        ("put", f"/api/decisions/feedback/chatcmpl-{dec.uid}", {"rating": "down"}),
        ("delete", f"/api/decisions/feedback/chatcmpl-{dec.uid}", None),
        ("put", f"/api/routers/{sh.pk}/tiers", {"tiers": []}),
        ("post", f"/api/routers/{sh.pk}/golden", {"message": "x"}),
        (
            "post",
            f"/api/routers/{sh.pk}/replays/estimate",
            {"start": "2026-01-01T00:00:00", "end": "2026-01-02T00:00:00"},
        ),
        ("post", f"/api/routers/{sh.pk}/publish", {}),
    ]
    for m, u, body in api:
        kw = dict(h)
        if body is not None:
            kw.update(data=json.dumps(body), content_type="application/json")
        resp = getattr(a, m)(u, **kw)
        expected = 403 if f"/routers/{sh.pk}/" in u else 404
        assert resp.status_code == expected, (m, u, resp.status_code)
        assert "detail" in resp.json()
    assert Preference.objects.count() == 1
    assert Suggestion.objects.filter(state="pending").count() == 1
    assert GoldenCase.objects.count() == 1 and not Feedback.objects.exists()
    assert r.experiments.filter(ended_at__isnull=True).count() == 1
    assert (r.versions.count(), sh.versions.count()) == versions_before
