"""A tiny model2vec model built in the test itself (no weights to download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from model2vec import StaticModel
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import Whitespace

VOCAB = ["[UNK]", "[PAD]", "refund", "order", "invoice", "python", "bug", "error", "hello"]


def build_tiny_model(folder: Path) -> Path:
    """A 9-word, 8-dimension model2vec model: billing words share one direction, code words
    another, so similarity means something."""
    tokenizer = Tokenizer(WordLevel({w: i for i, w in enumerate(VOCAB)}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = Whitespace()
    vectors = np.zeros((len(VOCAB), 8), dtype=np.float32)
    for word in ("refund", "order", "invoice"):
        vectors[VOCAB.index(word), 0] = 1.0
        vectors[VOCAB.index(word), VOCAB.index(word) % 8] += 0.3
    for word in ("python", "bug", "error"):
        vectors[VOCAB.index(word), 1] = 1.0
        vectors[VOCAB.index(word), VOCAB.index(word) % 8] += 0.3
    vectors[VOCAB.index("hello"), 7] = 1.0
    StaticModel(vectors=vectors, tokenizer=tokenizer, normalize=True).save_pretrained(folder)
    return folder
