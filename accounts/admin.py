from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from accounts import people
from accounts.models import ApiToken, User, role_flags


@admin.register(User)
class RouterwebUserAdmin(UserAdmin):
    # UserAdmin defines its fieldsets; the stubs type the attribute as optional.
    fieldsets = (*cast(tuple[Any, ...], UserAdmin.fieldsets), ("routerweb", {"fields": ("role",)}))
    add_fieldsets = (
        *cast(tuple[Any, ...], UserAdmin.add_fieldsets),
        ("routerweb", {"fields": ("role",)}),
    )
    list_display = ("username", "email", "role", "is_active", "is_staff", "last_login")
    list_filter = ("role", "is_active", "is_staff")
    # Django admin access follows the role; deactivating goes through the People service so
    # sessions end and tokens are revoked.
    readonly_fields = ("is_staff", "is_superuser")

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> type[forms.ModelForm[Any]]:
        form = super().get_form(request, obj, change=change, **kwargs)
        actor = cast(User, request.user)

        class RoleCheckedForm(form):  # type: ignore[valid-type,misc]
            def clean(self) -> dict[str, Any]:
                cleaned = super().clean()
                if obj is not None:
                    try:
                        people.user_change_check(
                            actor=actor,
                            user=obj,
                            role=cleaned.get("role", obj.role),
                            is_active=cleaned.get("is_active", obj.is_active),
                        )
                    except ValidationError as exc:
                        raise forms.ValidationError(exc.messages) from exc
                return cleaned

        return RoleCheckedForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        actor = cast(User, request.user)
        if not change:
            for flag, value in role_flags(obj.role).items():
                setattr(obj, flag, value)
            super().save_model(request, obj, form, change)
            people.audit_user_created(actor=actor, user=obj)
            return
        stored = User.objects.get(pk=obj.pk)
        role, is_active = obj.role, obj.is_active
        # The other fields save here; role and active state change through the services,
        # with their checks and audit entries.
        obj.role, obj.is_active = stored.role, stored.is_active
        super().save_model(request, obj, form, change)
        if role != stored.role:
            people.user_set_role(actor=actor, user=obj, role=role)
        if is_active != stored.is_active:
            if is_active:
                people.user_reactivate(actor=actor, user=obj)
            else:
                people.user_deactivate(actor=actor, user=obj)
        obj.refresh_from_db()


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    # Only the hash is stored; the admin shows the prefix so a token can be recognised.
    list_display = ("name", "user", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    readonly_fields = ("user", "prefix", "token_hash", "created_at", "last_used_at")
