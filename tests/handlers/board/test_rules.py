"""The board's plain rules: money in fen, the community file's split, the demand split adding up, chart options."""

from __future__ import annotations

from decimal import Decimal
from typing import get_args

import pytest
from pydantic import ValidationError

from bot.api.board import Pool, Source
from handlers.board import charts
from handlers.board.demand import _split
from handlers.board.rules import BoardRules, format_yuan, yuan_to_fen
from storage import board as store


@pytest.mark.parametrize(
    ("given", "fen"),
    [("12000", 1_200_000), ("99.5", 9950), ("1,200.05元", 120_005), (Decimal("0.01"), 1), (7, 700)],
)
def test_amounts_in_yuan_become_fen(given: str | Decimal | int, fen: int) -> None:
    assert yuan_to_fen(given) == fen


@pytest.mark.parametrize("given", ["", "abc", "1.234", "-5", Decimal("0.001")])
def test_what_is_not_an_amount_is_refused(given: str | Decimal) -> None:
    with pytest.raises(ValueError):
        yuan_to_fen(given)


def test_yuan_are_written_as_people_read_them() -> None:
    assert format_yuan(1_200_000) == "12,000 元" and format_yuan(9950) == "99.50 元"


def test_the_split_must_add_up_and_the_reserve_comes_out_of_the_flexible_share() -> None:
    assert BoardRules().model_dump() == {
        "notice_days": 7,
        "base_percent": 70,
        "flexible_percent": 30,
        "reserve_percent": 5,
    }
    with pytest.raises(ValidationError):
        BoardRules(base_percent=70, flexible_percent=20)
    with pytest.raises(ValidationError):
        BoardRules(reserve_percent=40)


def test_the_demand_split_adds_up_to_the_fen() -> None:
    parts = _split(2_500_001, {"facilities": 7, "parking": 2, "elderly": 1})
    assert sum(parts.values()) == 2_500_001
    assert parts["facilities"] > parts["parking"] > parts["elderly"]
    assert _split(100_000, {"a": 1, "b": 1, "c": 1}) == {"a": 33_400, "b": 33_300, "c": 33_300}
    assert _split(100_000, {"a": 0}) == {"a": 0}


def test_chart_options_carry_the_numbers() -> None:
    pie = charts.pie("资金用途", [("养老助老", 900.0), ("儿童青少年", 600.0)])
    assert pie["series"][0]["data"] == [{"name": "养老助老", "value": 900.0}, {"name": "儿童青少年", "value": 600.0}]
    bars = charts.bars("工单", [("照明", 2), ("电梯", 1)], unit="件")
    assert bars["yAxis"]["data"] == ["照明", "电梯"] and bars["series"][0]["data"] == [2, 1]


def test_the_api_offers_exactly_the_stored_sources_and_pools() -> None:
    assert get_args(Source) == store.SOURCES and get_args(Pool) == store.POOLS
