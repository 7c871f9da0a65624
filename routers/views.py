"""The rule builder: routers list, router page with its rules, test panel, import/export.

Every view starts from `_router_for_user`, which 404s on routers the user cannot see and
403s on writes by users who may not edit, so no view can forget the check. Rules are
only reached through their router (`rule_get_for_router`). With htmx, writes answer with
the changed fragment (`routers/detail.html#rule-row`, …) plus the version badge out of
band; without JavaScript they redirect back to the router page.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib import messages as flash
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import escape
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import reswap, retarget, trigger_client_event

from engine import OPERATORS, PROPERTIES, RuleError
from engine.conditions import compile_condition
from providers.failover import OVERRIDE_FIELDS, Policy, describe_policy
from providers.selectors import catalog_list_enabled
from routers import services
from routers.forms import (
    ConditionRow,
    ExampleRow,
    FailoverPolicyForm,
    ImportForm,
    RouterForm,
    RuleForm,
    TemplateForm,
    TestPanelForm,
    example_rows_from_data,
    examples_from_data,
    rows_from_data,
    split_categories,
    split_examples,
    tier_rows,
    tiers_from_post,
    time_zone_names,
)
from routers.models import Router, Rule, RuleKind
from routers.router_templates import TEMPLATES, router_create_from_template, template_plan
from routers.selectors import (
    router_can_edit,
    router_get_for_user,
    router_list_usable_by,
    rule_get_for_router,
)
from routers.semantic import (
    example_flags_for,
    example_flags_for_form,
    suggest_threshold_for,
    too_many_to_embed,
)
from routers.versions import router_draft_changed, router_published
from routerweb.http import HtmxHttpRequest, attachment, whole_number

DETAIL = "routers/detail.html"


def router_for_user(request: HtmxHttpRequest, pk: int, *, edit: bool = False) -> Router:
    router = router_get_for_user(user=request.user, pk=pk)
    if edit and not router_can_edit(user=request.user, router=router):
        raise PermissionDenied(
            "Only the router's owner (or a manager, for a shared router) may change it."
        )
    return router


def _describe_rule(rule: Rule) -> Rule:
    """Attach the condition sentences the rule row shows ("message contains any of …")."""
    texts = []
    for condition in rule.conditions or []:
        try:
            texts.append(compile_condition(condition).summary)
        except RuleError as exc:  # stored before a validation change: show, don't crash
            texts.append(f"invalid condition: {exc.message}")
    rule.condition_texts = texts  # type: ignore[attr-defined]
    rule.is_llm = rule.kind == RuleKind.LLM  # type: ignore[attr-defined]
    rule.is_semantic = rule.kind == RuleKind.SEMANTIC  # type: ignore[attr-defined]
    return rule


def _rules(router: Router) -> list[Rule]:
    rules = [_describe_rule(r) for r in router.rules.select_related("target_model__provider")]
    flags = example_flags_for(router, rules)
    for rule in rules:
        rule.example_flags = flags.get(rule.pk, [])  # type: ignore[attr-defined]
    return rules


def _fragment(
    request: HtmxHttpRequest,
    router: Router,
    partial: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    """A partial of the router page, followed by the version badge swapped out of band."""
    ctx = {"router": router, "can_edit": True, **context}
    html = render_to_string(f"{DETAIL}#{partial}", ctx, request=request)
    html += render_to_string(
        f"{DETAIL}#router-version",
        {"router": router, "oob": True, "can_edit": True, **version_status(router)},
        request=request,
    )
    return HttpResponse(html, status=status)


# --- routers -------------------------------------------------------------------------------


@require_GET
def router_list(request: HtmxHttpRequest) -> HttpResponse:
    return _render_list(request, ImportForm())


def _render_list(
    request: HtmxHttpRequest, import_form: ImportForm, status: int = 200
) -> HttpResponse:
    routers = router_list_usable_by(user=request.user).annotate(rule_count=Count("rules"))
    mine = [r for r in routers if r.owner_id == request.user.pk]
    others = [r for r in routers if r.owner_id != request.user.pk]
    context = {"mine": mine, "others": others, "import_form": import_form, "nav": "routers"}
    return render(request, "routers/list.html", context, status=status)


@require_http_methods(["GET", "POST"])
def router_create(request: HtmxHttpRequest) -> HttpResponse:
    form = RouterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            router = services.router_create(
                owner=request.user, actor=request.user, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            flash.success(request, f"Router “{router.name}” created. Add its rules below.")
            return redirect("router_detail", pk=router.pk)
    status = 422 if request.method == "POST" else 200
    context = {
        "form": form,
        "time_zones": time_zone_names(),
        "nav": "routers",
        "templates": list(TEMPLATES.values()),
    }
    return render(request, "routers/form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def router_template(request: HtmxHttpRequest, name: str) -> HttpResponse:
    """A template: the design it reproduces, the models it binds to here and why, its example
    messages and where each goes; POST creates the router."""
    template = TEMPLATES.get(name)
    if template is None:
        raise Http404("No such template.")
    form = TemplateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                router, _plan = router_create_from_template(
                    owner=request.user,
                    template=name,
                    slug=data["slug"].strip(),
                    name=data["name"].strip(),
                    visibility=data["visibility"],
                )
            except ValidationError as exc:
                for message in exc.messages:
                    form.add_error("slug" if "slug" in message.lower() else None, message)
            else:
                flash.success(
                    request,
                    f"Router “{router.name}” created from the template. Try its examples in the "
                    "test panel, then edit it like any router.",
                )
                return redirect("router_detail", pk=router.pk)
    context = {
        "template": template,
        "plan": template_plan(template),
        "form": form,
        "nav": "routers",
    }
    return render(request, "routers/template.html", context, status=status)


@require_http_methods(["GET", "POST"])
def router_edit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    form = RouterForm(request.POST or None, initial=RouterForm.initial_for(router))
    if request.method == "POST" and form.is_valid():
        try:
            services.router_update(router=router, actor=request.user, **form.service_kwargs())
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            flash.success(request, "Router settings saved.")
            return redirect("router_detail", pk=router.pk)
    status = 422 if request.method == "POST" else 200
    context = {"form": form, "router": router, "time_zones": time_zone_names(), "nav": "routers"}
    return render(request, "routers/form.html", context, status=status)


@require_http_methods(["GET", "POST"])
def router_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    if request.method == "POST":
        name = router.name
        switched = services.router_delete(router=router, actor=request.user)
        note = (
            f" {len(switched)} workspace(s) now answer with its primary model." if switched else ""
        )
        flash.success(request, f"Router “{name}” deleted.{note}")
        return redirect("router_list")
    context = {"router": router, "workspaces": router.workspaces.all(), "nav": "routers"}
    return render(request, "routers/delete.html", context)


def version_status(router: Router) -> dict[str, Any]:
    """What the router page says about versions: the published number, unpublished changes."""
    return {
        "published_number": router.published_version.number if router.published_version else None,
        "draft_changed": router_draft_changed(router=router),
    }


def test_form(router: Router, data: Any = None) -> TestPanelForm:
    """The test panel's form, offering the draft and every version."""
    live = router.published_version.number if router.published_version else None
    numbers = list(router.versions.order_by("-number").values_list("number", flat=True))
    return TestPanelForm(data, versions=numbers, live=live)


@require_GET
def router_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk)
    return render_detail(request, router, test_form(router))


def render_detail(
    request: HtmxHttpRequest,
    router: Router,
    test_form: TestPanelForm,
    result: dict[str, Any] | None = None,
    status: int = 200,
    policy_form: FailoverPolicyForm | None = None,
    tiers_error: str = "",
    categories_error: str = "",
) -> HttpResponse:
    policy = Policy.current(router.failover_policy)
    # Traffic uses the published version's policy: say so when the draft's differs from it.
    live_overrides = dict(router_published(router).failover_policy or {})
    policy_live: list[tuple[str, Any]] | None = None
    if live_overrides != dict(router.failover_policy or {}):
        live = Policy.current(live_overrides)
        policy_live = [
            (label, getattr(live, name))
            for name, (label, *_rest) in OVERRIDE_FIELDS.items()
            if getattr(live, name) != getattr(policy, name)
        ]
    tier_choices = [("", "unset (falls back)")] + [
        (m.ref, f"{m.display_name} · {m.ref}")
        for m in catalog_list_enabled().order_by("provider__name", "display_name")
    ]
    context = {
        **version_status(router),
        "router": router,
        "tier_rows": tier_rows(router),
        "tier_model_choices": tier_choices,
        "tier_model_refs": {ref for ref, _ in tier_choices},
        "tiers_error": tiers_error,
        "categories_error": categories_error,
        "rules": _rules(router),
        "can_edit": router_can_edit(user=request.user, router=router),
        "test_form": test_form,
        "result": result,
        "nav": "routers",
        "policy": policy,
        "policy_rows": describe_policy(policy),
        "policy_live": policy_live,
        "policy_limits": [
            (label, getattr(policy, name), name in router.failover_policy)
            for name, (label, *_rest) in OVERRIDE_FIELDS.items()
        ],
        "policy_form": policy_form
        or FailoverPolicyForm(
            initial=FailoverPolicyForm.initial_for(router), defaults=Policy.current()
        ),
    }
    return render(request, DETAIL, context, status=status)


@require_POST
def router_tiers(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save the tier table: names (a rename carries the rules and workspaces along), models,
    fallbacks, the default tier and the escalation switch. Like every routing setting it
    changes the draft; traffic follows once it is published."""
    router = router_for_user(request, pk, edit=True)
    try:
        services.router_set_tiers(
            router=router,
            tiers=tiers_from_post(request.POST),
            default_tier=request.POST.get("default_tier", ""),
            escalation=request.POST.get("escalation") == "on",
            actor=request.user,
        )
    except ValidationError as exc:
        messages = [m for values in exc.message_dict.values() for m in values]
        router.refresh_from_db()
        return render_detail(
            request, router, TestPanelForm(), status=422, tiers_error=" ".join(messages)
        )
    flash.success(request, "Tiers saved to the draft.")
    return redirect(reverse("router_detail", args=[router.pk]) + "#tiers")


@require_POST
def router_categories(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save the task categories the classifier chooses from (the draft's)."""
    router = router_for_user(request, pk, edit=True)
    try:
        services.router_set_categories(
            router=router,
            categories=split_categories(request.POST.get("categories", "")),
            actor=request.user,
        )
    except ValidationError as exc:
        messages = [m for values in exc.message_dict.values() for m in values]
        router.refresh_from_db()
        return render_detail(
            request, router, TestPanelForm(), status=422, categories_error=" ".join(messages)
        )
    flash.success(request, "Categories saved to the draft.")
    return redirect(reverse("router_detail", args=[router.pk]) + "#tiers")


@require_POST
def router_failover_policy(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Save the router's overrides of the failure policy (empty fields: the defaults)."""
    router = router_for_user(request, pk, edit=True)
    form = FailoverPolicyForm(request.POST, defaults=Policy.current())
    if form.is_valid():
        try:
            services.router_set_failover_policy(
                router=router, overrides=form.overrides(), actor=request.user
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            flash.success(request, "Failure policy saved.")
            return redirect("router_detail", pk=router.pk)
    return render_detail(request, router, test_form(router), status=422, policy_form=form)


@require_GET
def router_export(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk)
    response = JsonResponse(
        services.router_export(router=router),
        json_dumps_params={"indent": 2, "ensure_ascii": False},
    )
    response["Content-Disposition"] = attachment(f"{router.slug}.router.json")
    return response


@require_http_methods(["GET", "POST"])
def router_import(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "GET":
        return redirect("router_list")
    form = ImportForm(request.POST, request.FILES)
    if form.is_valid():
        slug = form.cleaned_data["slug"].strip() or None
        try:
            router = services.router_import_text(
                owner=request.user, text=form.cleaned_data["text"], slug=slug
            )
        except ValidationError as exc:
            # File problems are a list (non-field errors); a taken slug is keyed "slug".
            form.add_error(None, exc)
        else:
            flash.success(
                request,
                f"Imported “{router.name}” as {router.slug} ({router.rules.count()} rules).",
            )
            return redirect("router_detail", pk=router.pk)
    return _render_list(request, form, status=422)


# --- rules ---------------------------------------------------------------------------------


def _rule_form_response(
    request: HtmxHttpRequest, router: Router, form: RuleForm, rule: Rule | None, status: int = 200
) -> HttpResponse:
    context = {"router": router, "form": form, "rule": rule, "can_edit": True}
    if not request.htmx:
        return render(
            request, "routers/rule_form.html", {**context, "nav": "routers"}, status=status
        )
    partial = "rule-editing" if rule else "rule-form"
    html = render_to_string(f"{DETAIL}#{partial}", context, request=request)
    return HttpResponse(html, status=status)


@require_http_methods(["GET", "POST"])
def rule_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    if request.method == "GET":
        return _rule_form_response(
            request, router, RuleForm(rows=[ConditionRow.new()], tiers=router.tiers), None
        )
    form = RuleForm(request.POST, rows=rows_from_data(request.POST), tiers=router.tiers)
    if form.is_valid():
        try:
            rule = services.rule_create(router=router, actor=request.user, **form.service_kwargs())
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            if not request.htmx:
                return redirect("router_detail", pk=router.pk)
            # The new row joins the list; the form slot empties (out of band).
            response = _fragment(
                request, router, "rule-row", {"rule": _describe_rule(rule), "clear_new_rule": True}
            )
            return reswap(retarget(response, "#rules"), "beforeend")
    return _rule_form_response(request, router, form, None, status=422)


@require_GET
def rule_detail(request: HtmxHttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    router = router_for_user(request, pk)
    rule = rule_get_for_router(router=router, pk=rule_pk)
    if not request.htmx:
        return redirect(reverse("router_detail", args=[router.pk]) + f"#rule-{rule.pk}")
    context = {
        "router": router,
        "rule": _describe_rule(rule),
        "can_edit": router_can_edit(user=request.user, router=router),
    }
    return render(request, f"{DETAIL}#rule-row", context)


@require_http_methods(["GET", "POST"])
def rule_edit(request: HtmxHttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    rule = rule_get_for_router(router=router, pk=rule_pk)
    if request.method == "GET":
        rows = [ConditionRow.from_condition(c) for c in rule.conditions or []] or [
            ConditionRow.new()
        ]
        return _rule_form_response(
            request,
            router,
            RuleForm(initial=RuleForm.initial_for(rule), rows=rows, tiers=router.tiers),
            rule,
        )
    form = RuleForm(request.POST, rows=rows_from_data(request.POST), tiers=router.tiers)
    if form.is_valid():
        try:
            services.rule_update(rule=rule, actor=request.user, **form.service_kwargs())
        except ValidationError as exc:
            form.add_service_errors(exc.message_dict)
        else:
            if not request.htmx:
                return redirect("router_detail", pk=router.pk)
            return _fragment(request, router, "rule-row", {"rule": _describe_rule(rule)})
    return _rule_form_response(request, router, form, rule, status=422)


@require_POST
def rule_toggle(request: HtmxHttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    rule = rule_get_for_router(router=router, pk=rule_pk)
    services.rule_set_enabled(rule=rule, enabled=not rule.enabled, actor=request.user)
    if not request.htmx:
        return redirect("router_detail", pk=router.pk)
    return _fragment(request, router, "rule-row", {"rule": _describe_rule(rule)})


@require_POST
def rule_delete(request: HtmxHttpRequest, pk: int, rule_pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    rule = rule_get_for_router(router=router, pk=rule_pk)
    name = rule.name
    services.rule_delete(rule=rule, actor=request.user)
    if not request.htmx:
        flash.success(request, f"Rule “{name}” deleted.")
        return redirect("router_detail", pk=router.pk)
    # The row's target (its <li>) is replaced by nothing.
    return _fragment(request, router, "nothing", {})


@require_POST
def rule_reorder(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    router = router_for_user(request, pk, edit=True)
    try:
        services.router_reorder(
            router=router, rule_ids=request.POST.getlist("rule_ids"), actor=request.user
        )
    except ValidationError as exc:
        message = " ".join(exc.messages)
        if not request.htmx:
            flash.error(request, message)
            return redirect("router_detail", pk=router.pk)
        return _fragment(request, router, "reorder-status", {"error": message}, status=422)
    if not request.htmx:
        return redirect("router_detail", pk=router.pk)
    return _fragment(request, router, "reorder-status", {"saved": True})


@require_GET
def condition_row(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A condition row: a new one, or the posted one re-shaped after a property or
    operator change (operators limited to the property, value input suited to its type)."""
    router = router_for_user(request, pk, edit=True)
    rows = rows_from_data(request.GET)
    row = rows[0] if rows else ConditionRow.new()
    return render(request, f"{DETAIL}#condition-row", {"router": router, "row": row})


# --- test panel ----------------------------------------------------------------------------

STATUS_LABELS = {
    "matched": "matched",
    "no_match": "no match",
    "disabled": "disabled",
    "not_reached": "not reached",
    "offered": "offered to the classifier",
    "classifier_chose": "chosen by the classifier",
    "classifier_rejected": "not chosen by the classifier",
    "skipped": "skipped",
    "pending": "not evaluated",
}


def decision_view(data: dict[str, Any]) -> dict[str, Any]:
    """A decision (`planning.planner.decision_of`) for the template, with labels a person
    reads."""
    names = {m.ref: m.display_name for m in catalog_list_enabled()}
    data["model_name"] = names.get(data["model"] or "", data["model"] or "no model")
    by_id = {v["rule_id"]: v["name"] for v in data["verdicts"]}
    if data["classifier"]:
        # The classifier answers with a short label ("r1"); say which rule that is.
        data["classifier"]["rule_name"] = by_id.get(data["classifier"]["rule_id"])
    for verdict in data["verdicts"]:
        verdict["status_label"] = STATUS_LABELS.get(
            verdict["status"], verdict["status"].replace("_", " ")
        )
        verdict["won"] = data["source"] == "rule" and verdict["rule_id"] == data["rule_id"]
        for condition in verdict["conditions"]:
            prop = PROPERTIES.get(condition["property"])
            operator = OPERATORS.get(condition["operator"])
            condition["property_label"] = prop.label if prop else condition["property"]
            condition["operator_label"] = operator.label if operator else condition["operator"]
    return data


@require_POST
def rule_suggest_threshold(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Suggest a threshold for the examples in the rule form (leave-one-out), saying how."""
    router = router_for_user(request, pk, edit=True)
    rule_id = request.POST.get("rule_id", "")
    suggestion = suggest_threshold_for(
        router=router,
        examples=examples_from_data(request.POST),
        exclude_rule_id=whole_number(rule_id),
    )
    return render(request, f"{DETAIL}#threshold-suggestion", {"suggestion": suggestion})


# --- semantic examples, one widget each ------------------------------------------------------


@require_GET
def example_row(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A new, empty example row for a semantic rule's form."""
    router = router_for_user(request, pk, edit=True)
    return render(request, f"{DETAIL}#example-rows", {"router": router, "rows": [ExampleRow.new()]})


@require_POST
def rule_examples_paste(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The lines pasted in a rule form's "paste many" box, as example rows to append; the box
    is emptied (out of band), so nothing is added twice."""
    router = router_for_user(request, pk, edit=True)
    lines = split_examples(request.POST.get("examples", ""))
    if problem := too_many_to_embed(lines):
        # Shown in the page's request-errors region; the box keeps what was pasted.
        response = HttpResponse(f'<p class="error" role="alert">{escape(problem)}</p>', status=422)
        return reswap(retarget(response, "#request-errors"), "innerHTML")
    rows = [ExampleRow.new(line) for line in lines]
    box = request.POST.get("paste_box", "")  # the form's key: a rule id, or "new"
    response = render(
        request,
        f"{DETAIL}#example-rows",
        {"router": router, "rows": rows, "clear_rk": box if _BOX_KEY.fullmatch(box) else ""},
    )
    # Added rows are new examples to check for duplicates (the editor listens for this).
    return trigger_client_event(response, "examples-changed")


_BOX_KEY = re.compile(r"[A-Za-z0-9_]{1,20}")


@require_POST
def rule_examples_check(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Flag each example in the form that repeats one of the rule's own, or stands (exactly or
    nearly) in another semantic rule of the router: a summary, and each row's flags (out of
    band, so what is being typed is not re-rendered)."""
    router = router_for_user(request, pk, edit=True)
    rule_id = request.POST.get("rule_id", "")
    rows = example_rows_from_data(request.POST)
    result = example_flags_for_form(
        router=router,
        examples=[row.text for row in rows],
        exclude_rule_id=whole_number(rule_id),
    )
    for row, flags in zip(rows, result.flags, strict=True):
        row.flags = flags
    return render(request, f"{DETAIL}#example-flags", {"rows": rows, "summary": result.summary})
