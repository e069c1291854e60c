"""One line of safety advice for an everyday report that names a danger: a report, not an emergency.

"水管爆了" needs the main valve closed before anyone comes; "燃气灶打不着火" needs the gas company, not 119.
The line goes with the ticket's own reply; it never replaces it and never raises an alert.
"""

from __future__ import annotations

import re

_TIPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"水管.{0,6}(爆|裂|破|喷|滋)|爆管|(喷|滋|冒)水|水.{0,4}(往外|哗哗)"),
        "先关掉家里的进水总阀（一般在水表旁边），再把电器和插座挪开，别让水泡着。",
    ),
    (
        re.compile(r"(燃气|煤气|天然气|然气)灶|热水器|壁挂炉|灶.{0,4}(打不着|点不着|不着火|熄火)"),
        "灶具和燃气热水器的故障可以直接打燃气公司{gas}报修；要是闻到燃气味，先关总阀、开窗，别开关电器。",
    ),
    (
        re.compile(
            r"飞线|拉.{0,4}线.{0,6}充电|(楼道|走廊|楼梯|电梯|门厅).{0,10}(充电|电瓶|电动车)|(电瓶|电动车|电池).{0,10}(楼道|电梯|家里充)"
        ),
        "电动车和电池请别在楼道、电梯里停放充电，去小区的充电棚充更安全。",
    ),
    (
        re.compile(r"电线.{0,8}(老化|裸露|外露|露|破皮|冒火)|铜丝|漏电|插座.{0,6}(发烫|冒烟|焦)"),
        "露出来的电线先别碰，也别在旁边堆东西；家里的线发烫、有焦味，先拉下电闸。",
    ),
    (
        re.compile(r"电梯.{0,10}(坏|停|不动|卡|故障)"),
        "电梯修好前请走楼梯，扶好扶手，慢慢走。",
    ),
    (
        re.compile(r"井盖.{0,4}(没|丢|缺|掉|松)|大(黑)?窟窿|树杈.{0,4}(断|吊)|(快|要)(掉|断)下来"),
        "工作人员到之前，请绕开走，也提醒家里老人孩子别靠近。",
    ),
)


def safety_tip(text: str, *, gas_hotline: str = "") -> str | None:
    """The line of advice the report calls for, or None."""
    for pattern, tip in _TIPS:
        if pattern.search(text):
            return tip.replace("{gas}", f" {gas_hotline} " if gas_hotline else "")
    return None
