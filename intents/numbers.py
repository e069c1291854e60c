"""Chinese numerals as residents write them in addresses ("五栋", "十二号楼", "3单元")."""

from __future__ import annotations

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "幺": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_UNITS = {"十": 10, "百": 100, "千": 1000}

NUMERAL_CHARS = "0123456789零〇一幺二两三四五六七八九十百千"


def to_int(token: str) -> int | None:
    """'12' -> 12, '十二' -> 12, '二十' -> 20, '一零二' -> 102; None when it is not a number."""
    token = token.strip()
    if not token:
        return None
    if token.isdigit():
        return int(token)
    if any(ch not in _DIGITS and ch not in _UNITS for ch in token):
        return None
    if not any(ch in _UNITS for ch in token):
        # Digit-by-digit, as room numbers are read aloud: 一零二 -> 102.
        return int("".join(str(_DIGITS[ch]) for ch in token))
    total, current = 0, 0
    for ch in token:
        if ch in _DIGITS:
            current = _DIGITS[ch]
        else:
            total += (current or 1) * _UNITS[ch]
            current = 0
    return total + current
