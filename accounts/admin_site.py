"""Django admin follows the role: only an active admin reaches it, whatever the flags say."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest


class RouterwebAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and getattr(user, "is_admin_role", False))
