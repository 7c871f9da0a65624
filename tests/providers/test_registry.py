"""The registry: kind → adapter, imported lazily."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from providers.adapters.base import ProviderConfig
from providers.adapters.registry import PROVIDER_KINDS, get_adapter

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("kind", "class_name"),
    [
        ("openai", "OpenAIAdapter"),
        ("openai_compatible", "OpenAICompatibleAdapter"),
        ("anthropic", "AnthropicAdapter"),
        ("gemini", "GeminiAdapter"),
        ("demo", "DemoAdapter"),
    ],
)
def test_each_kind_gets_its_adapter(kind, class_name):
    adapter = get_adapter(ProviderConfig(kind=kind, base_url="http://127.0.0.1:9/v1", api_key="k"))

    assert type(adapter).__name__ == class_name


def test_an_unknown_kind_is_a_value_error():
    with pytest.raises(ValueError, match="Unknown provider kind 'mistral'"):
        get_adapter(ProviderConfig(kind="mistral"))


def test_an_openai_compatible_provider_without_a_base_url_is_a_value_error():
    with pytest.raises(ValueError, match="base URL"):
        get_adapter(ProviderConfig(kind="openai_compatible"))


def test_the_kinds_describe_what_a_form_must_ask_for():
    assert set(PROVIDER_KINDS) == {"openai", "openai_compatible", "anthropic", "gemini", "demo"}
    assert PROVIDER_KINDS["openai_compatible"].needs_base_url is True
    assert PROVIDER_KINDS["demo"].needs_key is False
    assert PROVIDER_KINDS["anthropic"].needs_key is True


def test_sdks_are_imported_only_when_their_adapter_is_needed():
    # A fresh interpreter: this one has imported every SDK already.
    script = (
        "import sys\n"
        "from providers.adapters.base import ProviderConfig\n"
        "from providers.adapters.registry import get_adapter\n"
        "get_adapter(ProviderConfig(kind='demo'))\n"
        "heavy = [m for m in ('openai', 'anthropic', 'google.genai') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "get_adapter(ProviderConfig(kind='anthropic', api_key='k'))\n"
        "assert 'anthropic' in sys.modules and 'openai' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
