"""ECharts option dicts for the board and the report, built by pure functions so a test can read the numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Colours that stay apart for the colour-blind and print legibly in grey.
PALETTE = ["#2f6fb0", "#e08a2e", "#4a9d5b", "#c2453d", "#7d5ba6", "#8c6d46", "#d277b3", "#7f7f7f", "#b5a642"]


def pie(title: str, slices: Sequence[tuple[str, float]], *, unit: str = "元") -> dict[str, Any]:
    """A pie chart: (name, value) slices, labelled with their share."""
    return {
        # No animation: old phones draw it at once, and a printed or captured page shows the finished chart.
        "animation": False,
        "color": PALETTE,
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 15}},
        "tooltip": {"trigger": "item", "formatter": "{b}：{c} " + unit + "（{d}%）"},
        "legend": {"bottom": 0, "type": "scroll"},
        "series": [
            {
                "type": "pie",
                "radius": ["30%", "62%"],
                "center": ["50%", "48%"],
                # Shares inside the slices, names in the legend: nothing is cut off on a narrow phone.
                "label": {"position": "inside", "formatter": "{d}%", "color": "#fff", "fontSize": 13},
                "data": [{"name": name, "value": value} for name, value in slices],
            }
        ],
    }


def bars(title: str, rows: Sequence[tuple[str, float]], *, unit: str = "", horizontal: bool = True) -> dict[str, Any]:
    """A bar chart of (label, value) rows; horizontal reads better on a phone with Chinese labels."""
    labels = [label for label, _ in rows]
    values = [value for _, value in rows]
    category = {"type": "category", "data": labels, "axisLabel": {"interval": 0}}
    value_axis = {"type": "value", "name": unit, "minInterval": 1}
    return {
        "animation": False,
        "color": PALETTE,
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 15}},
        "tooltip": {"trigger": "axis"},
        "grid": {"left": 8, "right": 24, "top": 40, "bottom": 8, "containLabel": True},
        "xAxis": value_axis if horizontal else category,
        "yAxis": {**category, "inverse": True} if horizontal else value_axis,
        "series": [
            {"type": "bar", "data": values, "label": {"show": True, "position": "right" if horizontal else "top"}}
        ],
    }


def fen_to_yuan(fen: int) -> float:
    return round(fen / 100, 2)
