from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from accounts.models import User


@admin.register(User)
class RouterwebUserAdmin(UserAdmin):
    fieldsets = (*UserAdmin.fieldsets, ("routerweb", {"fields": ("role",)}))
    list_display = ("username", "email", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff")
