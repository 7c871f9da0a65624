"""Create the first admin for the embedded default and print how to log in.

The generated password is kept in `.local/admin_password` (git-ignored, mode 0600) so the
start command can print it again; once the admin changes it, we say so instead.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from accounts.models import Role, User


class Command(BaseCommand):
    help = "Create an admin user (default username 'admin') with a generated password, and print the login."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options) -> None:
        path = Path(settings.LOCAL_DIR) / "admin_password"
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(
                username=username, email="", password=password, role=Role.ADMIN
            )
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w") as fh:
                    fh.write(password)
            except OSError:
                pass  # e.g. a read-only container: the password is still printed once, below.
            self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {password}"))
            return
        saved = path.read_text().strip() if path.exists() else ""
        if saved and user.check_password(saved):
            self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {saved}"))
        else:
            self.stdout.write(
                f"Admin user {username!r} exists (its password was changed; use yours)."
            )
