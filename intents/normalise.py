"""Text as classification and retrieval expect it: simplified characters and half-width digits and letters.

Some residents type traditional characters (3號樓, 怎麼申請) and some phones send full-width digits (３号楼).
The rules, the model and the knowledge base are all written in simplified Chinese, so a message is
normalised once, at the edge, before anything reads it. Traditional to simplified uses OpenCC's
phrase-aware "t2s" tables (the maintained reference converter) rather than a hand-kept character list,
which would miss the many characters whose simplified form depends on the word they are in.
"""

from __future__ import annotations

from functools import cache
from typing import Protocol

import opencc

# Full-width ０-９, Ａ-Ｚ and ａ-ｚ to ASCII; full-width punctuation is left alone (the rules read "？" and "，").
_HALF_WIDTH = {
    code: code - 0xFEE0
    for start, end in ((0xFF10, 0xFF19), (0xFF21, 0xFF3A), (0xFF41, 0xFF5A))
    for code in range(start, end + 1)
}


class _Converter(Protocol):
    def convert(self, text: str) -> str: ...


@cache
def _t2s() -> _Converter:
    converter: _Converter = opencc.OpenCC("t2s")
    return converter


def normalise_text(text: str) -> str:
    """The message in simplified characters with half-width digits and letters; otherwise unchanged."""
    if not text or text.isascii():
        return text
    return _t2s().convert(text.translate(_HALF_WIDTH))
