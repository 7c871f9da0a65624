from __future__ import annotations

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from audit.admin_mixins import AuditedModelAdmin
from engine import RuleError
from engine.profiles import SIZE_CLASSES, check_profile
from routers.models import Profile, Router, Rule
from routers.services import profile_changed


class RuleInline(admin.TabularInline):
    model = Rule
    extra = 0
    fields = (
        "position", "name", "enabled", "kind", "match", "target_model", "target_profile",
        "target_tier",
    )  # fmt: skip


@admin.register(Router)
class RouterAdmin(AuditedModelAdmin):
    list_display = ("name", "slug", "owner", "visibility", "primary_model", "version")
    inlines = [RuleInline]


class ProfileForm(forms.ModelForm):
    size_classes = forms.MultipleChoiceField(
        choices=[(s, s) for s in SIZE_CLASSES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Empty: any size.",
    )

    class Meta:
        model = Profile
        fields = [
            "name",
            "description",
            "size_classes",
            "needs_images",
            "needs_tools",
            "min_context",
            "max_price",
        ]
        help_texts = {
            "name": "Rules target it by this name. A built-in name (fast, general, code, "
            "creative) redefines that profile.",
        }

    def clean(self) -> dict:
        data = super().clean() or {}
        try:
            spec = check_profile(Profile(**{k: data.get(k) for k in self.Meta.fields}).spec())
        except RuleError as exc:
            field = exc.field if exc.field in self.fields else None
            self.add_error(field, exc.message)
        else:
            data["name"] = spec.name
            data["size_classes"] = list(spec.size_classes)
        return data


@admin.register(Profile)
class ProfileAdmin(AuditedModelAdmin):
    """Admin-defined profiles. Saving or deleting one bumps the version of every router whose
    rules target it, so routing picks the change up everywhere at once."""

    form = ProfileForm
    list_display = ("name", "description", "size_classes", "min_context", "max_price")

    def save_model(self, request: HttpRequest, obj: Profile, form, change: bool) -> None:
        old = Profile.objects.filter(pk=obj.pk).values_list("name", flat=True).first()
        super().save_model(request, obj, form, change)
        profile_changed(names={obj.name, *([old] if old else [])})

    def delete_model(self, request: HttpRequest, obj: Profile) -> None:
        name = obj.name
        super().delete_model(request, obj)
        profile_changed(names={name})
