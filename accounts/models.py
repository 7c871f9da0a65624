from __future__ import annotations

from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    MANAGER = "manager", "Manager"
    MEMBER = "member", "Member"


def role_flags(role: str) -> dict[str, bool]:
    """Django's own flags as the role dictates: only admins reach Django admin, with every
    permission. The role is the one source of truth; these follow it wherever it is set."""
    return {"is_staff": role == Role.ADMIN, "is_superuser": role == Role.ADMIN}


class RouterwebUserManager(UserManager["User"]):
    def create_superuser(  # type: ignore[override]
        self, username: str, email: str | None = None, password: str | None = None, **extra: Any
    ) -> User:
        # `manage.py createsuperuser` makes an admin: the role decides, not the flag.
        extra["role"] = Role.ADMIN
        return super().create_superuser(username, email, password, **extra)


class User(AbstractUser):
    """A person using the instance. `role` decides what they may manage; `is_staff` and
    `is_superuser` are kept equal to "role is admin" by the role service (accounts.people)."""

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MEMBER)

    objects: ClassVar[RouterwebUserManager] = RouterwebUserManager()  # type: ignore[assignment]

    @property
    def is_admin_role(self) -> bool:
        # The role alone: a demoted bootstrap superuser is not an admin any more.
        return self.role == Role.ADMIN

    @property
    def is_manager_role(self) -> bool:
        return self.is_admin_role or self.role == Role.MANAGER


class ApiToken(models.Model):
    """A bearer token for the API. Only its SHA-256 is stored; the plaintext is shown once.

    A token acts exactly as its user: the same scoped selectors decide what it reaches.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    # The first characters of the token ("rw_AbCd1"), so a person can tell tokens apart.
    prefix = models.CharField(max_length=8)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
