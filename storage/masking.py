"""Phone and ID numbers never reach the database in clear inside resident text (PIPL art. 51).

`MaskedText` and `MaskedJSON` are column types: whatever writes a resident's words to such a column
(the inbound message, a ticket's description and place, its events' notes, an outbox payload, a stored
reply) stores them masked, so no code path can forget to. The few places that need the number itself keep
it encrypted in a column of its own (a volunteer's phone) or sealed beside the message.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import JSON, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect

# A mainland mobile, also as residents type it: "138 0013 8000", "138-0013-8000", "+86 13800138000".
_MOBILE = re.compile(r"(?<![\d])(?:\+?86[\s-]?)?(1[3-9]\d)[\s-]?(\d{4})[\s-]?(\d{4})(?![\d])")
# A resident ID number (18 characters, the last may be X), with its birth date in the middle.
_ID_NUMBER = re.compile(
    r"(?<![\dA-Za-z])(\d{6})(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}([\dXx])(?![\dA-Za-z])"
)


def mask_identifiers(text: str) -> str:
    """ "我电话13800138000" -> "我电话138****8000"; an ID number keeps its region and last character."""
    if not any(ch.isdigit() for ch in text):
        return text
    text = _ID_NUMBER.sub(lambda m: f"{m.group(1)}{'*' * 11}{m.group(2)}", text)
    return _MOBILE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


def has_identifiers(text: str) -> bool:
    return mask_identifiers(text) != text


def _mask_strings(value: Any) -> Any:
    if isinstance(value, str):
        return mask_identifiers(value)
    if isinstance(value, dict):
        return {k: _mask_strings(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_strings(v) for v in value]
    return value


class MaskedText(TypeDecorator[str]):
    """Text with phone and ID numbers masked on the way in."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return mask_identifiers(value) if value else value


class MaskedString(TypeDecorator[str]):
    """A bounded string with phone and ID numbers masked on the way in (a mask never makes it longer)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return mask_identifiers(value) if value else value


class MaskedJSON(TypeDecorator[Any]):
    """JSON whose strings have phone and ID numbers masked on the way in."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return _mask_strings(value)
