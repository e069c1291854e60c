"""Rules for a resident's report: its category, its urgency colour and the building it names.

Plain functions without I/O. The urgency rules have defaults here; a community file can replace them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from intents.numbers import NUMERAL_CHARS, to_int

COLOURS = ("red", "yellow", "blue")
COLOUR_NAMES = {"red": "红色", "yellow": "黄色", "blue": "蓝色"}

CATEGORY_NAMES = {
    "lighting": "照明",
    "sanitation": "环境卫生",
    "lift": "电梯",
    "water_leak": "漏水停水",
    "noise": "噪音扰民",
    "parking": "停车和消防通道",
    "facilities": "设施损坏",
    "safety": "安全隐患",
    "dispute": "邻里纠纷",
    "suggestion": "意见建议",
    "other": "其他",
}
CATEGORIES = tuple(CATEGORY_NAMES)

# Checked in this order, first match wins: the more specific and the more dangerous come first
# ("楼上漏水" is a leak, not a neighbour dispute; "电线裸露" is a hazard, not broken facilities).
_CATEGORY_RULES: tuple[tuple[str, str], ...] = (
    (
        "safety",
        r"电线|裸露|外露|飞线|私拉|漏电|隐患|高空|坠落|松动|摇摇欲坠|井盖.{0,3}(没|丢|缺|掉)|流浪狗|野狗|恶犬|咬(人|伤|过人)",
    ),
    ("lift", r"电梯"),
    (
        "water_leak",
        r"漏水|渗水|水管|爆管|没水|停水|没有水|断水|水压|积水|下水道|反水|冒水|马桶.{0,3}堵|(管道|水池).{0,3}堵|防水|(雨|顶楼|屋顶|天花板).{0,8}漏",
    ),
    ("lighting", r"路灯|楼道灯|声控灯|照明|灯.{0,4}(坏|不亮|灭|闪|黑)|(不亮|黑灯瞎火)"),
    ("parking", r"消防通道|停车|乱停|占道|车位|僵尸车|挡住.{0,4}(路|门|车)|(楼道|走廊|楼梯).{0,8}(堆|放|摆|杂物)"),
    ("noise", r"噪音|太吵|吵死|很吵|吵得|广场舞|装修声|音响|喇叭|狗叫|半夜.{0,6}(声|响)"),
    ("sanitation", r"垃圾|卫生|脏|臭|粪|清运|堆放|杂物|蚊子|老鼠|蟑螂|污水|异味|落叶"),
    ("dispute", r"邻居|楼上|楼下|对门|隔壁|纠纷|吵架|矛盾|种菜|占用公共"),
    ("facilities", r"坏了|坏掉|破了|损坏|破损|裂|塌|门禁|健身器材|座椅|长椅|栏杆|扶手|单元门|窗户|坑|秋千|滑梯"),
    ("suggestion", r"建议|希望|能不能|可不可以|提议|意见|最好"),
)
_CATEGORY_RE = tuple((name, re.compile(pattern)) for name, pattern in _CATEGORY_RULES)


def categorise(text: str) -> str:
    """The category of a report; "other" when no rule matches."""
    for name, pattern in _CATEGORY_RE:
        if pattern.search(text):
            return name
    return "other"


@dataclass(frozen=True)
class UrgencyRule:
    colour: str
    words: tuple[str, ...]  # regular expressions, any of which may match
    categories: tuple[str, ...] = ()  # empty: any category

    def matches(self, text: str, category: str) -> bool:
        if self.categories and category not in self.categories:
            return False
        return any(re.search(word, text) for word in self.words)


DEFAULT_URGENCY: tuple[UrgencyRule, ...] = (
    UrgencyRule("red", (r"消防通道.{0,8}(堵|占|停|挡|锁|封)", r"(堵|占|停|挡|锁|封).{0,8}消防通道")),
    UrgencyRule("red", (r"电梯.{0,10}(有人|关着人|困|卡着人|关人)", r"(困|关)在电梯")),
    UrgencyRule("red", (r"燃气|煤气|天然气|液化气",)),
    UrgencyRule("red", (r"电线.{0,6}(裸露|外露|露|断|掉|垂|漏电)", r"(裸露|外露)的?电线", r"飞线", r"漏电")),
    UrgencyRule("yellow", (r"漏水|渗水|水管.{0,4}(爆|裂|破)|爆管|反水|冒水", r"没水|停水|没有水|断水")),
    UrgencyRule("yellow", (r"电梯",), ("lift",)),
)


def urgency(text: str, category: str, rules: Sequence[UrgencyRule] = DEFAULT_URGENCY) -> str:
    """The first matching rule's colour; blue (lights, sanitation, suggestions, ...) otherwise."""
    for rule in rules:
        if rule.matches(text, category):
            return rule.colour
    return "blue"


class UrgencyRuleSpec(BaseModel):
    """One rule of a community's `urgency` list: any of `words` (regular expressions) makes it `colour`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    colour: Literal["red", "yellow", "blue"]
    words: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1, max_length=50)
    # Empty: any category.
    categories: list[str] = Field(default_factory=list, max_length=len(CATEGORIES))


def urgency_rules(specs: Sequence[UrgencyRuleSpec] | None) -> tuple[UrgencyRule, ...]:
    """A community's urgency rules (checked by the community file loader), or the defaults."""
    if not specs:
        return DEFAULT_URGENCY
    return tuple(UrgencyRule(spec.colour, tuple(spec.words), tuple(spec.categories)) for spec in specs)


_N = f"[{NUMERAL_CHARS}]+"
_BUILDING = re.compile(
    rf"(?P<building>{_N}|[A-Za-z])\s*(号楼|栋|幢|座|号(?=\s*{_N}\s*单元))(\s*(?P<unit>{_N})\s*(单元|门))?"
)
_UNIT_ONLY = re.compile(rf"(?P<unit>{_N})\s*单元")


@dataclass(frozen=True)
class Place:
    building: str | None = None
    unit: str | None = None
    label: str = ""

    @property
    def known(self) -> bool:
        return bool(self.building or self.label)

    def describe(self) -> str:
        if self.building:
            return f"{self.building}号楼" + (f"{self.unit}单元" if self.unit else "")
        return self.label


def _number(raw: str | None) -> str | None:
    if not raw:
        return None
    if raw.isascii() and raw.isalpha():
        return raw.upper()
    value = to_int(raw)
    return str(value) if value is not None else None


# Spots in the compound with a name of their own, for a report that names no building: "南门口的路灯",
# "居委会楼上活动室的灯". The label is the spot without "口", so "东门口" and "东门那个灯" are one place.
_LANDMARK = re.compile(
    r"(?<![单元楼家户屋房])(?P<gate>[东南西北](大|小|侧|边)?门)口?"
    r"|(?P<spot>((居委会|社区)(楼上|楼下|门口|旁边)?)?活动(室|中心)|居委会门口|车棚|停车场|地下车库|健身广场|小广场|中心花园)"
)
LANDMARK_MAX_CHARS = 60
# "是6号楼 不对 是5号楼", "我住6号楼 哦不对 5号楼": the place named after the correction counts.
_CORRECTION = re.compile(r"不对|说错了|搞错了|记错了|不是不是")


def find_place(text: str) -> Place:
    """The building (and unit) a report names: "3号楼东边", "五栋二单元", "A座"; else a named spot of the
    compound ("东门口", "活动室"). A correction in the same message wins: "6号楼 不对 是5号楼" is 5号楼."""
    matches = list(_BUILDING.finditer(text))
    if not matches:
        # A spot named in passing in a long letter is not where the problem is.
        landmark = _LANDMARK.search(text) if len(text) <= LANDMARK_MAX_CHARS else None
        return Place(label=landmark.group(0).removesuffix("口")) if landmark else Place()
    match = matches[0]
    if len(matches) > 1 and _CORRECTION.search(text, matches[0].end(), matches[-1].start()):
        match = matches[-1]
    return Place(building=_number(match.group("building")), unit=_number(match.group("unit")))


def corrected(text: str) -> str:
    """The message from its last correction on, when it corrects a building it named: "我住6号楼 哦不对 是5号楼
    单元门口…" reads as "是5号楼 单元门口…"; otherwise the message itself."""
    matches = list(_BUILDING.finditer(text))
    if len(matches) < 2:
        return text
    last = None
    for found in _CORRECTION.finditer(text, matches[0].end(), matches[-1].start()):
        last = found
    return text[last.end() :].lstrip(" ，,。") if last else text


def summary(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
