"""报平安 commands workers send over WeCom: "已上门，平安 [地址]" closes an open check, and
"代报平安 3号楼2单元502 电话" records today's check-in for someone the worker phoned or visited."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from handlers.wellbeing import checkins
from handlers.wellbeing.files import readers_of
from handlers.wellbeing.rules import reports_safe
from intents.rules import parse_address
from storage import repositories as repo
from storage import safecheck as sc
from storage.households import household_at

WORKER_SAFECHECK_HELP = "报平安：已上门，平安 [地址]　代报平安 地址 电话|上门"
_ON_BEHALF = re.compile(r"^\s*代报平安\s*(?P<rest>.*)$")


def is_worker_safecheck(text: str) -> bool:
    return reports_safe(text) or bool(_ON_BEHALF.match(text))


def worker_safecheck(session: Session, *, worker: str, text: str, now: datetime) -> str:
    """The answer to a worker's 报平安 command (see is_worker_safecheck)."""
    on_behalf = _ON_BEHALF.match(text)
    if on_behalf is None:
        report = checkins.report_safe(session, text=text, now=now, worker=worker)
        if report.ambiguous:
            names = "、".join(e.name or f"#{e.id}" for e in report.ambiguous[:5])
            return f"有几户在等回音（{names}），请带上地址，例如：已上门，平安 3号楼2单元502"
        if not report.resolved:
            return "没有找到您负责、正在等平安消息的住户。"
        names = "、".join(e.name or "居民" for e, _ in report.resolved)
        return f"已记下：{names} 平安。后续提醒已停止，谢谢！"
    rest = on_behalf.group("rest")
    address = parse_address(rest)
    if not address or not address.get("building") or not address.get("room"):
        return "请写上地址，例如：代报平安 3号楼2单元502 电话"
    how = "visit" if "上门" in rest else "phone"
    for community in repo.list_communities(session):
        household = household_at(
            session, community.id, address["building"], address.get("unit"), address["room"], create=False
        )
        if household is None or worker not in readers_of(community, household):
            continue
        enrolments = sc.enrolments_of_household(session, household_id=household.id)
        if not enrolments:
            return f"{household.label} 没有开通报平安。"
        return "\n".join(checkins.check_in_for(session, e, by=f"worker:{worker}", how=how, now=now) for e in enrolments)
    return "没有找到这户，或这户不归您负责。"
