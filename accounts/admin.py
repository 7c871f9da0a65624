from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import ApiToken, User


@admin.register(User)
class RouterwebUserAdmin(UserAdmin):
    # UserAdmin defines its fieldsets; the stubs type the attribute as optional.
    fieldsets = (*cast(tuple[Any, ...], UserAdmin.fieldsets), ("routerweb", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    # Only the hash is stored; the admin shows the prefix so a token can be recognised.
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("user", "prefix", "token_hash", "created_at", "last_used_at")
