"""`manage.py router_test SLUG [--version N]`: run a router's golden set; exit 1 on a failure.

For a deployment pipeline: test the draft before publishing it (the default), or a published
version (`--version N`). Prints one line per case and a summary; `--json` prints the report.
Exit status: 0 when every case passes, 1 when one fails or is not run (or the router cannot
route, or has no cases), 2 for bad arguments (an unknown router, version or owner).

Unlike the pages and the API (GOLDEN_RUN_SECONDS), a pipeline's run has no time limit by
default: every case is judged, however long LLM-classified or semantic rules take. Give
`--time-limit SECONDS` to bound it; cases it leaves are reported as not run. The command does
not take the pages' one-run-per-router lock, so a pipeline never fails because someone is
running the set in the browser.
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from evaluation.golden import golden_run
from evaluation.routing import UnknownVersion
from routers.models import Router, Visibility


class Command(BaseCommand):
    help = "Run a router's golden set (the draft, or --version N); exit non-zero on a failure."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="Slug of the router.")
        # Django's own --version (the framework's) gives way: here it names a router version.
        for action in list(parser._actions):
            if "--version" in action.option_strings:
                parser._handle_conflict_resolve(action, [("--version", action)])
        parser.add_argument("--version", type=int, metavar="N", help="A published version.")
        parser.add_argument(
            "--owner", metavar="USERNAME", help="Whose router, when several share the slug."
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")
        parser.add_argument(
            "--time-limit",
            type=float,
            metavar="SECONDS",
            help="Start no case after this many seconds (default: no limit); the rest are "
            "reported as not run, and the exit status is 1.",
        )

    def _router(self, slug: str, owner: str | None) -> Router:
        routers = Router.objects.filter(slug=slug)
        if owner:
            routers = routers.filter(owner__username=owner)
        found = list(routers.order_by("pk")[:10])
        shared = [r for r in found if r.visibility == Visibility.SHARED]
        if len(found) == 1:
            return found[0]
        if not owner and len(shared) == 1:
            return shared[0]
        if not found:
            raise CommandError(
                f"No router with slug {slug!r}" + (f" owned by {owner}." if owner else "."),
                returncode=2,
            )
        owners = ", ".join(sorted(r.owner.username for r in found))
        raise CommandError(
            f"Several routers use the slug {slug!r} (owners: {owners}); say whose with --owner.",
            returncode=2,
        )

    def handle(self, *args: Any, **options: Any) -> None:
        limit = options["time_limit"]
        if limit is not None and not (0 < limit < math.inf):
            raise CommandError("--time-limit is a number of seconds above 0.", returncode=2)
        router = self._router(options["slug"], options["owner"])
        try:
            report = golden_run(
                router=router,
                version=options["version"],
                time_limit=math.inf if limit is None else limit,
                exclusive=False,
            )
        except UnknownVersion as exc:
            raise CommandError(str(exc), returncode=2) from None
        if options["json"]:
            self.stdout.write(json.dumps(report.to_dict(), indent=2, ensure_ascii=False))
        else:
            self._print(router, report)
        if report.error:
            raise CommandError(report.error, returncode=1)
        if not report.results:
            raise CommandError(f"The router {router.slug!r} has no golden cases.", returncode=1)
        if report.failed or report.not_run:
            sys.exit(1)

    def _print(self, router: Router, report: Any) -> None:
        out = self.stdout.write
        for result in report.results:
            mark = "PASS" if result.passed else "FAIL"
            text = " ".join(result.case.message.split())[:70]
            expected = {
                "tier": f"tier {result.expected}",
                "refused": f"refused by {result.expected or 'a policy'}",
            }.get(result.case.expect, result.expected)
            got = f"{result.actual_rule} → {result.actual_model or 'no model'}"
            if result.actual_tier:
                got += f" (tier {result.actual_tier})"
            line = f"{mark}  {text!r}: expected {expected}, got {got}"
            out(line if result.passed else self.style.ERROR(line))
        for case in report.not_run:
            text = " ".join(case.message.split())[:70]
            out(self.style.WARNING(f"SKIP  {text!r}: {report.not_run_reason}"))
        not_run = f", {len(report.not_run)} not run" if report.not_run else ""
        out(
            f"{router.slug} ({report.label}): {report.passed} passed, {report.failed} failed"
            f"{not_run} · "
            f"{report.classifier_calls} classifier calls, ${report.classifier_cost:.6f}"
        )
