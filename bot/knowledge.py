"""The heavy pieces built once per process and shared by every request: the encoder, the trained intent
model, and the knowledge index, which follows the knowledge base in the shared database (LiveKnowledge).
Keyed by what they were built from; nothing here is state another process would need.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from handlers import knowledge
from handlers.clock import system_clock
from intents.model import IntentModel, load_examples
from knowledge_base.encoders import Encoder, RememberingEncoder, make_encoder
from knowledge_base.entries import Entry
from knowledge_base.index import Hit, KnowledgeIndex, fingerprint, load_or_build
from knowledge_base.store import index_cache_dir

log = logging.getLogger(__name__)

_lock = threading.RLock()


@lru_cache(maxsize=4)
def encoder_for(setting: str) -> Encoder:
    """One encoder per setting in the process, shared by the intent model and the index (and so is the
    memory of recent messages' vectors)."""
    encoder = RememberingEncoder(make_encoder(setting))
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


def collections_from_setting(setting: str) -> tuple[str, ...] | None:
    """The collections named by SHEGONG_KB_COLLECTIONS; None (every collection) when it names none."""
    names = tuple(dict.fromkeys(name.strip() for name in setting.split(",") if name.strip()))
    return names or None


def index_scope(collections: tuple[str, ...] | None) -> str:
    """The name of the on-disk index cache for these collections."""
    return "all" if collections is None else "+".join(collections)


# Indexes built in this process, by encoder and content: Services over the same entries share one, and a
# server that rebuilds to an index it already holds (an edit undone) swaps it back in at once.
_built: OrderedDict[tuple[str, str], KnowledgeIndex] = OrderedDict()
_KEEP_BUILT = 4
_build_lock = threading.Lock()


def index_over(
    entries: Sequence[Entry], setting: str, cache_dir: Path, previous: KnowledgeIndex | None = None
) -> KnowledgeIndex:
    """The index over these entries: held in this process, saved on disk, or built (reusing the vectors
    of `previous` and of the saved copy, so only new texts are encoded)."""
    encoder = encoder_for(setting)
    key = (encoder.name, fingerprint(entries, encoder.name))
    with _build_lock:  # one build at a time: two at once would only halve each other's speed
        index = _built.get(key)
        if index is None:
            known = previous.text_vectors() if previous is not None else None
            index = load_or_build(entries, encoder, cache_dir, known)
        _built[key] = index
        _built.move_to_end(key)
        while len(_built) > _KEEP_BUILT:
            _built.popitem(last=False)
        return index


class LiveKnowledge:
    """The knowledge index this process answers from, following the knowledge base in the shared database.

    The first use loads it (from the disk cache when the entries are unchanged). After `start()`, a
    background thread reads the database's knowledge-base version every `check_seconds`; when it moved,
    the thread rebuilds the index and swaps it in with one assignment, and answers keep using the old
    index until then. A database that never had the team's entries gets them on first load, so a fresh
    install answers before anyone ran `shegong kb sync`.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        embedding_model: str,
        data_dir: Path,
        collections: tuple[str, ...] | None,
        check_seconds: float,
    ) -> None:
        self._sessions = sessions
        self._embedding_model = embedding_model
        self._cache_dir = index_cache_dir(data_dir, index_scope(collections))
        self._collections = collections
        self._check_seconds = check_seconds
        self._index: KnowledgeIndex | None = None
        self._version = -1
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def index(self) -> KnowledgeIndex:
        index = self._index
        if index is None:
            self.refresh()
            index = self._index
            assert index is not None
        return index

    @property
    def version(self) -> int:
        """The knowledge-base version the current index was built from (-1 before the first load)."""
        return self._version

    def __len__(self) -> int:
        return len(self.index)

    def search(self, query: str, k: int = 5, domain: str | None = None, community: str | None = None) -> list[Hit]:
        return self.index.search(query, k=k, domain=domain, community=community)

    def get(self, entry_id: str, collection: str | None = None) -> Entry | None:
        return self.index.get(entry_id, collection)

    def warm_up(self) -> None:
        _ = self.index

    def refresh(self) -> bool:
        """Rebuild if the database's version moved since the current index; True when a new one is in."""
        with self._refresh_lock:
            if self._index is None:
                self._bootstrap()
            with self._sessions.begin() as session:
                # The version first: entries read after it are at least that new, so no change is missed.
                version = knowledge.current_version(session)
                if version == self._version and self._index is not None:
                    return False
                entries = knowledge.entries_for(session, self._collections)
            previous = self._index
            index = index_over(entries, self._embedding_model, self._cache_dir, previous)
            self._index, self._version = index, version
            if previous is not None:
                log.info("knowledge base version %d: answering from %d entries", version, len(index))
            return index is not previous

    def _bootstrap(self) -> None:
        try:
            with self._sessions.begin() as session:
                if knowledge.has_team_entries(session):
                    return
                result = knowledge.sync_team_entries(session, now=system_clock())
        except SQLAlchemyError:
            # A database refusing writes must not keep the server from starting: it answers from what
            # the database holds, and `shegong kb sync` loads the team's files once writes work again.
            log.warning("could not load the team's entries into the database", exc_info=True)
            return
        log.info("loaded the team's %d knowledge-base entries into an empty database", result.total)

    def start(self) -> None:
        """Follow the database's changes in a background thread (idempotent)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow, name="knowledge-base", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _follow(self) -> None:
        while not self._stop.wait(self._check_seconds):
            try:
                self.refresh()
            except Exception:
                # A database hiccup or a bad rebuild: keep answering from the current index and retry.
                log.exception("knowledge base refresh failed; still answering from version %d", self._version)
