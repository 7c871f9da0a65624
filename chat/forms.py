from __future__ import annotations

from django import forms

from chat.models import CatalogModel, Provider, ProviderKind, Workspace
from chat.selectors import catalog_list_enabled


class RouterChoiceField(forms.ModelChoiceField):
    """Routers by name, with the slug and owner: two routers may share a name."""

    def label_from_instance(self, obj) -> str:
        return f"{obj.name} — router:{obj.slug}, {obj.owner.username}"


class WorkspaceForm(forms.ModelForm):
    tags = forms.CharField(required=False, help_text="Comma-separated, e.g. legal, support")

    class Meta:
        model = Workspace
        fields = ["name", "system_prompt", "mode", "model", "router", "tags"]
        widgets = {
            "system_prompt": forms.Textarea(attrs={"rows": 3}),
            "mode": forms.RadioSelect,
        }
        field_classes = {"router": RouterChoiceField}
        labels = {"mode": "Who answers", "model": "Model", "router": "Router"}
        help_texts = {
            "mode": "Model Router: every message goes through a router, which picks the model "
            "that fits it. One model: every message goes to the same model.",
        }

    def __init__(self, *args, router_queryset=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = catalog_list_enabled()
        self.fields["model"].required = False
        if router_queryset is not None:
            self.fields["router"].queryset = router_queryset
        self.fields["router"].required = False
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)
        elif self.fields["router"].queryset.exists():
            # What this app is for: with a router to use, a new workspace routes by default.
            self.initial["mode"] = "router"

    def clean_tags(self) -> list[str]:
        raw = self.cleaned_data.get("tags") or ""
        return [t.strip().lower() for t in raw.split(",") if t.strip()]

    def clean(self):
        data = super().clean()
        mode, model, router = data.get("mode"), data.get("model"), data.get("router")
        if mode == "router" and not router:
            self.add_error("router", "Pick the router that decides which model answers.")
        if mode == "model" and not model:
            self.add_error("model", "Pick the model that answers in this workspace.")
        # Both picked (possible without JavaScript, which hides the other list): say which one
        # is used instead of dropping the other without a word.
        if mode == "router" and router and model:
            self.add_error(
                "model",
                f"“Model Router” answers through the router “{router.name}”, so the model "
                f"{model.display_name} would not be used: clear it, or choose “One model”.",
            )
        if mode == "model" and model and router:
            self.add_error(
                "router",
                f"“One model” answers with {model.display_name}, so the router “{router.name}” "
                "would not be used: clear it, or choose “Model Router”.",
            )
        return data


class ProviderForm(forms.ModelForm):
    # Never pre-filled: a saved key is shown masked beside the field and never sent back.
    api_key = forms.CharField(
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Leave empty to keep the saved key.",
    )
    clear_api_key = forms.BooleanField(required=False, label="Remove the saved key")

    class Meta:
        model = Provider
        fields = ["name", "slug", "kind", "base_url", "connect_timeout", "read_timeout", "enabled"]

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
        ]
