"""`manage.py create_api_token USERNAME [--name NAME]`: print a new API token, once."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.tokens import api_token_create


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print it (it is stored hashed and never shown again)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument(
            "--name",
            default="command line",
            help="What the token is for (default: 'command line').",
        )

    def handle(self, *args: Any, username: str, name: str, **options: Any) -> None:
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"The user {username!r} is inactive; their tokens would not work.")
        try:
            _, plaintext = api_token_create(user=user, name=name)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        # Only the token on stdout, so scripts can capture it: TOKEN=$(manage.py create_api_token …)
        self.stdout.write(plaintext)
