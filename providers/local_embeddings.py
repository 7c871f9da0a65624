"""The local embedding model: a model2vec static model run in-process on CPU, no key, no PyTorch.

Why model2vec (README, "Semantic rules"): its models are a token-embedding table plus a
tokenizer, so encoding a message is a tokenizer call and a mean of rows — well under a
millisecond on one core — with numpy, `tokenizers` and `safetensors` as its only heavy
dependencies (a few MB installed). fastembed runs transformer models through onnxruntime:
better quality per model, but tens of milliseconds per message on one core and a much larger
install.

Where the weights come from, in order:
1. `EMBEDDING_MODEL_PATH`: a folder with `config.json`, `tokenizer.json` and
   `model.safetensors` (what `StaticModel.save_pretrained` writes) — for offline installs;
2. `EMBEDDING_CACHE_DIR/<name>` when an earlier fetch filled it;
3. otherwise the model is fetched once from its hub repository into that folder, in a
   background thread: until it arrives (or when the fetch fails, remembered for
   `EMBEDDING_FETCH_RETRY_SECONDS`) `LocalModelUnavailable` says why, and semantic rules are
   skipped with that reason. A request never waits for a download.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings

log = logging.getLogger(__name__)

LOCAL_PROVIDER = "local"
# Model name (the part after "local/") → the hub repository it is fetched from.
LOCAL_MODELS: dict[str, str] = {
    "potion-base-8M": "minishlab/potion-base-8M",
    "potion-base-4M": "minishlab/potion-base-4M",
    "potion-base-2M": "minishlab/potion-base-2M",
    "potion-multilingual-128M": "minishlab/potion-multilingual-128M",
}
DEFAULT_LOCAL_MODEL = "potion-base-8M"
DEFAULT_EMBEDDING_MODEL = f"{LOCAL_PROVIDER}/{DEFAULT_LOCAL_MODEL}"
_REQUIRED_FILES = ("config.json", "tokenizer.json", "model.safetensors")


class LocalModelUnavailable(Exception):
    """The local model cannot embed right now; the message says why, for a reader."""


def is_local_ref(ref: str) -> bool:
    provider, _, name = ref.partition("/")
    return provider == LOCAL_PROVIDER and name in LOCAL_MODELS


def _hub_fetch(repo: str, folder: Path) -> None:
    from huggingface_hub import snapshot_download

    snapshot_download(repo_id=repo, local_dir=str(folder), allow_patterns=list(_REQUIRED_FILES))


class LocalModels:
    """Loaded local models, per process. Thread-safe; loading and fetching happen once."""

    def __init__(
        self,
        *,
        fetch: Callable[[str, Path], None] = _hub_fetch,
        clock: Callable[[], float] = time.monotonic,
        background: bool = True,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._background = background
        self._lock = threading.Lock()
        self._models: dict[str, Any] = {}
        self._failed: dict[str, tuple[float, str]] = {}
        self._fetching: set[str] = set()

    def loaded(self, name: str) -> Any | None:
        return self._models.get(name)

    def get(self, name: str) -> Any:
        """The model, loading it if needed; raises `LocalModelUnavailable` with the reason."""
        model = self._models.get(name)
        if model is not None:
            return model
        if name not in LOCAL_MODELS:
            raise LocalModelUnavailable(f"'{name}' is not a local model")
        with self._lock:
            model = self._models.get(name)
            if model is not None:
                return model
            override = getattr(settings, "EMBEDDING_MODEL_PATH", "")
            if override:
                model = self._load(Path(override), "EMBEDDING_MODEL_PATH")
            else:
                folder = Path(settings.EMBEDDING_CACHE_DIR) / name
                if _complete(folder):
                    model = self._load(folder, "the local model cache")
                else:
                    self._start_fetch(name, folder)  # raises: not there yet
            self._models[name] = model
            return model

    def _load(self, folder: Path, where: str) -> Any:
        if not _complete(folder):
            missing = [f for f in _REQUIRED_FILES if not (folder / f).is_file()]
            raise LocalModelUnavailable(
                f"the local embedding model is not in {folder} ({where}): missing "
                + ", ".join(missing)
            )
        try:
            from model2vec import StaticModel

            return StaticModel.from_pretrained(str(folder))
        except Exception as exc:  # corrupt or foreign files must not crash routing
            raise LocalModelUnavailable(
                f"the local embedding model in {folder} ({where}) could not be loaded: "
                f"{type(exc).__name__}: {exc}"
            ) from exc

    def _start_fetch(self, name: str, folder: Path) -> None:
        failed = self._failed.get(name)
        if failed is not None and self._clock() < failed[0]:
            raise LocalModelUnavailable(failed[1])
        if name in self._fetching:
            raise LocalModelUnavailable(_fetching_message(name, folder))
        self._fetching.add(name)
        if self._background:
            threading.Thread(
                target=self._fetch_now, args=(name, folder), daemon=True, name=f"fetch-{name}"
            ).start()
            raise LocalModelUnavailable(_fetching_message(name, folder))
        self._fetch_now(name, folder)
        failed = self._failed.get(name)
        if failed is not None:
            raise LocalModelUnavailable(failed[1])
        raise LocalModelUnavailable(_fetching_message(name, folder))

    def _fetch_now(self, name: str, folder: Path) -> None:
        repo = LOCAL_MODELS[name]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._fetch(repo, folder)
            if not _complete(folder):
                raise OSError("the download did not bring every file")
            log.info("local embedding model %s fetched into %s", name, folder)
            self._failed.pop(name, None)
        except Exception as exc:  # noqa: BLE001 — any failure becomes a reason to show
            retry = float(getattr(settings, "EMBEDDING_FETCH_RETRY_SECONDS", 600.0))
            message = (
                f"the local embedding model {name} could not be fetched from {repo} "
                f"({type(exc).__name__}: {exc}); put it in a folder and set "
                "EMBEDDING_MODEL_PATH for offline installs"
            )
            log.warning(message)
            self._failed[name] = (self._clock() + retry, message)
        finally:
            self._fetching.discard(name)


def _fetching_message(name: str, folder: Path) -> str:
    return (
        f"the local embedding model {name} is being fetched into {folder}; "
        "semantic rules are skipped until it is ready"
    )


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in _REQUIRED_FILES)


def encode(model: Any, texts: Sequence[str]) -> np.ndarray:
    """Embeddings as float32 rows (not normalised: the engine normalises)."""
    return np.asarray(model.encode(list(texts), show_progress_bar=False), dtype=np.float32)


local_models = LocalModels()
