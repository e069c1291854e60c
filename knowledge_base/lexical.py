"""Lexical matching for Chinese text: character n-gram tokens, BM25 (bm25s) and idf-weighted coverage.

Character n-grams rather than jieba words, by measurement on the public legal and psychological sets
(BM25 over questions alone, top-1 legal / psych): character bigrams 0.91 / 0.67, jieba words 0.88 / 0.59,
jieba search-mode words 0.85 / 0.60. Inside the fused ranker, unigrams + bigrams + trigrams reached psych
0.85 against 0.82 for unigrams + bigrams and 0.81 for bigrams alone. Residents type colloquially, with
typos and without spaces, which a segmenter trained on edited text splits inconsistently; n-grams also
need no dictionary loaded at start-up. bm25s does the BM25: sparse, numpy-only, and it saves to disk.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

# A unit is one CJK character or one run of Latin letters and digits ("12345", "app", "110"); punctuation
# and spaces are dropped, and n-grams run across them: residents use commas and spaces where they pause,
# not where phrases end, and stopping n-grams at punctuation measured slightly worse.
_UNIT = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[a-z0-9]+")
NGRAM_ORDERS = (1, 2, 3)
BM25_K1 = 1.2
BM25_B = 0.75


def tokenize(text: str, orders: Sequence[int] = NGRAM_ORDERS) -> list[str]:
    """Character n-grams, after NFKC (full-width to half-width) and lowercasing."""
    units = _UNIT.findall(unicodedata.normalize("NFKC", text).lower())
    tokens: list[str] = []
    for n in orders:
        tokens.extend("".join(units[i : i + n]) for i in range(len(units) - n + 1))
    return tokens


class LexicalIndex:
    """BM25 over a list of texts, plus the share of each text's (idf-weighted) tokens that a query contains.

    BM25 rewards texts containing the query's words; coverage looks the other way, at how much of a short
    stored question the query mentions, which is what matters when a resident describes a problem at
    length and the knowledge base holds only its short title.
    """

    def __init__(self, bm25: bm25s.BM25, size: int, coverage_weights: sp.csr_matrix | None = None) -> None:
        self._bm25 = bm25
        self._size = size
        self._coverage_weights = coverage_weights
        self._vocab: dict[str, int] = bm25.vocab_dict

    @classmethod
    def build(cls, texts: Sequence[str], with_coverage: bool = False) -> LexicalIndex:
        corpus = [tokenize(t) or [""] for t in texts]
        bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        if corpus:
            bm25.index(corpus, show_progress=False)
        else:
            bm25.vocab_dict = {}
        coverage = _coverage_weights(corpus, bm25.vocab_dict) if with_coverage else None
        return cls(bm25, len(corpus), coverage)

    def __len__(self) -> int:
        return self._size

    def token_ids(self, query: str) -> NDArray[np.int32]:
        return np.asarray([self._vocab[t] for t in tokenize(query) if t in self._vocab], dtype=np.int32)

    def bm25_scores(self, token_ids: NDArray[np.int32]) -> NDArray[np.float32]:
        if token_ids.size == 0 or self._size == 0:
            return np.zeros(len(self), dtype=np.float32)
        scores = self._bm25.get_scores_from_ids(token_ids.tolist())
        return np.asarray(scores, dtype=np.float32)

    def coverage(self, token_ids: NDArray[np.int32]) -> NDArray[np.float32]:
        """For each text, the idf-weighted share of its distinct tokens that occur in the query, in [0, 1]."""
        if self._coverage_weights is None:
            raise ValueError("this index was built without coverage")
        present = np.zeros(self._coverage_weights.shape[1], dtype=np.float32)
        present[np.unique(token_ids)] = 1.0
        return np.asarray(self._coverage_weights @ present, dtype=np.float32)

    def overlap(self, query: str) -> NDArray[np.float32]:
        """For each text, the Jaccard similarity of its distinct tokens and the query's: 1.0 means the same
        characters in the same order, give or take punctuation, spaces and letter case."""
        if self._coverage_weights is None:
            raise ValueError("this index was built without coverage")
        distinct = set(tokenize(query))
        known = [self._vocab[t] for t in distinct if t in self._vocab]
        present = np.zeros(self._coverage_weights.shape[1], dtype=np.float32)
        present[known] = 1.0
        shared = np.asarray((self._coverage_weights > 0) @ present, dtype=np.float32)
        sizes = np.diff(self._coverage_weights.indptr).astype(np.float32)
        union = sizes + len(distinct) - shared
        jaccard: NDArray[np.float32] = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
        return jaccard

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        if self._size:
            self._bm25.save(str(directory / "bm25"), show_progress=False)
        if self._coverage_weights is not None:
            sp.save_npz(directory / "coverage.npz", self._coverage_weights)
        settings = {"orders": list(NGRAM_ORDERS), "size": self._size}
        (directory / "lexical.json").write_text(json.dumps(settings), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> LexicalIndex:
        settings = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
        if tuple(settings["orders"]) != NGRAM_ORDERS:
            raise ValueError(f"{directory} was built with another tokenizer")
        size = int(settings["size"])
        if size:
            bm25 = bm25s.BM25.load(str(directory / "bm25"), show_progress=False)
        else:
            bm25 = bm25s.BM25()
            bm25.vocab_dict = {}
        coverage_path = directory / "coverage.npz"
        coverage = sp.csr_matrix(sp.load_npz(coverage_path)) if coverage_path.exists() else None
        return cls(bm25, size, coverage)


def _coverage_weights(corpus: list[list[str]], vocab: dict[str, int]) -> sp.csr_matrix:
    document_frequency: dict[int, int] = {}
    distinct = [{vocab[t] for t in tokens if t} for tokens in corpus]
    for ids in distinct:
        for token_id in ids:
            document_frequency[token_id] = document_frequency.get(token_id, 0) + 1
    n = len(corpus)
    rows: list[int] = []
    cols: list[int] = []
    values: list[float] = []
    for row, ids in enumerate(distinct):
        weights = {t: math.log(1 + (n - document_frequency[t] + 0.5) / (document_frequency[t] + 0.5)) for t in ids}
        total = sum(weights.values())
        for token_id, weight in weights.items():
            rows.append(row)
            cols.append(token_id)
            values.append(weight / total if total else 0.0)
    shape = (n, max(vocab.values(), default=0) + 1)
    return sp.csr_matrix((np.asarray(values, dtype=np.float32), (rows, cols)), shape=shape)
