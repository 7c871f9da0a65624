"""`manage.py route --router SLUG "message"`: show how a router would route a message.

Plans the message as sending it would (`planning.planner`, as the test panel does): the
classifier is called when LLM rules need it, never the answering model. Without --user it
routes as the router's owner. Exit status is non-zero for an unknown router, a router the user
may not use, a message that would be refused, or bad options.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.http import Http404

from accounts.models import User
from planning.planner import decision_of, panel_request, plan_sync
from routers.models import Router
from routers.selectors import router_get_by_slug_for_user

_TIME = re.compile(r"([01]?\d|2[0-3]):[0-5]\d")


class Command(BaseCommand):
    help = "Route a message with a router and print the decision (which rule, which model, why)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("message", help="The message to route.")
        parser.add_argument("--router", required=True, metavar="SLUG", help="Slug of the router.")
        parser.add_argument(
            "--image", action="store_true", help="Pretend the message has an image attached."
        )
        parser.add_argument("--json", action="store_true", help="Print the decision as JSON.")
        parser.add_argument(
            "--user",
            metavar="USERNAME",
            help="Route as this user (and only routers they can see); default: the router's owner.",
        )
        parser.add_argument(
            "--time", metavar="HH:MM", help="Local time of day in the router's time zone."
        )
        parser.add_argument(
            "--tokens", type=int, metavar="N", help="Conversation length in tokens."
        )
        parser.add_argument(
            "--turns", type=int, metavar="N", help="Number of user turns, counting this one."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["time"] and not _TIME.fullmatch(options["time"]):
            raise CommandError(f"--time must be HH:MM on a 24-hour clock, not {options['time']!r}")
        user = None
        slug = options["router"]
        router: Router | None
        if options["user"]:
            user = User.objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user named {options['user']!r}.")
            try:
                router = router_get_by_slug_for_user(user=user, slug=slug)
            except Http404:
                raise CommandError(f"No router {slug!r} that {user.username} can see.") from None
        else:
            router = (
                Router.objects.select_related(
                    "primary_model__provider", "classifier_model__provider"
                )
                .filter(slug=slug)
                .first()
            )
            if router is None:
                known = (
                    ", ".join(Router.objects.order_by("slug").values_list("slug", flat=True)[:20])
                    or "none"
                )
                raise CommandError(f"No router with slug {slug!r} (routers: {known}).")

        plan = plan_sync(
            panel_request(
                router=router,
                user=user or router.owner,
                text=options["message"],
                has_image=options["image"],
                conversation_tokens=options["tokens"],
                turns=options["turns"],
                time_of_day=options["time"],
            )
        )
        data = decision_of(plan)
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self._print(router, data)
        if data["refusal"]:
            raise CommandError(f"Nothing would be sent: {data['refusal']}")

    def _print(self, router: Router, data: dict[str, Any]) -> None:
        out = self.stdout.write
        if data["source"] == "rule":
            out(
                f"Rule:   {data['rule_name']} ({'LLM-classified' if data['rule_kind'] == 'llm' else 'calculated'})"
            )
        elif data["source"] == "sticky":
            out(f"Rule:   {data['rule_name'] or '-'} (sticky)")
        else:
            out("Rule:   none (primary model)")
        out(f"Model:  {data['model'] or 'no suitable model'}")
        out(f"Reason: {data['reason']}")
        clf = data["classifier"]
        if clf:
            answer = clf["error"] or f"answered {clf['label'] or 'none'}"
            cached = ", cached" if clf["cached"] else ""
            out(f"Classifier: {answer} ({clf['latency_ms']} ms{cached})")
        if len(data["chain"]) > 1:
            out(f"Fallbacks: {' -> '.join(data['chain'][1:])}")
        out(
            f"Router: {router.slug} v{data['router_version']} · decided in {data['decision_us']} µs"
        )
        out("Rules:")
        for number, verdict in enumerate(data["verdicts"], start=1):
            mark = (
                "*" if data["source"] == "rule" and verdict["rule_id"] == data["rule_id"] else " "
            )
            detail = f" — {verdict['detail']}" if verdict["detail"] else ""
            out(
                f" {mark}{number}. {verdict['name']}: {verdict['status'].replace('_', ' ')}{detail}"
            )
            for c in verdict["conditions"]:
                ok = "yes" if c["matched"] else "no"
                out(
                    f"       {c['property']} {c['operator']} {c['expected'] or ''} | observed {c['observed']} | {ok}"
                )
