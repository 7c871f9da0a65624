"""The local model2vec model: the real loading code, on a tiny model built here."""

from __future__ import annotations

from pathlib import Path

import pytest

from providers.embeddings import EmbeddingFailed, EmbeddingTarget, aembed
from providers.local_embeddings import LocalModels, LocalModelUnavailable, encode
from tests.tiny_model2vec import build_tiny_model


def test_it_loads_a_model_from_embedding_model_path(tmp_path, settings):
    settings.EMBEDDING_MODEL_PATH = str(build_tiny_model(tmp_path / "tiny"))
    models = LocalModels(fetch=_no_fetch)

    vectors = encode(models.get("potion-base-8M"), ["refund order", "invoice", "python bug"])

    sims = vectors @ vectors.T
    assert sims[0, 1] > 0.8 > sims[0, 2]


def test_a_missing_path_says_which_files_are_missing(tmp_path, settings):
    settings.EMBEDDING_MODEL_PATH = str(tmp_path / "nowhere")
    with pytest.raises(LocalModelUnavailable, match="missing config.json, tokenizer.json"):
        LocalModels(fetch=_no_fetch).get("potion-base-8M")


def test_corrupt_weights_are_a_reason_not_a_crash(tmp_path, settings):
    folder = build_tiny_model(tmp_path / "tiny")
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    settings.EMBEDDING_MODEL_PATH = str(folder)
    with pytest.raises(LocalModelUnavailable, match="could not be loaded"):
        LocalModels(fetch=_no_fetch).get("potion-base-8M")


def test_a_failed_fetch_is_remembered_and_retried_later(tmp_path, settings):
    settings.EMBEDDING_MODEL_PATH = ""
    settings.EMBEDDING_CACHE_DIR = str(tmp_path / "cache")
    settings.EMBEDDING_FETCH_RETRY_SECONDS = 600
    now = [0.0]
    calls: list[str] = []

    def offline(repo: str, folder: Path) -> None:
        calls.append(repo)
        raise OSError("no network")

    models = LocalModels(fetch=offline, clock=lambda: now[0], background=False)
    for _ in range(2):
        with pytest.raises(LocalModelUnavailable, match="could not be fetched.*no network"):
            models.get("potion-base-8M")
    assert calls == ["minishlab/potion-base-8M"]  # the second call did not try again
    now[0] = 601.0

    def online(repo: str, folder: Path) -> None:
        calls.append(repo)
        build_tiny_model(folder)

    models._fetch = online
    with pytest.raises(LocalModelUnavailable, match="being fetched"):
        models.get("potion-base-8M")  # fetched now; ready from the next call
    assert models.get("potion-base-8M") is not None
    assert (tmp_path / "cache" / "potion-base-8M" / "model.safetensors").is_file()


def test_a_fetch_runs_in_the_background_and_the_request_does_not_wait(tmp_path, settings):
    settings.EMBEDDING_MODEL_PATH = ""
    settings.EMBEDDING_CACHE_DIR = str(tmp_path / "cache")
    import threading

    release = threading.Event()
    done = threading.Event()

    def slow(repo: str, folder: Path) -> None:
        release.wait(5)
        build_tiny_model(folder)
        done.set()

    models = LocalModels(fetch=slow)
    with pytest.raises(LocalModelUnavailable, match="being fetched"):
        models.get("potion-base-8M")
    with pytest.raises(LocalModelUnavailable, match="being fetched"):
        models.get("potion-base-8M")
    release.set()
    assert done.wait(5)


@pytest.mark.django_db
async def test_aembed_with_the_local_model(tmp_path, settings, monkeypatch):
    settings.EMBEDDING_MODEL_PATH = str(build_tiny_model(tmp_path / "tiny"))
    import providers.embeddings as embeddings

    monkeypatch.setattr(embeddings, "local_models", LocalModels(fetch=_no_fetch))
    matrix = await aembed(EmbeddingTarget("local/potion-base-8M", "potion-base-8M"), ["hello"])
    assert matrix.shape == (1, 8)

    settings.EMBEDDING_MODEL_PATH = str(tmp_path / "nowhere")
    monkeypatch.setattr(embeddings, "local_models", LocalModels(fetch=_no_fetch))
    with pytest.raises(EmbeddingFailed, match="not in"):
        await aembed(EmbeddingTarget("local/potion-base-8M", "potion-base-8M"), ["hello"])


def _no_fetch(repo: str, folder: Path) -> None:
    raise AssertionError("must not fetch")
