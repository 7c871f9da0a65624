"""JSON API for providers and their catalog (chat and embedding models): admins only.

Same rules as the Providers pages — the same forms validate, the same audit entries are
written, and only admins may call it (anyone else gets 403). API keys are write-only: sent in
`api_key`, stored encrypted, never returned (responses say `has_api_key` and a masked tail).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status

from accounts.models import User
from providers import services as provider_services
from providers.forms import CatalogModelForm, ProviderForm
from providers.models import CatalogModel, Provider
from providers.services import PROVIDER_AUDIT_FIELDS
from routers.api import ERRORS, MAX_ID, NOT_SENT, In

router = Router(tags=["providers"])

_MODEL_FIELDS = list(CatalogModelForm.Meta.fields)


def _admin(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    if not user.is_admin_role:
        raise PermissionDenied("Only admins manage providers and API keys.")
    return user


def _form_errors(form: Any) -> ValidationError:
    return ValidationError(
        {field: [str(m) for m in messages] for field, messages in form.errors.items()}
    )


class ProviderIn(In):
    name: str = Field(max_length=100)
    slug: str = Field(max_length=50)
    kind: Literal["openai", "anthropic", "gemini", "openai_compatible", "demo"]
    base_url: str = Field("", max_length=500)
    api_key: str = Field("", max_length=2000, description="Write-only; never returned")
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    enabled: bool = True


class ProviderPatch(In):
    name: str = Field(NOT_SENT, max_length=100)
    slug: str = Field(NOT_SENT, max_length=50)
    kind: Literal["openai", "anthropic", "gemini", "openai_compatible", "demo"] = Field(NOT_SENT)
    base_url: str = Field(NOT_SENT, max_length=500)
    api_key: str = Field(
        NOT_SENT, max_length=2000, description='Write-only; "" removes the saved key'
    )
    connect_timeout: float = Field(NOT_SENT)
    read_timeout: float = Field(NOT_SENT)
    enabled: bool = Field(NOT_SENT)


class ProviderOut(Schema):
    id: int
    name: str
    slug: str
    kind: str
    base_url: str
    has_api_key: bool
    api_key_masked: str
    connect_timeout: float
    read_timeout: float
    enabled: bool


class CatalogModelIn(In):
    model_id: str = Field(max_length=200)
    display_name: str = Field("", max_length=200)
    kind: Literal["chat", "embedding"] = "chat"
    context_window: int = Field(128_000, ge=1, le=100_000_000)
    input_price_per_m: Decimal = Field(
        Decimal("0"), ge=0, le=1_000_000, description="USD per 1M (input) tokens"
    )
    output_price_per_m: Decimal = Field(Decimal("0"), ge=0, le=1_000_000)
    supports_images: bool = False
    supports_tools: bool = False
    dimensions: int | None = Field(None, ge=1, le=100_000, description="Embedding models")
    enabled: bool = True
    family: str = Field(
        "", max_length=40, description="Lower case: claude, gpt, gemini, llama, mistral…"
    )
    size_class: Literal["", "small", "medium", "large"] = ""


class CatalogModelPatch(In):
    display_name: str = Field(NOT_SENT, max_length=200)
    kind: Literal["chat", "embedding"] = Field(NOT_SENT)
    context_window: int = Field(NOT_SENT, ge=1, le=100_000_000)
    input_price_per_m: Decimal = Field(NOT_SENT, ge=0, le=1_000_000)
    output_price_per_m: Decimal = Field(NOT_SENT, ge=0, le=1_000_000)
    supports_images: bool = Field(NOT_SENT)
    supports_tools: bool = Field(NOT_SENT)
    dimensions: int | None = Field(None, ge=1, le=100_000)
    enabled: bool = Field(NOT_SENT)
    family: str = Field(NOT_SENT, max_length=40)
    size_class: Literal["", "small", "medium", "large"] = Field(NOT_SENT)


class CatalogModelOut(Schema):
    id: int
    ref: str
    model_id: str
    display_name: str
    kind: str
    context_window: int
    input_price_per_m: Decimal
    output_price_per_m: Decimal
    supports_images: bool
    supports_tools: bool
    dimensions: int | None
    enabled: bool
    family: str
    size_class: str


def _provider_out(provider: Provider) -> dict[str, Any]:
    return {
        "id": provider.pk,
        "name": provider.name,
        "slug": provider.slug,
        "kind": provider.kind,
        "base_url": provider.base_url,
        "has_api_key": bool(provider.api_key_encrypted),
        "api_key_masked": provider.api_key_masked if provider.api_key_encrypted else "",
        "connect_timeout": provider.connect_timeout,
        "read_timeout": provider.read_timeout,
        "enabled": provider.enabled,
    }


def _model_out(model: CatalogModel) -> dict[str, Any]:
    return {"id": model.pk, "ref": model.ref, **{f: getattr(model, f) for f in _MODEL_FIELDS}}


def _save_provider(
    request: HttpRequest, provider: Provider | None, data: dict[str, Any]
) -> Provider:
    actor = _admin(request)
    current = {f: getattr(provider, f) for f in PROVIDER_AUDIT_FIELDS} if provider else {}
    fields = {**current, **{k: v for k, v in data.items() if k != "api_key"}}
    form_data: dict[str, Any] = {k: v for k, v in fields.items() if v is not None}
    if not form_data.get("enabled", True):
        form_data.pop("enabled")  # a checkbox: absent means off
    if data.get("api_key") is not None:
        form_data["api_key"] = data["api_key"]
        form_data["clear_api_key"] = data["api_key"] == "" and provider is not None
    form = ProviderForm(form_data, instance=provider)
    if not form.is_valid():
        raise _form_errors(form)
    return provider_services.provider_save(actor=actor, provider=form.save(commit=False))


def _save_model(
    request: HttpRequest, provider: Provider, model: CatalogModel | None, data: dict[str, Any]
) -> CatalogModel:
    actor = _admin(request)
    instance = model or CatalogModel(provider=provider)
    current = {f: getattr(instance, f) for f in _MODEL_FIELDS} if instance.pk else {}
    merged = {**current, **data}
    if not merged.get("display_name"):
        merged["display_name"] = merged.get("model_id", "")
    form_data = {k: v for k, v in merged.items() if v is not None and v is not False}
    form = CatalogModelForm(form_data, instance=instance)
    if not form.is_valid():
        raise _form_errors(form)
    return provider_services.catalog_model_save(actor=actor, model=form.save(commit=False))


@router.get("", response={200: list[ProviderOut], **ERRORS})
def list_providers(request: HttpRequest) -> list[dict[str, Any]]:
    _admin(request)
    return [_provider_out(p) for p in Provider.objects.order_by("name")]


@router.post("", response={201: ProviderOut, **ERRORS})
def create_provider(request: HttpRequest, payload: ProviderIn) -> Status[dict[str, Any]]:
    return Status(201, _provider_out(_save_provider(request, None, payload.dict())))


@router.get("/{provider_id}", response={200: ProviderOut, **ERRORS})
def get_provider(request: HttpRequest, provider_id: int) -> dict[str, Any]:
    _admin(request)
    return _provider_out(get_object_or_404(Provider, pk=min(provider_id, MAX_ID)))


@router.patch("/{provider_id}", response={200: ProviderOut, **ERRORS})
def update_provider(
    request: HttpRequest, provider_id: int, payload: ProviderPatch
) -> dict[str, Any]:
    _admin(request)
    provider = get_object_or_404(Provider, pk=min(provider_id, MAX_ID))
    return _provider_out(_save_provider(request, provider, payload.dict(exclude_unset=True)))


@router.get("/{provider_id}/models", response={200: list[CatalogModelOut], **ERRORS})
def list_models(request: HttpRequest, provider_id: int) -> list[dict[str, Any]]:
    _admin(request)
    provider = get_object_or_404(Provider, pk=min(provider_id, MAX_ID))
    return [_model_out(m) for m in provider.models.order_by("display_name")]


@router.post("/{provider_id}/models", response={201: CatalogModelOut, **ERRORS})
def create_model(
    request: HttpRequest, provider_id: int, payload: CatalogModelIn
) -> Status[dict[str, Any]]:
    _admin(request)
    provider = get_object_or_404(Provider, pk=min(provider_id, MAX_ID))
    return Status(201, _model_out(_save_model(request, provider, None, payload.dict())))


@router.patch("/{provider_id}/models/{model_pk}", response={200: CatalogModelOut, **ERRORS})
def update_model(
    request: HttpRequest, provider_id: int, model_pk: int, payload: CatalogModelPatch
) -> dict[str, Any]:
    _admin(request)
    provider = get_object_or_404(Provider, pk=min(provider_id, MAX_ID))
    model = get_object_or_404(CatalogModel, pk=min(model_pk, MAX_ID), provider=provider)
    return _model_out(_save_model(request, provider, model, payload.dict(exclude_unset=True)))
