"""志愿者与能人库 and 积分: the skills register (searchable), a resident's ledger with reversal by click and
reason, the rewards with their stock, and voucher write-off (核销) by code.

Changes go through the ledger's own functions (storage.ledger, storage.rewards), which change a balance,
a stock or a voucher together or not at all.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from bot.console.auth import ChangeDep, ViewerDep, audit, services_of
from bot.console.people import Viewer
from bot.console.render import page
from handlers.privacy import DecryptionError, decrypt_phone, mask_phone
from storage import console_people as store
from storage import ledger as lrepo
from storage import rewards as rrepo
from storage.rewards import Reward, Voucher
from storage.volunteers import SKILLS

router = APIRouter(prefix="/console")

# A restock is a delivery, not a typo: more than this in one go is refused, and so is a total past MAX_STOCK.
MAX_RESTOCK = 1000
MAX_STOCK = 100_000
KIND_NAMES = {
    "award": "获得",
    "redemption": "兑换",
    "adjustment": "调整",
    "reversal": "冲正",
    "expiry": "过期",
    "time_spend": "时间银行支出",
}
VOUCHER_REFUSALS = {
    "unknown": "没有这个券码，请核对后再输入。",
    "used": "这张券已经核销过了，不能再用。",
    "expired": "这张券已过期。",
    "other_community": "这张券不是本社区的。",
}


def _address(building: str | None, unit: str | None, room: str | None) -> str:
    parts = [building and f"{building}号楼", unit and f"{unit}单元", room and f"{room}室"]
    return "".join(p for p in parts if p) or "住址未登记"


def _masked(secret_key: str, encrypted: str) -> str:
    try:
        return mask_phone(decrypt_phone(secret_key, encrypted))
    except (DecryptionError, ValueError):
        return "电话未知"


@router.get("/volunteers")
def volunteer_list(request: Request, viewer: ViewerDep, skill: str = "", q: str = "") -> Response:
    services = services_of(request)
    audit(services, request, viewer, action="read")
    skill = skill if skill in SKILLS else ""
    with services.sessions.begin() as session:
        found = store.volunteers(
            session, community_ids=sorted({r.community_id for r in viewer.reach}), skill=skill, text=q[:64]
        )
        names = {c.id: c.name for c in viewer.communities}
        rows = [
            {
                "name": v.name,
                "community": names.get(v.community_id or 0, ""),
                "phone": _masked(services.settings.secret_key, v.phone_encrypted),
                "skills": skills,
                "availability": v.availability,
            }
            for v, skills in found
        ]
    context = {"viewer": viewer, "active": "volunteers", "rows": rows, "skills": SKILLS, "skill": skill, "q": q[:64]}
    return page(request, "volunteers.html", context)


@router.get("/points")
def points_search(request: Request, viewer: ViewerDep, find: str = "") -> Response:
    services = services_of(request)
    audit(services, request, viewer, action="read")
    with services.sessions.begin() as session:
        found = [
            (r, _address(r.building, r.unit, r.room), lrepo.balances(session, resident_id=r.id))
            for r in store.find_residents(session, reach=viewer.reach, text=find[:64])
        ]
    context = {"viewer": viewer, "active": "points", "find": find[:64], "found": found}
    return page(request, "points.html", context)


@router.get("/points/{resident_id}")
def ledger_page(request: Request, resident_id: int, viewer: ViewerDep, notice: str = "", warn: str = "") -> Response:
    services = services_of(request)
    with services.sessions.begin() as session:
        someone = store.visible_resident(session, reach=viewer.reach, resident_id=resident_id)
        community_id = someone.community_id if someone else None
    if someone is None:
        raise HTTPException(404, "没有找到这位居民")
    audit(services, request, viewer, action="read", community_id=community_id)
    with services.sessions.begin() as session:
        resident = store.visible_resident(session, reach=viewer.reach, resident_id=resident_id)
        assert resident is not None
        entries, reversed_ids = store.ledger_of(session, resident_id=resident_id)
        context: dict[str, Any] = {
            "viewer": viewer,
            "active": "points",
            "resident": resident,
            "address": _address(resident.building, resident.unit, resident.room),
            "balances": lrepo.balances(session, resident_id=resident_id),
            "entries": [(e, e.id in reversed_ids, viewer.name_of(e.worker) if e.worker else "") for e in entries],
            "vouchers": rrepo.vouchers_of(session, resident_id=resident_id, limit=20),
            "kinds": KIND_NAMES,
            "notice": notice[:300],
            "warn": warn[:300],
        }
    return page(request, "ledger.html", context)


def _reversal_refusal(exc: lrepo.LedgerError) -> str:
    if isinstance(exc, lrepo.AlreadyReversed):
        return "这一笔已经冲正过了。"
    if isinstance(exc, lrepo.InsufficientBalance):
        return "居民的余额不够扣回这一笔（可能已经用掉了），请联系居民后再处理。"
    if isinstance(exc, lrepo.EntryNotFound):
        return "没有这一笔记录。"
    text = str(exc)
    if "redemption" in text:
        return "兑换的积分要通过作废券来退回，不能直接冲正。"
    if "reversal cannot" in text:
        return "冲正记录本身不能再冲正；如有需要请另记一笔调整。"
    return "请写明冲正的原因。"


@router.post("/points/{resident_id}/reverse")
def reverse(
    request: Request,
    resident_id: int,
    viewer: ChangeDep,
    entry_id: Annotated[int, Form()],
    reason: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    services = services_of(request)
    back = f"/console/points/{resident_id}"
    if not reason.strip():
        return _redirect(back, warn="请写明冲正的原因（例如“活动未实际参加”）。")
    try:
        with services.sessions.begin() as session:
            if store.visible_resident(session, reach=viewer.reach, resident_id=resident_id) is None:
                raise HTTPException(404, "没有找到这位居民")
            original = session.get(lrepo.LedgerEntry, entry_id)
            if original is None or original.resident_id != resident_id:
                raise HTTPException(404, "没有这一笔记录")
            entry = lrepo.reverse_entry(
                session, entry_id=entry_id, reason=reason.strip(), worker=viewer.userid, now=services.clock()
            )
            unit = "分钟" if entry.unit == "minutes" else "分"
            text = f"已冲正：{entry.amount:+d} {unit}。"
    except lrepo.LedgerError as exc:
        return _redirect(back, warn=_reversal_refusal(exc))
    return _redirect(back, notice=text)


def _reward_rows(request: Request, viewer: Viewer) -> list[tuple[str, list[Reward], bool]]:
    whole = {r.community_id for r in viewer.reach if r.everything}
    with services_of(request).sessions.begin() as session:
        return [(c.name, rrepo.rewards_for(session, community_id=c.id), c.id in whole) for c in viewer.communities]


@router.get("/rewards")
def reward_list(request: Request, viewer: ViewerDep, notice: str = "", warn: str = "") -> Response:
    context = {
        "viewer": viewer,
        "active": "points",
        "communities": _reward_rows(request, viewer),
        "max_restock": MAX_RESTOCK,
        "notice": notice[:300],
        "warn": warn[:300],
    }
    return page(request, "rewards.html", context)


@router.post("/rewards/{reward_id}/stock")
def restock(
    request: Request, reward_id: int, viewer: ChangeDep, by: Annotated[str, Form(max_length=8)] = ""
) -> Response:
    """Add stock (or write some off with a minus sign), for those who answer for the whole community."""
    services = services_of(request)
    text = by.strip()
    number = int(text) if text.lstrip("-").isdigit() and text.count("-") <= 1 else None
    if number is None or number == 0 or abs(number) > MAX_RESTOCK:
        return _redirect("/console/rewards", warn=f"数量请填 1 到 {MAX_RESTOCK} 之间的整数（减少库存写负数）。")
    whole = {r.community_id for r in viewer.reach if r.everything}
    try:
        with services.sessions.begin() as session:
            reward = session.get(Reward, reward_id)
            if reward is None or reward.community_id not in {r.community_id for r in viewer.reach}:
                raise HTTPException(404, "没有这个奖品")
            if reward.community_id not in whole:
                raise HTTPException(403, "补货由社区值班人员或负责人登记。")
            if reward.stock + number > MAX_STOCK:
                return _redirect("/console/rewards", warn=f"库存不能超过 {MAX_STOCK}。")
            changed = rrepo.change_stock(session, community_id=reward.community_id, name=reward.name, by=number)
            text = f"{changed.name}：库存 {changed.stock}。"
    except lrepo.LedgerError:
        return _redirect("/console/rewards", warn="库存不够减，请核对数量。")
    return _redirect("/console/rewards", notice=text)


@router.post("/vouchers/use")
def use_voucher(request: Request, viewer: ChangeDep, code: Annotated[str, Form(max_length=32)] = "") -> Response:
    """核销: the resident shows their code; it is marked used once, in this worker's communities only."""
    services = services_of(request)
    code = code.strip().upper()
    if not code:
        return _redirect("/console/rewards", warn="请输入居民出示的券码。")
    communities = sorted({r.community_id for r in viewer.reach})
    with services.sessions.begin() as session:
        voucher = session.scalar(select(Voucher).where(Voucher.code == code))
        community_id = voucher.community_id if voucher is not None and voucher.community_id in communities else None
        if community_id is None:
            return _redirect("/console/rewards", warn=VOUCHER_REFUSALS["unknown"])
    try:
        with services.sessions.begin() as session:
            used = rrepo.use_voucher(
                session, code=code, worker=viewer.userid, now=services.clock(), community_id=community_id
            )
            reward = session.get(Reward, used.reward_id)
            text = f"已核销 {code}：{reward.name if reward else ''}，请把奖品交给居民。"
    except rrepo.VoucherRefused as exc:
        return _redirect("/console/rewards", warn=VOUCHER_REFUSALS[exc.reason])
    return _redirect("/console/rewards", notice=text)


def _redirect(path: str, *, notice: str = "", warn: str = "") -> Response:
    query = f"notice={quote(notice)}" if notice else f"warn={quote(warn)}"
    return RedirectResponse(f"{path}?{query}", status_code=303)
