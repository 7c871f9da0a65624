"""Two web processes behind one PostgreSQL + Redis (and the Celery worker) agree on everything.

Runs in the PostgreSQL + Redis stage of `.ci/run`, which starts the worker (pointed at the test
database) and sets ROUTERWEB_CI_WORKER; elsewhere it is skipped. The two uvicorn processes
are real subprocesses on loopback with the environment production gives them (the same
DATABASE_URL, REDIS_URL, broker and keys), talking to the fake upstream of this test.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.db import connection

from accounts.tokens import api_token_create
from chat.models import Message
from chat.services import thread_create, workspace_create
from decisions.models import RoutingDecision
from providers.models import CatalogModel, Provider
from routers.versions import router_publish

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.worker,
    pytest.mark.skipif(
        not os.environ.get("ROUTERWEB_CI_WORKER"),
        reason="needs PostgreSQL, Redis and the Celery worker that .ci/run starts",
    ),
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class _Web:
    """One uvicorn web process, as `scripts/start-web.sh` would run it (one worker)."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "routerweb.asgi:application"]
            + ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"web process exited: {self.log.name}"
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the web process did not come up")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture
def two_webs(transactional_db: Any, tmp_path: Path) -> Iterator[tuple[_Web, _Web]]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "routerweb.settings",
        "DATABASE_URL": _database_url(),
        # The same keys: sessions and encrypted provider keys are read by every process.
        "SECRET_KEY": settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": settings.FIELD_ENCRYPTION_KEY or "",
        "DEBUG": "true",  # plain-HTTP cookies on loopback
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "WARNING",
        "BREAKER_FAILURE_THRESHOLD": "2",
        "BREAKER_COOLOFF_SECONDS": "300",
        "FAILOVER_MAX_ATTEMPTS_PER_MODEL": "1",
        "PLAN_CACHE_SECONDS": "3600",  # only a config-version change may refresh a plan
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    env.pop("OTEL_EXPORTER_OTLP_ENDPOINT", None)
    webs = (_Web(env, tmp_path / "web-a.log"), _Web(env, tmp_path / "web-b.log"))
    try:
        for web in webs:
            web.wait_ready()
        yield webs
    finally:
        for web in webs:
            web.stop()


@pytest.fixture
def scale_router(owner: Any, fake_upstream: Any) -> Any:
    from routers import services

    provider = Provider.objects.create(
        name="Fake OpenAI",
        slug="fake",
        kind="openai",
        base_url=fake_upstream.base_url("openai"),
        connect_timeout=1.0,
        read_timeout=10.0,
    )
    provider.api_key = "sk-fake-upstream"
    provider.save()
    for name in ("fake-small", "fake-large", "fake-vision"):
        CatalogModel.objects.create(
            provider=provider,
            model_id=name,
            display_name=name,
            context_window=16_000,
            input_price_per_m="1.00",
            output_price_per_m="2.00",
        )
    router = services.router_create(
        owner=owner,
        name="Scale",
        slug="scale",
        primary_model="fake/fake-small",
        sticky=True,
        cooldown_minutes=30,
        actor=owner,
    )
    keywords = "keywords"
    services.rule_create(
        router=router,
        name="Code",
        kind="calculated",
        conditions=[{"property": keywords, "operator": "contains_any", "value": ["python"]}],
        target_model="fake/fake-large",
        fallbacks=["fake/fake-small"],
        actor=router.owner,
    )
    services.rule_create(
        router=router,
        name="Pictures",
        kind="calculated",
        conditions=[{"property": keywords, "operator": "contains_any", "value": ["picture"]}],
        target_model="fake/fake-vision",
        actor=router.owner,
    )
    router.refresh_from_db()
    # Traffic routes with the published version: publish the rules just added.
    router_publish(router=router, actor=router.owner)
    router.refresh_from_db()
    return router


def _ask(web: _Web, token: str, text: str) -> tuple[str, str]:
    """(answering model, decision uid) of one /v1 call to `web`."""
    client = openai.OpenAI(base_url=f"{web.url}/v1", api_key=token, max_retries=0, timeout=20)
    raw = client.chat.completions.with_raw_response.create(
        model="router:scale", messages=[{"role": "user", "content": text}]
    )
    return raw.parse().model, raw.headers["x-routerweb-decision"]


def _login(web: _Web, username: str, password: str) -> httpx.Client:
    browser = httpx.Client(base_url=web.url, timeout=20)
    page = browser.get("/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert token is not None
    done = browser.post(
        "/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token[1]},
    )
    assert done.status_code == 302, done.text[:500]
    return browser


def _chat(web: _Web, browser: httpx.Client, thread_id: int, text: str) -> Message:
    """Post `text` into the thread through `web` and read the answer's stream from `web`."""
    csrf = browser.cookies["csrftoken"]
    posted = browser.post(
        f"{web.url}/threads/{thread_id}/messages/",
        data={"text": text, "csrfmiddlewaretoken": csrf},
    )
    assert posted.status_code in (200, 302), posted.text[:500]
    answer = Message.objects.filter(thread_id=thread_id, role="assistant").order_by("-id").first()
    assert answer is not None
    with browser.stream("GET", f"{web.url}/messages/{answer.pk}/stream/") as stream:
        assert stream.status_code == 200
        body = "".join(stream.iter_text())
    answer.refresh_from_db()
    assert answer.status == "complete", (answer.status, answer.error, body[-500:])
    return answer


def test_two_web_processes_share_routing_state_and_store_each_decision_once(
    two_webs, scale_router, owner, fake_upstream
):
    a, b = two_webs
    token = api_token_create(user=owner, name="scale")[1]
    uids: list[str] = []

    # 1. A circuit breaker opened by failures in A is open in B.
    fake_upstream.script(model="fake-large", status=500)
    for _ in range(2):
        model, uid = _ask(a, token, "a python question")
        assert model == "fake/fake-small"  # fake-large failed, its fallback answered
        uids.append(uid)
    calls_to_large = sum(
        r.body["model"] == "fake-large" for r in fake_upstream.requests_to("openai")
    )
    model, uid = _ask(b, token, "another python question")
    uids.append(uid)
    assert model == "fake/fake-small"
    assert (
        sum(r.body["model"] == "fake-large" for r in fake_upstream.requests_to("openai"))
        == calls_to_large
    ), "B skipped the model whose circuit A opened"

    # 2. A router edit made through A is used by B on its next request (B has this router's
    #    plan cached from the call above).
    model, uid = _ask(b, token, "hello")
    uids.append(uid)
    assert model == "fake/fake-small"
    changed = httpx.patch(
        f"{a.url}/api/routers/{scale_router.pk}",
        json={"primary_model": "fake/fake-vision"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert changed.status_code == 200, changed.text
    published = httpx.post(
        f"{a.url}/api/routers/{scale_router.pk}/publish",
        json={"note": "primary is now the vision model"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=20,
    )
    assert published.status_code == 201, published.text
    model, uid = _ask(b, token, "hello again")
    uids.append(uid)
    assert model == "fake/fake-vision"

    # 3. Sticky routing holds across them: a chat answered through A by the Pictures rule
    #    keeps that rule's model when the next message goes through B.
    workspace = workspace_create(owner=owner, name="Scaled", router=scale_router)
    thread = thread_create(workspace=workspace, owner=owner)
    # The web processes use the production hashers, not the tests' fast MD5 one.
    owner.password = PBKDF2PasswordHasher().encode("scale-out-pw", "scale-out-salt")
    owner.save(update_fields=["password"])
    browser = _login(a, owner.username, "scale-out-pw")
    first = _chat(a, browser, thread.pk, "describe the picture please")
    assert first.model_ref == "fake/fake-vision" and first.routing["source"] == "rule"
    second = _chat(b, browser, thread.pk, "thanks, and what colours?")
    assert second.routing["source"] == "sticky", second.routing
    assert second.model_ref == "fake/fake-vision"

    # 4. Every decision is stored exactly once (by the worker), whichever process answered.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        stored = list(RoutingDecision.objects.filter(uid__in=uids).values_list("uid", flat=True))
        if len(stored) >= len(uids):
            break
        time.sleep(0.2)
    assert sorted(str(u) for u in stored) == sorted(uids)
    chat_decisions = RoutingDecision.objects.filter(channel="chat", user=owner)
    deadline = time.monotonic() + 30
    while chat_decisions.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert chat_decisions.count() == 2
    assert RoutingDecision.objects.filter(channel="api", user=owner).count() == len(uids)

    # The metrics of both processes add up in their shared multiprocess directory.
    metrics = httpx.get(f"{a.url}/metrics", timeout=10).text
    assert 'routerweb_circuit_breaker_opened_total{model="fake/fake-large"} 1.0' in metrics
