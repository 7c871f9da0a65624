from __future__ import annotations

from django import forms

from chat.models import Workspace
from providers.selectors import catalog_list_enabled
from routers.versions import router_published


class RouterChoiceField(forms.ModelChoiceField):
    """Routers by name, with the slug and owner: two routers may share a name."""

    def label_from_instance(self, obj) -> str:
        return f"{obj.name} — router:{obj.slug}, {obj.owner.username}"


class WorkspaceForm(forms.ModelForm):
    tags = forms.CharField(
        required=False,
        help_text="Comma-separated, e.g. legal, support. Router rules can test them "
        "(workspace tags contains legal).",
    )

    class Meta:
        model = Workspace
        fields = [
            "name", "system_prompt", "mode", "model", "router", "tier", "workspace_type", "tags",
        ]  # fmt: skip
        widgets = {
            "system_prompt": forms.Textarea(attrs={"rows": 3}),
            "mode": forms.RadioSelect,
        }
        field_classes = {"router": RouterChoiceField}
        labels = {
            "mode": "Who answers",
            "model": "Model",
            "router": "Router",
            "workspace_type": "Type",
            "tier": "Tier",
        }
        help_texts = {
            "workspace_type": "What the workspace is for. Router rules can test it "
            "(workspace type = coding) before reading the message.",
            "mode": "Model Router: every message goes through a router, which picks the model "
            "that fits it. One model: every message goes to the same model.",
            "tier": "Optional: one of the router's tiers (e.g. coding). Every message here then "
            "answers with that tier's model, rules aside, unless someone types /tier or "
            "/model. Empty: the router decides.",
        }

    def __init__(self, *args, router_queryset=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = catalog_list_enabled()
        self.fields["model"].required = False
        if router_queryset is not None:
            self.fields["router"].queryset = router_queryset
        self.fields["router"].required = False
        # Not sent (an older page, a script): the workspace keeps its type (general when new).
        self.fields["workspace_type"].required = False
        if self.instance.pk:
            self.initial["tags"] = ", ".join(self.instance.tags)
        elif self.fields["router"].queryset.exists():
            # What this app is for: with a router to use, a new workspace routes by default.
            self.initial["mode"] = "router"

    def clean_workspace_type(self) -> str:
        return self.cleaned_data.get("workspace_type") or self.instance.workspace_type or "general"

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
        tier = (data.get("tier") or "").strip().lower()
        data["tier"] = tier if mode == "router" else ""
        if mode == "router" and router and tier:
            # The tiers traffic uses: the published version's, not the draft's.
            published = router_published(router).tiers or ()
            names = [str(t.get("name")) for t in published if isinstance(t, dict)]
            if tier not in names:
                self.add_error(
                    "tier",
                    f"“{tier}” is not a tier of the router “{router.name}” "
                    f"(its tiers: {', '.join(names) or 'none'}).",
                )
        if mode == "model" and model and router:
            self.add_error(
                "router",
                f"“One model” answers with {model.display_name}, so the router “{router.name}” "
                "would not be used: clear it, or choose “Model Router”.",
            )
        return data
