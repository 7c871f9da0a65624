"""Provider-side operations: turning catalog rows into what the adapters and the failure
policy take, estimating usage, and asking a server which models it serves."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.db import transaction

from accounts.models import User
from audit.services import audit_record, snapshot
from engine.tokens import estimate_message_tokens
from providers.adapters.base import ChatMessage, ChatRequest, ProviderConfig, ProviderError, Usage
from providers.adapters.registry import get_adapter
from providers.failover import Candidate, ChainResult
from providers.models import CatalogModel, Provider


def provider_config_for(model: CatalogModel) -> ProviderConfig:
    provider = model.provider
    return ProviderConfig(
        kind=provider.kind,
        base_url=provider.base_url,
        api_key=provider.api_key,
        connect_timeout=provider.connect_timeout,
        read_timeout=provider.read_timeout,
    )


def candidates_for(models: list[CatalogModel]) -> list[Candidate]:
    """The failure policy's view of a model chain (provider settings, context windows)."""
    return [
        Candidate(
            ref=m.ref,
            model_id=m.model_id,
            config=provider_config_for(m),
            context_window=m.context_window,
        )
        for m in models
    ]


def estimate_usage(messages: tuple[ChatMessage, ...], system: str, answer: str) -> Usage:
    prompt = sum(estimate_message_tokens(m.text, len(m.images)) for m in messages)
    prompt += estimate_message_tokens(system) if system else 0
    return Usage(
        input_tokens=prompt,
        output_tokens=estimate_message_tokens(answer) if answer else 0,
        estimated=True,
    )


def chain_costs(
    catalog: Mapping[str, CatalogModel],
    primary: CatalogModel | None,
    request: ChatRequest,
    result: ChainResult,
) -> tuple[Usage | None, Decimal, Decimal]:
    """(usage, cost, primary cost) of a chain: every attempt that consumed tokens adds up,
    each at its own model's price; the primary's cost is for the answer the user got."""
    billed = result.usage_by_model()
    answered = catalog.get(result.answered_by or "")
    if not billed and answered is not None:
        usage = estimate_usage(request.messages, request.system, result.text)
        billed = [(answered.ref, usage)]
    if not billed:
        return None, Decimal("0"), Decimal("0")
    usage = Usage(
        input_tokens=sum(u.input_tokens for _, u in billed),
        output_tokens=sum(u.output_tokens for _, u in billed),
        estimated=any(u.estimated for _, u in billed),
    )
    cost = sum(
        (catalog[ref].cost(u.input_tokens, u.output_tokens) for ref, u in billed if ref in catalog),
        Decimal("0"),
    )
    last = billed[-1][1]
    primary_cost = (
        primary.cost(last.input_tokens, last.output_tokens) if primary is not None else Decimal("0")
    )
    return usage, cost, primary_cost


class DiscoveryError(Exception):
    pass


def provider_list_remote_models(*, provider: Provider) -> list[str]:
    """Ask an OpenAI-style server which models it serves (`GET /v1/models`)."""
    if provider.kind not in ("openai", "openai_compatible"):
        raise DiscoveryError(
            "Only OpenAI and OpenAI-compatible servers list their models this way."
        )
    adapter = get_adapter(
        ProviderConfig(
            kind=provider.kind,
            base_url=provider.base_url,
            api_key=provider.api_key,
            connect_timeout=provider.connect_timeout,
            read_timeout=min(provider.read_timeout, 30.0),
        )
    )
    try:
        return sorted(async_to_sync(adapter.list_models)())
    except ProviderError as exc:
        raise DiscoveryError(
            f"The server did not list its models ({exc.kind}): {exc.message}"
        ) from exc


# --- writes, each audited with the person who made it ------------------------------------

PROVIDER_AUDIT_FIELDS = [
    "name",
    "slug",
    "kind",
    "base_url",
    "connect_timeout",
    "read_timeout",
    "enabled",
]
CATALOG_AUDIT_FIELDS = [
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


def provider_state(provider: Provider) -> dict[str, Any]:
    data = snapshot(provider, PROVIDER_AUDIT_FIELDS)
    # Only whether a key is set and a digest of it, so the log shows "key changed" but never the key.
    data["api_key"] = (
        hashlib.sha256(provider.api_key_encrypted.encode()).hexdigest()[:12]
        if provider.api_key_encrypted
        else None
    )
    return data


def catalog_model_state(model: CatalogModel) -> dict[str, Any]:
    return snapshot(model, CATALOG_AUDIT_FIELDS)


@transaction.atomic
def provider_save(*, actor: User, provider: Provider) -> Provider:
    """Store a provider built by a form (create or update) and audit the change."""
    stored = Provider.objects.filter(pk=provider.pk).first() if provider.pk else None
    before = provider_state(stored) if stored else None
    provider.save()
    audit_record(
        actor=actor,
        action="provider.update" if before else "provider.create",
        obj=provider,
        before=before,
        after=provider_state(provider),
    )
    return provider


@transaction.atomic
def catalog_model_save(*, actor: User, model: CatalogModel) -> CatalogModel:
    """Store a catalog model built by a form (create or update) and audit the change."""
    stored = CatalogModel.objects.filter(pk=model.pk).first() if model.pk else None
    before = catalog_model_state(stored) if stored else None
    model.save()
    audit_record(
        actor=actor,
        action="catalog_model.update" if before else "catalog_model.create",
        obj=model,
        before=before,
        after=catalog_model_state(model),
    )
    return model


@transaction.atomic
def catalog_model_add(
    *, actor: User, provider: Provider, model_id: str
) -> tuple[CatalogModel, bool]:
    """Add a model the provider's server listed (its id as display name); (model, created)."""
    model, created = CatalogModel.objects.get_or_create(
        provider=provider, model_id=model_id, defaults={"display_name": model_id}
    )
    if created:
        audit_record(
            actor=actor,
            action="catalog_model.create",
            obj=model,
            after=catalog_model_state(model),
        )
    return model, created
