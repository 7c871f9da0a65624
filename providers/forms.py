"""Forms for providers and their catalog, shared by the in-app pages and Django admin."""

from __future__ import annotations

import re

from django import forms

from engine.profiles import NAME_PATTERN
from providers.models import CatalogModel, Provider, ProviderKind

FAMILY = re.compile(NAME_PATTERN)


class ProviderForm(forms.ModelForm):
    # Never pre-filled: a saved key is shown masked beside the field and never sent back.
    api_key = forms.CharField(
        required=False,
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Leave empty to keep the saved key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the saved key")

    class Meta:
        model = Provider
        fields = ["name", "slug", "kind", "base_url", "connect_timeout", "read_timeout", "enabled"]
        labels = {
            "base_url": "Base URL",
            "connect_timeout": "Connect timeout (s)",
            "read_timeout": "Read timeout (s)",
        }

    def clean(self):
        data = super().clean()
        kind = data.get("kind")
        if kind == ProviderKind.OPENAI_COMPATIBLE and not data.get("base_url"):
            self.add_error(
                "base_url",
                "An OpenAI-compatible server needs its base URL, e.g. http://localhost:11434/v1",
            )
        for name in ("connect_timeout", "read_timeout"):
            value = data.get(name)
            if value is not None and not (0 < value <= 3600):
                self.add_error(name, "Use a number of seconds between 0 and 3600.")
        return data

    def save(self, commit: bool = True) -> Provider:
        provider = super().save(commit=False)
        if self.cleaned_data.get("clear_api_key"):
            provider.api_key = ""
        elif self.cleaned_data.get("api_key"):
            provider.api_key = self.cleaned_data["api_key"]
        if commit:
            provider.save()
        return provider


class CatalogModelForm(forms.ModelForm):
    class Meta:
        model = CatalogModel
        fields = [
            "model_id",
            "display_name",
            "context_window",
            "input_price_per_m",
            "output_price_per_m",
            "supports_images",
            "supports_tools",
            "enabled",
            "kind",
            "dimensions",
            "family",
            "size_class",
        ]

    def clean_family(self) -> str:
        family: str = (self.cleaned_data.get("family") or "").strip().lower()
        if family and not FAMILY.fullmatch(family):
            raise forms.ValidationError(
                "Use lower-case letters, digits, '.', '-' or '_' (e.g. claude, llama, gpt-4.1)."
            )
        return family

    def clean_model_id(self) -> str:
        # The provider is not a field of this form, so Django's unique check on
        # (provider, model_id) is skipped: without this, a duplicate id is an IntegrityError.
        model_id: str = self.cleaned_data["model_id"]
        if self.instance.provider_id is not None:
            taken = CatalogModel.objects.filter(
                provider_id=self.instance.provider_id, model_id=model_id
            ).exclude(pk=self.instance.pk)
            if taken.exists():
                raise forms.ValidationError("This provider already has a model with this id.")
        return model_id
