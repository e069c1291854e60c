"""The dashboard's figures as Apache ECharts option dicts: pure functions of the counted groups, so a test
checks the numbers without a browser. Anything under the satisfaction target (85 %) is marked red."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers.clock import CHINA_TZ
from storage.console_dashboard import AlertTimes, QuestionWeeks, TicketGroup

SATISFACTION_TARGET = 0.85
RED, YELLOW, BLUE, GREEN, GREY = "#c62828", "#b7791f", "#2b6cb0", "#2f855a", "#9aa5b1"
COLOURS = {"red": RED, "yellow": YELLOW, "blue": BLUE}


def week_labels(weeks: Sequence[datetime]) -> list[str]:
    return [f"{w.astimezone(CHINA_TZ):%m-%d}" for w in weeks[:-1]]


def _weekly(groups: Iterable[TicketGroup], key: Callable[[TicketGroup], str], n: int) -> dict[str, list[int]]:
    series: dict[str, list[int]] = defaultdict(lambda: [0] * n)
    for g in groups:
        line = series[key(g)]
        for i, count in enumerate(g.weekly):
            line[i] += count
    return dict(series)


def _title(text: str) -> dict[str, Any]:
    return {"text": text, "left": 0, "textStyle": {"fontSize": 14}}


def tickets_over_time(
    groups: Sequence[TicketGroup], labels: list[str], names: dict[str, str], colour_names: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two charts: new tickets per week by category (lines), and by colour (stacked bars)."""
    by_category = _weekly(groups, lambda g: g.category, len(labels))
    by_colour = _weekly(groups, lambda g: g.colour, len(labels))
    category = {
        "title": _title("每周新工单 · 按类别"),
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "top": 24},
        "grid": {"top": 64, "left": 40, "right": 16, "bottom": 28},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": names.get(c, c), "type": "line", "data": data, "smooth": True}
            for c, data in sorted(by_category.items(), key=lambda kv: -sum(kv[1]))
        ],
    }
    colour = {
        "title": _title("每周新工单 · 按紧急程度"),
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24},
        "grid": {"top": 64, "left": 40, "right": 16, "bottom": 28},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {
                "name": colour_names.get(c, c),
                "type": "bar",
                "stack": "colour",
                "data": by_colour.get(c, [0] * len(labels)),
                "itemStyle": {"color": COLOURS[c]},
            }
            for c in ("red", "yellow", "blue")
        ],
    }
    return category, colour


@dataclass(frozen=True)
class Rate:
    name: str
    hits: int
    total: int

    @property
    def percent(self) -> float:
        return round(100 * self.hits / self.total, 1) if self.total else 0.0


def _rates(groups: Iterable[TicketGroup], key: Callable[[TicketGroup], str], hit: str, total: str) -> list[Rate]:
    sums: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for g in groups:
        sums[key(g)][0] += getattr(g, hit)
        sums[key(g)][1] += getattr(g, total)
    return sorted((Rate(name, h, t) for name, (h, t) in sums.items() if t), key=lambda r: (r.percent, r.name))


def _rate_bars(title: str, rates: list[Rate], *, target: float | None) -> dict[str, Any]:
    def colour(rate: Rate) -> str:
        if target is None:
            return BLUE
        return RED if rate.percent < target * 100 else GREEN

    series: dict[str, Any] = {
        "type": "bar",
        "data": [
            {"value": r.percent, "itemStyle": {"color": colour(r)}, "total": r.total, "hits": r.hits} for r in rates
        ],
        "label": {"show": True, "position": "right", "formatter": "{c}%"},
    }
    if target is not None:
        series["markLine"] = {
            "symbol": "none",
            "data": [{"xAxis": target * 100, "name": "目标"}],
            "lineStyle": {"color": RED, "type": "dashed"},
            "label": {"formatter": f"{int(target * 100)}%"},
        }
    return {
        "title": _title(title),
        "tooltip": {"trigger": "item", "formatter": "{b}: {c}%"},
        "grid": {"top": 36, "left": 110, "right": 48, "bottom": 24},
        "xAxis": {"type": "value", "max": 100, "axisLabel": {"formatter": "{value}%"}},
        "yAxis": {"type": "category", "data": [r.name for r in rates]},
        "series": [series],
    }


def sla_rates(
    groups: Sequence[TicketGroup], grid_of: Callable[[TicketGroup], str], worker_of: Callable[[TicketGroup], str]
) -> tuple[dict[str, Any], dict[str, Any], list[Rate], list[Rate]]:
    """Share of resolved tickets resolved by their deadline, by grid and by worker."""
    by_grid = _rates(groups, grid_of, "on_time", "resolved")
    by_worker = _rates(groups, worker_of, "on_time", "resolved")
    return (
        _rate_bars("按时办结率 · 按网格", by_grid, target=None),
        _rate_bars("按时办结率 · 按工作人员", by_worker, target=None),
        by_grid,
        by_worker,
    )


def satisfaction(
    groups: Sequence[TicketGroup], title: str, key: Callable[[TicketGroup], str]
) -> tuple[dict[str, Any], list[Rate]]:
    """Share of ratings of 4 or 5, with anything under 85 % in red."""
    rates = _rates(groups, key, "satisfied", "rated")
    return _rate_bars(title, rates, target=SATISFACTION_TARGET), rates


def heat_map(groups: Sequence[TicketGroup], names: dict[str, str]) -> dict[str, Any]:
    """Buildings x categories: where which problems come from."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for g in groups:
        counts[(g.building or "未注明", g.category)] += g.created
    buildings = sorted({b for b, _ in counts}, key=lambda b: (not b.isdigit(), int(b) if b.isdigit() else 0, b))
    categories = sorted({c for _, c in counts}, key=lambda c: names.get(c, c))
    data = [[buildings.index(b), categories.index(c), n] for (b, c), n in counts.items()]
    return {
        "title": _title("楼栋 × 类别"),
        "tooltip": {"position": "top"},
        "grid": {"top": 36, "left": 90, "right": 16, "bottom": 60},
        "xAxis": {"type": "category", "data": [f"{b}号楼" if b.isdigit() else b for b in buildings]},
        "yAxis": {"type": "category", "data": [names.get(c, c) for c in categories]},
        "visualMap": {
            "min": 0,
            "max": max((n for *_, n in data), default=1),
            "calculable": True,
            "orient": "horizontal",
            "left": "center",
            "bottom": 0,
            "inRange": {"color": ["#f4f6f8", "#f6c26b", RED]},
        },
        "series": [{"type": "heatmap", "data": data, "label": {"show": True}}],
    }


@dataclass(frozen=True)
class AlertSummary:
    total: int
    acknowledged: int
    median_minutes: float | None
    slowest_minutes: float | None


def alerts_chart(alerts: Sequence[AlertTimes], weeks: Sequence[datetime]) -> tuple[dict[str, Any], AlertSummary]:
    """Crisis alerts per week by level, and the median minutes until someone acknowledged them."""
    labels = week_labels(weeks)
    counts = {"red": [0] * len(labels), "yellow": [0] * len(labels)}
    minutes: list[list[float]] = [[] for _ in labels]
    for a in alerts:
        i = next((k for k in range(len(labels)) if weeks[k] <= a.created_at < weeks[k + 1]), None)
        if i is None:
            continue
        counts.setdefault(a.level, [0] * len(labels))[i] += 1
        if a.acknowledged_at is not None:
            minutes[i].append((a.acknowledged_at - a.created_at).total_seconds() / 60)
    every = [m for week in minutes for m in week]
    summary = AlertSummary(
        total=len(alerts),
        acknowledged=len(every),
        median_minutes=round(statistics.median(every), 1) if every else None,
        slowest_minutes=round(max(every), 1) if every else None,
    )
    option = {
        "title": _title("危机警报与响应时间"),
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24},
        "grid": {"top": 64, "left": 40, "right": 48, "bottom": 28},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": [
            {"type": "value", "name": "条", "minInterval": 1},
            {"type": "value", "name": "分钟"},
        ],
        "series": [
            {"name": "红色", "type": "bar", "stack": "a", "data": counts["red"], "itemStyle": {"color": RED}},
            {"name": "黄色", "type": "bar", "stack": "a", "data": counts["yellow"], "itemStyle": {"color": YELLOW}},
            {
                "name": "确认用时（中位数）",
                "type": "line",
                "yAxisIndex": 1,
                "data": [round(statistics.median(m), 1) if m else None for m in minutes],
                "itemStyle": {"color": GREY},
            },
        ],
    }
    return option, summary


def questions_chart(weeks: QuestionWeeks, labels: list[str]) -> tuple[dict[str, Any], dict[str, int]]:
    """Residents' questions per week: answered by the bot, answered with choices, handed to a person."""
    answered = [max(a - h - c, 0) for a, h, c in zip(weeks.asked, weeks.handed_over, weeks.choices, strict=True)]
    totals = {"answered": sum(answered), "choices": sum(weeks.choices), "handed_over": sum(weeks.handed_over)}
    option = {
        "title": _title("居民提问 · 机器人答了还是转人工"),
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24},
        "grid": {"top": 64, "left": 40, "right": 16, "bottom": 28},
        "xAxis": {"type": "category", "data": labels},
        "yAxis": {"type": "value", "minInterval": 1},
        "series": [
            {"name": "机器人答了", "type": "bar", "stack": "q", "data": answered, "itemStyle": {"color": GREEN}},
            {
                "name": "给了选项",
                "type": "bar",
                "stack": "q",
                "data": list(weeks.choices),
                "itemStyle": {"color": YELLOW},
            },
            {
                "name": "转人工",
                "type": "bar",
                "stack": "q",
                "data": list(weeks.handed_over),
                "itemStyle": {"color": RED},
            },
        ],
    }
    return option, totals


def has_data(option: dict[str, Any]) -> bool:
    """Whether a chart has anything to draw: with nothing counted it says 暂无数据 instead of a blank box."""

    def counted(item: Any) -> bool:
        if isinstance(item, dict):
            item = item.get("value")
        if isinstance(item, list):
            item = item[-1] if item else None
        return isinstance(item, int | float) and item != 0

    return any(counted(item) for series in option.get("series", []) for item in series.get("data", []))
