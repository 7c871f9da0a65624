"""`manage.py router_template list` and `manage.py router_template create NAME --slug SLUG`:
the router templates, bound to this instance's catalog, from the command line."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import User
from routers.router_templates import (
    TEMPLATES,
    plan_to_dict,
    router_create_from_template,
    template_plan,
)


class Command(BaseCommand):
    help = "List the router templates, or create a router from one."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        listing = sub.add_parser("list", help="The templates and the models they would use here.")
        listing.add_argument("--json", action="store_true", help="Print them as JSON.")
        create = sub.add_parser("create", help="Create a router from a template.")
        create.add_argument("name", help=f"One of: {', '.join(TEMPLATES)}.")
        create.add_argument("--slug", default="", help="The router's slug (router:<slug>).")
        create.add_argument("--router-name", default="", help="Its name (default: the title).")
        create.add_argument(
            "--owner", default="admin", metavar="USERNAME", help="Who owns it (default admin)."
        )
        create.add_argument("--shared", action="store_true", help="Share it with everyone.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            self._list(as_json=options["json"])
        else:
            self._create(options)

    def _list(self, *, as_json: bool) -> None:
        plans = [plan_to_dict(template_plan(t)) for t in TEMPLATES.values()]
        if as_json:
            self.stdout.write(json.dumps(plans, indent=2))
            return
        for plan in plans:
            self.stdout.write(self.style.MIGRATE_HEADING(f"{plan['name']}: {plan['title']}"))
            self.stdout.write(f"  {plan['design']}")
            for role in plan["roles"]:
                chosen = role["model"] or "NO SUITABLE MODEL"
                self.stdout.write(f"  role {role['role']}: {chosen} — {role['why']}")
            self.stdout.write(f"  primary: {plan['primary_model']}")
            for warning in plan["warnings"]:
                self.stdout.write(self.style.WARNING(f"  warning: {warning}"))
            for example in plan["examples"]:
                message = " ".join(example["message"].split())
                message = message if len(message) <= 70 else message[:69] + "…"
                self.stdout.write(f"    “{message}” → {example['model']} ({example['decided_by']})")

    def _create(self, options: dict[str, Any]) -> None:
        owner = User.objects.filter(username=options["owner"]).first()
        if owner is None:
            raise CommandError(f"No user '{options['owner']}' (give one with --owner).")
        try:
            router, plan = router_create_from_template(
                owner=owner,
                template=options["name"],
                slug=options["slug"],
                name=options["router_name"],
                visibility="shared" if options["shared"] else "private",
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        for warning in plan.warnings:
            self.stdout.write(self.style.WARNING(f"warning: {warning}"))
        self.stdout.write(
            self.style.SUCCESS(
                f"Created router “{router.name}” (router:{router.slug}) for {owner.username} "
                f"from the template {options['name']}."
            )
        )
