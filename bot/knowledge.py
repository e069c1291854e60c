"""The heavy, read-only pieces built once per process and shared by every request: the encoder, the
knowledge index and the trained intent model. Keyed by what they were built from, so a change of entries
or encoder gives a new one; nothing here is state another process would need.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from intents.model import IntentModel, load_examples
from knowledge_base.encoders import Encoder, make_encoder
from knowledge_base.entries import DEFAULT_COLLECTION, Entry
from knowledge_base.index import KnowledgeIndex, load_or_build
from knowledge_base.store import index_cache_dir, read_collection

_lock = threading.RLock()


@lru_cache(maxsize=4)
def encoder_for(setting: str) -> Encoder:
    encoder = make_encoder(setting)
    encoder.warm_up()
    return encoder


_models: dict[str, IntentModel] = {}


def intent_model_for(setting: str, data_dir: Path) -> IntentModel:
    """Trained once per process and encoder (about a second); the examples' embeddings are cached on disk."""
    with _lock:
        model = _models.get(setting)
        if model is None:
            model = _models[setting] = _train_intent_model(setting, data_dir)
        return model


def _train_intent_model(setting: str, data_dir: Path) -> IntentModel:
    encoder = encoder_for(setting)
    examples = load_examples()
    texts = [e.text for e in examples]
    digest = hashlib.sha256("\n".join([encoder.name, *texts]).encode("utf-8")).hexdigest()[:16]
    cache = Path(data_dir) / "intents" / f"embeddings-{digest}.npy"
    known: dict[str, np.ndarray] = {}
    try:
        vectors = np.load(cache)
        if vectors.shape[0] == len(texts):
            known = dict(zip(texts, vectors, strict=True))
    except (OSError, ValueError):
        pass
    if not known:
        vectors = encoder.encode(texts)
        cache.parent.mkdir(parents=True, exist_ok=True)
        staging = cache.with_suffix(f".{os.getpid()}.tmp.npy")
        np.save(staging, vectors)
        os.replace(staging, cache)
        known = dict(zip(texts, vectors, strict=True))

    def embed(batch: Sequence[str]) -> np.ndarray:
        missing = [t for t in batch if t not in known]
        fresh = dict(zip(missing, encoder.encode(missing), strict=True)) if missing else {}
        return np.vstack([known[t] if t in known else fresh[t] for t in batch])

    return IntentModel(embed=embed).fit(examples)


def collections_from_setting(setting: str) -> tuple[str, ...]:
    names = tuple(name.strip() for name in setting.split(",") if name.strip())
    return names or (DEFAULT_COLLECTION,)


def load_entries_for(data_dir: Path, collections: tuple[str, ...]) -> list[Entry]:
    entries: list[Entry] = []
    for name in collections:
        entries.extend(read_collection(data_dir, name))
    return entries


_indexes: dict[tuple[str, tuple[str, ...]], tuple[int, KnowledgeIndex]] = {}


def knowledge_index_for(setting: str, data_dir: Path, collections: tuple[str, ...]) -> KnowledgeIndex:
    """The index over these collections, loaded from the disk cache or built and saved once."""
    entries = load_entries_for(data_dir, collections)
    # The index depends only on the entries and the encoder, so any data dir holding the same entries
    # shares it within a process; the disk cache is what survives a restart.
    key = (setting, collections)
    signature = hash(tuple((e.collection, e.id, e.question, e.answer, e.paraphrases, e.basis) for e in entries))
    with _lock:
        cached = _indexes.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1]
        scope = "+".join(collections)
        index = load_or_build(entries, encoder_for(setting), index_cache_dir(data_dir, scope))
        _indexes[key] = (signature, index)
        return index
