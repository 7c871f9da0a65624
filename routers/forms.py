"""Forms of the rule builder. They parse what the browser sent; `routers.services` decides
what is valid (and says so per field), so the same rules hold for the API and imports.

Condition rows are not a Django formset: rows are added, removed and re-shaped in place by
htmx, so each row carries its own random key (`cond=<key>`, `cond-<key>-property`, …) and
the rows' order is the order of the `cond` values in the request.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from zoneinfo import available_timezones

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import QueryDict

from engine import OPERATORS, PROPERTIES
from engine.limits import MAX_COOLDOWN_MINUTES, MAX_COUNT
from engine.profiles import SIZE_CLASSES
from engine.properties import LANGUAGE_CODES, WEEKDAYS, WORKSPACE_TYPES
from engine.tiers import TIER_PREFIX
from providers.failover import OVERRIDE_FIELDS
from providers.local_embeddings import LOCAL_MODELS
from providers.selectors import catalog_list_embedding, catalog_list_enabled
from routers.compiling import profiles_defined
from routers.models import MatchMode, Profile, RuleKind, Visibility
from routers.profiles import profile_validate

DEFAULT_PROPERTY = "keywords"
WEEKDAY_LABELS = dict(zip(WEEKDAYS, ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"), strict=True))
# At most 15 digits: a longer number is over every limit anyway, and int() of a very long
# digit string raises instead of converting.
_WHOLE_NUMBER = re.compile(r"\s*\d{1,15}\s*")


def model_choices(*, blank: str | None = None) -> list[Any]:
    """Enabled catalog models grouped by provider, valued by ref ("provider/model-id")."""
    groups: dict[str, list[tuple[str, str]]] = {}
    for model in catalog_list_enabled().order_by("provider__name", "display_name"):
        groups.setdefault(model.provider.name, []).append(
            (model.ref, f"{model.display_name} · {model.ref}")
        )
    choices: list[Any] = [("", blank)] if blank is not None else []
    choices.extend((provider, models) for provider, models in groups.items())
    return choices


PROFILE_PREFIX = "profile:"


def target_choices() -> list[Any]:
    """ "Send to" choices: the catalog's models by provider, then the profiles (valued
    "profile:<name>"), whose best models answer."""
    profiles = profiles_defined()
    return [
        *model_choices(blank="Choose a model or a profile…"),
        (
            "Profiles (the catalog's best models for…)",
            [
                (f"{PROFILE_PREFIX}{name}", f"Profile “{name}” · {spec.requirements()}")
                for name, spec in sorted(profiles.items())
            ],
        ),
    ]


def embedding_choices(current: str | None = None) -> list[tuple[str, str]]:
    """Local models first, then the catalog's enabled embedding models (and the router's
    current choice, so a disabled one is shown rather than silently replaced)."""
    choices = [(f"local/{name}", f"local/{name} (built in)") for name in LOCAL_MODELS]
    choices += [(m.ref, f"{m.display_name} ({m.ref})") for m in catalog_list_embedding()]
    if current and current not in {value for value, _ in choices}:
        choices.append((current, f"{current} (not available)"))
    return choices


def split_examples(raw: str) -> list[str]:
    """One example per line; blank lines dropped (the service drops exact duplicates)."""
    return [line.strip() for line in raw.splitlines() if line.strip()]


def split_refs(raw: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,\s]+", raw or "") if part.strip()]


def time_zone_names() -> list[str]:
    return sorted(available_timezones())


_CONDITION = re.compile(r"^conditions\[(\d+)\]")


class ServiceErrors(forms.Form):
    """A form whose checks are the service's (the engine's words, `engine.validation`): a
    problem located `fallbacks[1]` shows at the field `fallbacks`, one located
    `conditions[0].value` next to that condition's row."""

    rows: list[ConditionRow]
    conditions_error: str
    # Problems of a field shown at another (the rule form's one "Send to" holds both targets).
    field_aliases: dict[str, str] = {}

    def add_service_errors(self, errors: dict[str, list[str]]) -> None:
        for key, messages in errors.items():
            field = re.split(r"[.\[]", key, maxsplit=1)[0]
            field = self.field_aliases.get(field, field)
            condition = _CONDITION.match(key)
            rows = getattr(self, "rows", [])
            if condition and int(condition[1]) < len(rows):
                row = rows[int(condition[1])]
                row.error = " ".join([row.error, *messages]).strip()
            elif field == "conditions" and hasattr(self, "conditions_error"):
                self.conditions_error = " ".join(messages)
            elif field in self.fields:
                for message in messages:
                    self.add_error(field, message)
            else:
                for message in messages:
                    self.add_error(None, message)
        if any(row.error for row in getattr(self, "rows", [])):
            self.add_error(None, "Fix the highlighted conditions.")


class RouterForm(ServiceErrors):
    # Required-ness, lengths and ranges are the service's to check (the same words as the API
    # and an import); the widgets keep the browser's hints.
    name = forms.CharField(required=False, widget=forms.TextInput(attrs={"maxlength": 100}))
    slug = forms.CharField(
        max_length=60,
        required=False,
        help_text="Used by the API as router:<slug>. Leave empty to derive it from the name.",
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)
    primary_model = forms.ChoiceField(required=False, help_text="Answers when no rule matches.")
    classifier_model = forms.ChoiceField(
        required=False, help_text="Reads the message and decides the LLM-classified rules."
    )
    fallbacks = forms.CharField(
        required=False,
        help_text="Model refs tried in order when the chosen model fails, comma-separated, e.g. demo/large.",
    )
    sticky = forms.BooleanField(
        required=False,
        label="Sticky: keep a rule's model for the conversation during the cool-down",
    )
    cooldown_minutes = forms.IntegerField(
        initial=30,
        label="Cool-down (minutes)",
        widget=forms.NumberInput(attrs={"min": 0, "max": MAX_COOLDOWN_MINUTES}),
    )
    time_zone = forms.CharField(
        max_length=64,
        initial="UTC",
        help_text="IANA name (e.g. Europe/Paris); time-of-day and day-of-week conditions use it.",
        widget=forms.TextInput(attrs={"list": "time-zones", "autocomplete": "off"}),
    )

    preferred_families = forms.CharField(
        required=False,
        label="Preferred model families",
        help_text="For rules that target a profile: families ranked first, in order, "
        "comma-separated (e.g. claude, llama, mistral); then price decides.",
    )
    embedding_model = forms.ChoiceField(
        required=False,
        initial="local/potion-base-8M",
        label="Embedding model",
        help_text="Embeds messages and examples for semantic rules: a built-in local model (no "
        "key) or an embedding model of the catalog.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A new router starts in the instance's time zone (TIME_ZONE), not always UTC.
        self.fields["time_zone"].initial = settings.TIME_ZONE
        cast(forms.ChoiceField, self.fields["primary_model"]).choices = model_choices(
            blank="Choose a model…"
        )
        cast(forms.ChoiceField, self.fields["classifier_model"]).choices = model_choices(
            blank="Same as the primary model"
        )
        current = (self.data.get("embedding_model") if self.is_bound else None) or (
            self.initial.get("embedding_model")
        )
        cast(forms.ChoiceField, self.fields["embedding_model"]).choices = embedding_choices(current)

    @classmethod
    def initial_for(cls, router: Any) -> dict[str, Any]:
        return {
            "name": router.name,
            "slug": router.slug,
            "description": router.description,
            "visibility": router.visibility,
            "primary_model": router.primary_model.ref,
            "classifier_model": router.classifier_model.ref if router.classifier_model_id else "",
            "fallbacks": ", ".join(router.fallbacks or []),
            "sticky": router.sticky,
            "cooldown_minutes": router.cooldown_minutes,
            "time_zone": router.time_zone,
            "embedding_model": router.embedding_model,
            "preferred_families": ", ".join(router.preferred_families or []),
        }

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "slug": data["slug"],
            "description": data["description"],
            "visibility": data["visibility"],
            "primary_model": data["primary_model"],
            "classifier_model": data["classifier_model"] or None,
            "fallbacks": split_refs(data["fallbacks"]),
            "sticky": data["sticky"],
            "cooldown_minutes": data["cooldown_minutes"],
            "time_zone": data["time_zone"],
            "embedding_model": data.get("embedding_model") or "",
            "preferred_families": split_refs(data.get("preferred_families") or ""),
        }


# --- condition rows ------------------------------------------------------------------------


@dataclass
class ConditionRow:
    """One condition as the builder shows it: raw text inputs, so a bad value is kept."""

    key: str
    prop: str = DEFAULT_PROPERTY
    operator: str = ""
    text: str = ""
    low: str = ""
    high: str = ""
    days: list[str] = field(default_factory=list)
    error: str = ""

    def __post_init__(self) -> None:
        if self.prop not in PROPERTIES:
            self.prop = DEFAULT_PROPERTY
        # A property change can leave an operator that does not apply: take the first one.
        if self.operator not in self.info.operators:
            self.operator = self.info.operators[0]

    @property
    def info(self) -> Any:
        return PROPERTIES[self.prop]

    @property
    def arity(self) -> str:
        return OPERATORS[self.operator].arity

    @property
    def widget(self) -> str:
        """Which value input suits the property and operator."""
        kind, arity = self.info.value_type, self.arity
        if arity == "none":
            return "none"
        if kind == "weekday":
            return "days"
        if arity == "list":
            return "list"
        if kind == "integer":
            return "number_pair" if arity == "pair" else "number"
        if kind == "time":
            return "time_pair" if arity == "pair" else "time"
        if kind == "language":
            return "language"
        if kind == "regex":
            return "regex"
        return "text"

    @property
    def property_choices(self) -> list[tuple[str, str]]:
        return [(name, info.label) for name, info in PROPERTIES.items()]

    @property
    def operator_choices(self) -> list[tuple[str, str]]:
        return [(name, OPERATORS[name].label) for name in self.info.operators]

    @property
    def day_choices(self) -> list[tuple[str, str, bool]]:
        return [(day, WEEKDAY_LABELS[day], day in self.days) for day in WEEKDAYS]

    @property
    def language_choices(self) -> list[str]:
        return list(LANGUAGE_CODES)

    @property
    def placeholder(self) -> str:
        return {
            "keyword": "python, stack trace, bug",
            "file_type": "pdf, png, image/*",
            "language": "en, de, fr",
            "text": "a, b, c" if self.arity == "list" else "",
            "regex": r"\b[A-Z]{2,5}-\d+\b",
            "workspace_type": "coding, writing" if self.arity == "list" else "coding",
            "category": "code, math" if self.arity == "list" else "code",
            "complexity": "simple, medium or hard",
        }.get(self.info.value_type, "")

    def value(self) -> Any:
        """The condition's value for the engine, from what was typed."""
        widget = self.widget
        if widget == "none":
            return None
        if widget == "days":
            return list(self.days)
        if widget == "list":
            return [part.strip() for part in self.text.split(",") if part.strip()]
        if widget == "regex":
            return self.text  # spaces are part of a pattern
        if widget == "number":
            return _number(self.text)
        if widget == "number_pair":
            return [_number(self.low), _number(self.high)]
        if widget == "time_pair":
            return [self.low.strip(), self.high.strip()]
        return self.text.strip()

    def condition(self) -> dict[str, Any]:
        return {"property": self.prop, "operator": self.operator, "value": self.value()}

    @classmethod
    def new(cls) -> ConditionRow:
        return cls(key=new_row_key())

    @classmethod
    def from_condition(cls, condition: dict[str, Any]) -> ConditionRow:
        row = cls(
            key=new_row_key(),
            prop=condition.get("property", ""),
            operator=condition.get("operator", ""),
        )
        value = condition.get("value")
        if row.widget == "days":
            row.days = [str(v) for v in value or []]
        elif isinstance(value, (list, tuple)) and row.arity == "pair" and len(value) == 2:
            row.low, row.high = str(value[0]), str(value[1])
        elif isinstance(value, (list, tuple)):
            row.text = ", ".join(str(v) for v in value)
        elif value is not None:
            row.text = str(value)
        return row

    @classmethod
    def from_data(cls, data: QueryDict, key: str) -> ConditionRow:
        prefix = f"cond-{key}-"
        return cls(
            key=key,
            prop=data.get(prefix + "property", DEFAULT_PROPERTY),
            operator=data.get(prefix + "operator", ""),
            text=data.get(prefix + "text", ""),
            low=data.get(prefix + "low", ""),
            high=data.get(prefix + "high", ""),
            days=data.getlist(prefix + "days"),
        )


def _target_kwargs(value: str) -> dict[str, Any]:
    """The service's target arguments for a "Send to" choice: a model, "tier:<name>" or
    "profile:<name>"."""
    if value.startswith(PROFILE_PREFIX):
        name = value[len(PROFILE_PREFIX) :]
        return {"target_model": None, "target_profile": name, "target_tier": ""}
    if value.startswith(TIER_PREFIX):
        name = value[len(TIER_PREFIX) :]
        return {"target_model": None, "target_profile": "", "target_tier": name}
    return {"target_model": value, "target_profile": "", "target_tier": ""}


def _number(text: str) -> Any:
    # Not a whole number: pass the text on so the engine's message ("enter a whole number")
    # is the one shown, and the row keeps what was typed.
    return int(text) if _WHOLE_NUMBER.fullmatch(text or "") else (text or None)


def new_row_key() -> str:
    return secrets.token_hex(4)


_ROW_KEY = re.compile(r"^[A-Za-z0-9_]{1,16}$")


def rows_from_data(data: QueryDict) -> list[ConditionRow]:
    keys = [k for k in data.getlist("cond") if _ROW_KEY.match(k)]
    return [ConditionRow.from_data(data, key) for key in dict.fromkeys(keys)]


@dataclass
class ExampleRow:
    """One example of a semantic rule in the builder: its own input and remove button
    (`ex=<key>`, `ex-<key>`), and the flags a duplicate check gave it."""

    key: str
    text: str = ""
    flags: list[str] = field(default_factory=list)

    @classmethod
    def new(cls, text: str = "") -> ExampleRow:
        return cls(key=new_row_key(), text=text)


def example_rows_from_data(data: QueryDict) -> list[ExampleRow]:
    """The example rows posted by the rule form, in order (blank ones kept: still being typed)."""
    keys = [k for k in data.getlist("ex") if _ROW_KEY.match(k)]
    return [ExampleRow(key, data.get(f"ex-{key}", "")) for key in dict.fromkeys(keys)]


def examples_from_data(data: QueryDict) -> list[str]:
    """A rule form's examples: its example rows, then the lines pasted in the "paste many"
    box (one per line) — so a form sent before the pasted lines became rows loses nothing."""
    rows = [row.text.strip() for row in example_rows_from_data(data) if row.text.strip()]
    return rows + split_examples(data.get("examples", ""))


class RuleForm(ServiceErrors):
    # Checked by the service with the engine's words (`engine.rule_problems`), as the JSON API
    # and an import are; the widgets keep the browser's hints.
    field_aliases = {"target_profile": "target_model"}  # noqa: RUF012 - read only
    name = forms.CharField(
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. Code questions", "maxlength": 100}),
    )
    kind = forms.ChoiceField(
        choices=RuleKind.choices, initial=RuleKind.CALCULATED, widget=forms.RadioSelect
    )
    match = forms.ChoiceField(choices=MatchMode.choices, initial=MatchMode.ALL, required=False)
    description = forms.CharField(
        required=False,
        widget=forms.Textarea(
            attrs={
                "rows": 2,
                "placeholder": "e.g. Questions about contracts, law, regulation or compliance.",
            }
        ),
        help_text="In plain English: when should this rule answer? The classifier model reads it.",
    )
    # The "paste many" box: one example per line, turned into example rows in place.
    examples = forms.CharField(
        required=False,
        label="Example messages",
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "placeholder": "One example per line, e.g.\nMy invoice is wrong\nI was charged twice",
            }
        ),
        help_text="2–200 examples. A message close enough in meaning to its nearest examples "
        "matches.",
    )
    threshold = forms.FloatField(
        initial=0.7,
        required=False,
        label="Threshold",
        help_text="Cosine similarity (0–1) the message's nearest examples must reach (the mean "
        "of its 3 nearest).",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": 0, "max": 1}),
    )
    margin = forms.FloatField(
        required=False,
        label="Margin (optional)",
        help_text="Win only when ahead of the runner-up semantic rule by this much.",
        widget=forms.NumberInput(attrs={"step": "0.01", "min": 0, "max": 1}),
    )
    target_model = forms.ChoiceField(
        required=False,
        label="Send to",
        help_text="A model, or a profile: the catalog's models that meet it, ranked by the "
        "router's preferred families and price, the next one the fallback.",
    )
    fallbacks = forms.CharField(
        required=False,
        label="Rule fallbacks",
        help_text="Optional model refs tried first if the target fails, comma-separated.",
    )

    def __init__(
        self,
        *args: Any,
        rows: list[ConditionRow] | None = None,
        tiers: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = target_choices()
        if tiers:
            # The router's tiers come first: swapping the model behind one is one edit.
            choices[0] = ("", "Choose a model, a tier or a profile…")
            choices.insert(
                1,
                (
                    "Tiers of this router",
                    [
                        (
                            f"{TIER_PREFIX}{t.get('name')}",
                            f"tier {t.get('name')} · {t.get('model') or 'unset'}",
                        )
                        for t in tiers
                        if isinstance(t, dict)
                    ],
                ),
            )
        cast(forms.ChoiceField, self.fields["target_model"]).choices = choices
        self.rows: list[ConditionRow] = rows if rows is not None else []
        self.conditions_error = ""
        # Example rows: as posted (pasted lines join them, so a re-shown form keeps them as
        # rows), else the rule's, else two empty ones to start with.
        if self.is_bound:
            posted = example_rows_from_data(cast(QueryDict, self.data))
            pasted = [
                ExampleRow.new(line) for line in split_examples(self.data.get("examples", ""))
            ]
            self.example_rows = posted + pasted
        else:
            initial = self.initial.get("examples") or ""
            self.example_rows = [ExampleRow.new(line) for line in split_examples(initial)]
        if len(self.example_rows) < 2:
            self.example_rows += [ExampleRow.new() for _ in range(2 - len(self.example_rows))]

    @classmethod
    def initial_for(cls, rule: Any) -> dict[str, Any]:
        return {
            "name": rule.name,
            "kind": rule.kind,
            "match": rule.match,
            "description": rule.description,
            "target_model": (
                f"{TIER_PREFIX}{rule.target_tier}"
                if rule.target_tier
                else f"{PROFILE_PREFIX}{rule.target_profile}"
                if rule.target_profile
                else rule.target_model.ref
                if rule.target_model is not None
                else ""
            ),
            "fallbacks": ", ".join(rule.fallbacks or []),
            "examples": "\n".join(rule.examples or []),
            "threshold": rule.threshold,
            "margin": rule.margin,
        }

    @property
    def kind_value(self) -> str:
        return (
            self.data.get("kind") if self.is_bound else self.initial.get("kind")
        ) or RuleKind.CALCULATED

    def service_kwargs(self) -> dict[str, Any]:
        data = self.cleaned_data
        calculated = data["kind"] == RuleKind.CALCULATED
        # The form shows the conditions or the description, never both: only the visible one is kept.
        return {
            "name": data["name"],
            "kind": data["kind"],
            "match": data.get("match") or MatchMode.ALL,
            "conditions": [row.condition() for row in self.rows] if calculated else [],
            "description": data["description"] if data["kind"] == RuleKind.LLM else "",
            **_target_kwargs(data["target_model"]),
            "fallbacks": split_refs(data["fallbacks"]),
            **(
                {
                    "examples": [r.text.strip() for r in self.example_rows if r.text.strip()],
                    "threshold": 0.7 if data.get("threshold") is None else data["threshold"],
                    "margin": data.get("margin"),
                }
                if data["kind"] == RuleKind.SEMANTIC
                else {}
            ),
        }


def tier_rows(router: Any) -> list[dict[str, str]]:
    """The router's tiers as rows for the tier table (strings, in order)."""
    return [
        {
            "name": str(t.get("name", "")),
            "model": str(t.get("model") or ""),
            "fallback": str(t.get("fallback") or ""),
            "description": str(t.get("description") or ""),
        }
        for t in router.tiers or ()
        if isinstance(t, dict)
    ]


def tiers_from_post(data: QueryDict) -> list[dict[str, str]]:
    """The tier table's rows as posted: parallel lists `tier_was`, `tier_name`, `tier_model`,
    `tier_fallback`, `tier_description`. A row whose name is cleared is removed; the blank
    row at the end adds a tier when given a name."""
    lists = {
        key: data.getlist(f"tier_{key}")
        for key in ("was", "name", "model", "fallback", "description")
    }
    count = max((len(v) for v in lists.values()), default=0)
    rows = []
    for i in range(count):
        row = {key: (values[i] if i < len(values) else "").strip() for key, values in lists.items()}
        if not row["name"]:
            continue
        rows.append(row)
    return rows


def split_categories(raw: str) -> list[str]:
    return [part.strip().lower() for part in re.split(r"[,\n]", raw or "") if part.strip()]


class TestPanelForm(forms.Form):
    message = forms.CharField(
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "Type a message to route…"}),
    )
    earlier = forms.CharField(
        required=False,
        max_length=100_000,
        label="Earlier turns (optional)",
        help_text="One message per paragraph (separate them with a blank line), oldest first; "
        "start one with “assistant:” for an answer, otherwise it is the user's.",
        widget=forms.Textarea(
            attrs={
                "rows": 3,
                "placeholder": "user: my contract has a problem\n\nassistant: tell me more",
            }
        ),
    )
    has_image = forms.BooleanField(required=False, label="with an image")
    conversation_tokens = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_COUNT, label="Conversation (tokens)",
        widget=forms.NumberInput(attrs={"placeholder": "computed"}),
    )  # fmt: skip
    turns = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_COUNT,
        label="Turns",
        widget=forms.NumberInput(attrs={"placeholder": "1"}),
    )
    time_of_day = forms.TimeField(
        required=False, label="Time of day", input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )  # fmt: skip
    # As if the user had typed `/tier NAME` (the page lists the router's tiers).
    tier = forms.CharField(required=False, max_length=32, label="Tier")
    version = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, label="Test on", choices=[("", "Draft")]
    )
    workspace_type = forms.ChoiceField(
        required=False,
        label="Workspace type",
        choices=[("", "—"), *((name, name) for name in WORKSPACE_TYPES)],
    )
    workspace_tags = forms.CharField(
        required=False,
        max_length=1_000,
        label="Workspace tags",
        widget=forms.TextInput(attrs={"placeholder": "legal, eu"}),
    )

    def __init__(self, *args: Any, versions: Sequence[int] = (), live: int | None = None,
                 **kwargs: Any) -> None:  # fmt: skip
        super().__init__(*args, **kwargs)
        self.fields["version"].choices = [  # type: ignore[attr-defined]
            ("", "the draft"),
            *((n, f"v{n}{' (published)' if n == live else ''}") for n in versions),
        ]


def parse_earlier_turns(text: str) -> list[tuple[str, str]]:
    """(role, text) pairs from the test panel's "earlier turns": paragraphs, oldest first,
    "assistant:" / "user:" prefixes (any case) say who wrote one; the default is the user."""
    turns: list[tuple[str, str]] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n")):
        block = block.strip()
        if not block:
            continue
        role = "user"
        head, sep, rest = block.partition(":")
        if sep and head.strip().lower() in ("user", "assistant"):
            role, block = head.strip().lower(), rest.strip()
        if block:
            turns.append((role, block))
    return turns


class ImportForm(forms.Form):
    file = forms.FileField(required=False, label="Router file (.router.json)")
    json = forms.CharField(
        required=False,
        label="…or paste its JSON",
        widget=forms.Textarea(
            attrs={"rows": 5, "placeholder": '{"format": "routerweb.router", "version": 1, …}'}
        ),
    )
    slug = forms.CharField(
        max_length=60,
        required=False,
        help_text="Optional. Without it the file's slug is used, with a suffix (-2, -3…) if it is taken.",
    )

    MAX_BYTES = 1_000_000

    def clean(self) -> dict[str, Any]:
        # Form.clean returns cleaned_data (the stubs allow an override's None).
        data = cast(dict[str, Any], super().clean())
        upload = data.get("file")
        if upload:
            if upload.size > self.MAX_BYTES:
                raise forms.ValidationError(
                    "The file is larger than 1 MB; a router file is a few KB."
                )
            try:
                data["text"] = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                raise forms.ValidationError(
                    "The file is not UTF-8 text; choose a .router.json file."
                ) from None
        else:
            data["text"] = data.get("json") or ""
        if not data["text"].strip():
            raise forms.ValidationError("Choose a file or paste the router's JSON.")
        return data


class FailoverPolicyForm(forms.Form):
    """A router's overrides of the failure policy; an empty field keeps the site's default."""

    def __init__(self, *args: Any, defaults: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (label, kind, low, high) in OVERRIDE_FIELDS.items():
            default = getattr(defaults, name)
            field: forms.Field
            if kind is bool:
                field = forms.TypedChoiceField(
                    label=label,
                    required=False,
                    choices=[
                        ("", f"default ({'yes' if default else 'no'})"),
                        ("yes", "yes"),
                        ("no", "no"),
                    ],
                    coerce=lambda v: v == "yes",
                    empty_value=None,
                )
            elif kind is int:
                field = forms.IntegerField(
                    label=label, required=False, min_value=int(low), max_value=int(high)
                )
            else:
                field = forms.FloatField(label=label, required=False, min_value=low, max_value=high)
            if kind is not bool:
                field.widget.attrs["placeholder"] = f"default: {default:g}"
            self.fields[name] = field

    @classmethod
    def initial_for(cls, router: Any) -> dict[str, Any]:
        return {
            k: ("yes" if v else "no") if isinstance(v, bool) else v
            for k, v in (router.failover_policy or {}).items()
        }

    def overrides(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if v is not None}


class TemplateForm(forms.Form):
    """Create a router from a template: the rest comes from the template and the catalog."""

    name = forms.CharField(max_length=100, required=False, help_text="Empty: the template's title.")
    slug = forms.CharField(
        max_length=60,
        required=False,
        help_text="Used by the API as router:<slug>. Empty: the template's name (with a number "
        "when taken).",
    )
    visibility = forms.ChoiceField(choices=Visibility.choices, initial=Visibility.PRIVATE)


class ProfileForm(forms.ModelForm):
    """An admin's profile (the Profiles page and Django admin). `routers.profiles` validates
    it with the engine's words; each error is shown at its field."""

    size_classes = forms.MultipleChoiceField(
        choices=[(s, s) for s in SIZE_CLASSES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Empty: any size.",
    )

    class Meta:
        model = Profile
        fields = [  # noqa: RUF012 - Django reads it
            "name",
            "description",
            "size_classes",
            "needs_images",
            "needs_tools",
            "min_context",
            "max_price",
        ]
        labels = {  # noqa: RUF012 - Django reads it
            "needs_images": "Must accept images",
            "needs_tools": "Must call tools",
            "min_context": "Minimum context window (tokens)",
            "max_price": "Maximum price (USD per 1M in + 1M out)",
        }
        help_texts = {  # noqa: RUF012 - Django reads it
            "name": "Rules target it by this name: lower-case letters, digits, '.', '-', '_'. "
            "A built-in name (fast, general, code, creative) redefines that profile.",
            "max_price": "Empty: any price.",
        }

    def validate_unique(self) -> None:
        """The name's uniqueness is checked by `profile_validate`, in its own words."""

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        candidate = Profile(pk=self.instance.pk, **{k: data.get(k) for k in self.Meta.fields})
        candidate.description = candidate.description or ""
        candidate.size_classes = list(candidate.size_classes or [])
        try:
            profile_validate(candidate)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                for message in messages:
                    self.add_error(name if name in self.fields else None, message)
        else:
            data["name"] = candidate.name
            data["size_classes"] = candidate.size_classes
        return data
