"""The board's and the satisfaction loop's rules as data (community file keys) and plain functions on money.

Nothing here touches the database, so every rule can be tested with bare values.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from pydantic import BaseModel, ConfigDict, Field, model_validator

# What an allocation is for: the pie chart's slices and the demand split's lines.
PURPOSE_NAMES: dict[str, str] = {
    "elderly": "养老助老",
    "children": "儿童青少年",
    "facilities": "设施维修",
    "environment": "环境卫生",
    "safety": "安全",
    "parking": "停车交通",
    "culture": "文体活动",
    "assistance": "困难帮扶",
    "other": "其他",
}
PURPOSES = tuple(PURPOSE_NAMES)

SOURCE_NAMES: dict[str, str] = {
    "government": "政府拨款",
    "company": "企业捐助",
    "residents": "居民自筹",
    "foundation": "基金会",
}
POOL_NAMES: dict[str, str] = {"base": "基础部分", "flexible": "弹性部分", "reserve": "应急储备"}

# Where a ticket's category points when demand is read: a broken lamp asks for facilities money.
CATEGORY_PURPOSE: dict[str, str] = {
    "lighting": "facilities",
    "sanitation": "environment",
    "lift": "facilities",
    "water_leak": "facilities",
    "noise": "environment",
    "parking": "parking",
    "facilities": "facilities",
    "safety": "safety",
    "dispute": "other",
    "suggestion": "other",
    "other": "other",
}
# A consultation's domain: legal and public-service questions are about help for those in difficulty;
# psychological ones mostly come from older residents living alone.
DOMAIN_PURPOSE: dict[str, str] = {"legal": "assistance", "service": "assistance", "psych": "elderly"}


class BoardRules(BaseModel):
    """The `board` block of a community file: the notice period and how the budget is split."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # An allocation is published this long before it may take effect; residents object meanwhile.
    notice_days: int = Field(default=7, ge=1, le=90)
    # The budget's split: a fixed base and a flexible share that follows residents' demand.
    base_percent: int = Field(default=70, ge=0, le=100)
    flexible_percent: int = Field(default=30, ge=0, le=100)
    # Kept back out of the flexible share for emergencies, as a percentage of the whole budget.
    reserve_percent: int = Field(default=5, ge=0, le=100)

    @model_validator(mode="after")
    def _adds_up(self) -> BoardRules:
        if self.base_percent + self.flexible_percent != 100:
            raise ValueError("base_percent and flexible_percent must add up to 100")
        if self.reserve_percent > self.flexible_percent:
            raise ValueError("reserve_percent is taken from the flexible share and cannot exceed it")
        return self


class SatisfactionRules(BaseModel):
    """The `satisfaction` block of a community file: when a low rate opens an improvement task."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Below this share of satisfied ratings (in percent) over the window, a task opens.
    threshold_percent: int = Field(default=85, ge=1, le=100)
    window_days: int = Field(default=30, ge=7, le=365)
    # Fewer ratings than this in the window say too little: no task opens (and none closes) on them.
    min_ratings: int = Field(default=5, ge=1, le=1000)
    # A rating of this many points or more (of 5) counts as satisfied.
    satisfied_score: int = Field(default=4, ge=1, le=5)
    # The leader reviews the task after this many days; the rate then is shown beside the old one.
    review_days: int = Field(default=30, ge=1, le=365)


_AMOUNT = re.compile(r"^\s*(\d{1,12})(?:\.(\d{1,2}))?\s*(元)?\s*$")


def yuan_to_fen(text: str | Decimal | int) -> int:
    """ "12000" -> 1200000, "99.5" -> 9950, Decimal("0.01") -> 1; ValueError for anything else."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text * 100
    if isinstance(text, Decimal):
        try:
            fen = (text * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP)
        except InvalidOperation as exc:
            raise ValueError("not an amount of money") from exc
        if fen != text * 100:
            raise ValueError("an amount has at most two decimal places (fen)")
        return int(fen)
    match = _AMOUNT.match(str(text).replace(",", "").replace("，", ""))
    if match is None:
        raise ValueError(f"not an amount in yuan: {text!r}")
    return int(match.group(1)) * 100 + int((match.group(2) or "0").ljust(2, "0"))


def format_yuan(fen: int) -> str:
    """1200000 -> "12,000 元", 9950 -> "99.50 元"."""
    yuan, rest = divmod(abs(fen), 100)
    sign = "-" if fen < 0 else ""
    return f"{sign}{yuan:,}.{rest:02d} 元" if rest else f"{sign}{yuan:,} 元"


def percent(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 1) if whole else 0.0
