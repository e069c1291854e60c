"""Proposals (议事): a resident's suggestion, a worker publishing or refusing it, households supporting it,
the council agenda at the community's threshold, the meeting as an activity, and the decision.

Every function runs in the caller's transaction; what residents and workers are told leaves through the
outbox only if the change commits. The webhook, the WeCom callback, the API and the CLI share them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from handlers.base import Context
from handlers.communities import spec_of
from handlers.notify import console_url, push_to_resident, wecom_card
from handlers.participation.points import award_participation
from handlers.runtime import Settings
from handlers.volunteering.activities import create_activity_with_qr
from handlers.volunteering.rules import format_time
from storage import participation as store
from storage import repositories as repo
from storage.households import household_of
from storage.models import Community, Resident
from storage.participation import Proposal

# Longest proposal we keep; a longer message is cut, never refused.
TEXT_LIMIT = 1000


@dataclass(frozen=True)
class WorkerResult:
    """What a worker's action came to: the answer for the worker, and for the API a status code."""

    ok: bool
    message: str
    status_code: int = 200
    proposal: Proposal | None = None


def short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def proposal_json(session: Session, proposal: Proposal) -> dict[str, object]:
    return {
        "id": proposal.id,
        "code": proposal.code,
        "community_id": proposal.community_id,
        "text": proposal.text,
        "status": proposal.status,
        "status_name": store.PROPOSAL_STATUS_NAMES.get(proposal.status, proposal.status),
        "reason": proposal.reason,
        "supports": store.support_count(session, proposal_id=proposal.id),
        "threshold": _threshold(session, proposal),
        "activity_id": proposal.activity_id,
        "decision": proposal.decision,
        "created_at": proposal.created_at.isoformat(),
    }


def _threshold(session: Session, proposal: Proposal) -> int:
    community = session.get(Community, proposal.community_id)
    return spec_of(community).proposal_threshold if community else 20


def _duty_and_leader(community: Community) -> list[str]:
    spec = spec_of(community)
    people = [
        spec.duty.wecom_userid if spec.duty else None,
        spec.escalation.leader.wecom_userid if spec.escalation else None,
    ]
    return [p for i, p in enumerate(people) if p and p not in people[:i]]


def _tell_workers(
    session: Session, settings: Settings, community: Community, *, title: str, lines: list[str], key: str, now: datetime
) -> None:
    card = wecom_card(
        title,
        [("highlight", lines[0]), *(("normal", line) for line in lines[1:])],
        url=console_url(settings, "/console/"),
    )
    for userid in _duty_and_leader(community) or ["@duty"]:
        repo.enqueue_outbox(
            session,
            channel="wecom_app",
            recipient=userid,
            payload=card | {"level": "blue"},
            community_id=community.id,
            now=now,
            dedupe_key=f"{key}:{userid}",
        )


def _tell_resident(
    session: Session, resident_id: int, proposal: Proposal, *, text: str, key: str, now: datetime
) -> bool:
    resident = session.get(Resident, resident_id)
    community = session.get(Community, proposal.community_id)
    if resident is None:
        return False
    push = push_to_resident(
        session,
        resident,
        text=text,
        template_id=spec_of(community).participation_template_id if community else None,
        template_data={
            "first": {"value": f"您关心的建议 {proposal.code} 有新进展"},
            "keyword1": {"value": short(proposal.text)},
            "keyword2": {"value": store.PROPOSAL_STATUS_NAMES.get(proposal.status, proposal.status)},
            "remark": {"value": short(text, 100)},
        },
        community_id=proposal.community_id,
        now=now,
        dedupe_key=f"{key}:{resident_id}",
        about=f"proposal {proposal.code}",
    )
    return push.queued


def _tell_everyone(session: Session, proposal: Proposal, *, text: str, key: str, now: datetime) -> int:
    """The proposer and every supporter, once each."""
    people = [proposal.proposer_id, *store.supporter_ids(session, proposal_id=proposal.id)]
    unique = [p for i, p in enumerate(people) if p not in people[:i]]
    return sum(_tell_resident(session, rid, proposal, text=text, key=key, now=now) for rid in unique)


# --- a resident proposes ------------------------------------------------------------------------------


def submit_proposal(ctx: Context, text: str) -> Proposal:
    """File the resident's proposal (once per message, whatever WeChat retries) and tell the workers."""
    assert ctx.community is not None
    proposal, created = store.create_proposal(
        ctx.session,
        community_id=ctx.community.id,
        proposer_id=ctx.resident.id,
        text=text.strip()[:TEXT_LIMIT],
        now=ctx.now,
        source_key=f"inbound:{ctx.inbound_id}" if ctx.inbound_id else None,
    )
    if created:
        _tell_workers(
            ctx.session,
            ctx.settings,
            ctx.community,
            title=f"【居民建议】{proposal.code}",
            lines=[
                short(proposal.text, 200),
                f"回复“发布 {proposal.code}”公布征集附议，或“不予采纳 {proposal.code} 理由”（理由会告诉居民）。",
            ],
            key=f"proposal-new:{proposal.id}",
            now=ctx.now,
        )
    return proposal


# --- workers act -----------------------------------------------------------------------------------------


def _find(session: Session, proposal_id: int, community_id: int | None) -> Proposal | None:
    proposal = store.proposal_by_id(session, proposal_id=proposal_id, for_update=True)
    if proposal is None or (community_id is not None and proposal.community_id != community_id):
        return None
    return proposal


def _missing(proposal_id: int) -> WorkerResult:
    return WorkerResult(False, f"没有找到建议 P{proposal_id}，请核对编号。", 404)


def publish_proposal(
    session: Session,
    settings: Settings,
    *,
    proposal_id: int,
    worker: str,
    now: datetime,
    community_id: int | None = None,
) -> WorkerResult:
    proposal = _find(session, proposal_id, community_id)
    if proposal is None:
        return _missing(proposal_id)
    if proposal.status != "submitted":
        name = store.PROPOSAL_STATUS_NAMES[proposal.status]
        return WorkerResult(False, f"建议 {proposal.code} 现在是“{name}”，不能再发布。", 409, proposal)
    proposal.status, proposal.published_at, proposal.published_by = "published", now, worker
    threshold = _threshold(session, proposal)
    # Points for proposing are paid when the proposal is published: a refused one earns nothing.
    award_participation(
        session,
        resident_id=proposal.proposer_id,
        community_id=proposal.community_id,
        kind="proposal",
        cause=proposal.code,
        now=now,
        what=proposal.code,
    )
    _tell_resident(
        session,
        proposal.proposer_id,
        proposal,
        text=(
            f"您的建议 {proposal.code}（{short(proposal.text)}）已经公布啦！"
            f"邻居们发“附议 {proposal.code}”就能支持，满 {threshold} 户就列入居民议事会议程。"
        ),
        key=f"proposal-published:{proposal.id}",
        now=now,
    )
    return WorkerResult(True, f"已发布建议 {proposal.code}，居民可发“附议 {proposal.code}”支持。", 200, proposal)


def refuse_proposal(
    session: Session,
    settings: Settings,
    *,
    proposal_id: int,
    worker: str,
    reason: str,
    now: datetime,
    community_id: int | None = None,
) -> WorkerResult:
    reason = reason.strip()
    if not reason:
        return WorkerResult(False, "请写上不予采纳的理由，居民会看到，例如：不予采纳 P12 场地不够。", 400)
    proposal = _find(session, proposal_id, community_id)
    if proposal is None:
        return _missing(proposal_id)
    if proposal.status not in ("submitted", "published"):
        name = store.PROPOSAL_STATUS_NAMES[proposal.status]
        return WorkerResult(False, f"建议 {proposal.code} 现在是“{name}”，不能再不予采纳。", 409, proposal)
    proposal.status, proposal.reason = "refused", reason[:500]
    proposal.decided_at, proposal.decided_by = now, worker
    _tell_everyone(
        session,
        proposal,
        text=(
            f"您的建议 {proposal.code}（{short(proposal.text)}）这次没有被采纳。\n原因：{proposal.reason}\n"
            "谢谢您为社区着想，有新想法随时告诉我们。"
        ),
        key=f"proposal-refused:{proposal.id}",
        now=now,
    )
    return WorkerResult(True, f"已不予采纳建议 {proposal.code}，理由已告诉提出的居民。", 200, proposal)


def schedule_meeting(
    session: Session,
    settings: Settings,
    *,
    proposal_id: int,
    worker: str,
    starts_at: datetime,
    ends_at: datetime,
    place: str,
    now: datetime,
    community_id: int | None = None,
) -> WorkerResult:
    """The council meeting that discusses it, as a meeting activity (attending it earns meeting points)."""
    proposal = _find(session, proposal_id, community_id)
    if proposal is None:
        return _missing(proposal_id)
    if proposal.status != "on_agenda":
        name = store.PROPOSAL_STATUS_NAMES[proposal.status]
        return WorkerResult(False, f"建议 {proposal.code} 现在是“{name}”，列入议程后才能安排议事会。", 409, proposal)
    try:
        activity = create_activity_with_qr(
            session,
            data_dir=settings.data_dir,
            title=f"居民议事会：{short(proposal.text, 40)}",
            kind="meeting",
            starts_at=starts_at,
            ends_at=ends_at,
            now=now,
            community_id=proposal.community_id,
            place=place,
            created_by=worker,
        )
    except ValueError as exc:
        return WorkerResult(False, str(exc), 400, proposal)
    proposal.activity_id = activity.id
    where = f"，地点：{activity.place}" if activity.place else ""
    _tell_everyone(
        session,
        proposal,
        text=(
            f"您关心的建议 {proposal.code}（{short(proposal.text)}）将在 {format_time(starts_at)} 的居民议事会上讨论{where}。"
            f"欢迎来参加，回复“报名 居民议事会”报名，到场签到还有积分。"
        ),
        key=f"proposal-meeting:{proposal.id}:{activity.id}",
        now=now,
    )
    return WorkerResult(
        True,
        f"已安排议事会（活动 {activity.id}，签到码 {activity.checkin_code}），并通知了提议和附议的居民。",
        201,
        proposal,
    )


def decide_proposal(
    session: Session,
    settings: Settings,
    *,
    proposal_id: int,
    worker: str,
    decision: str,
    now: datetime,
    community_id: int | None = None,
) -> WorkerResult:
    """The council's decision and what follows, pushed to the proposer and every supporter."""
    decision = decision.strip()
    if not decision:
        return WorkerResult(False, "请写上议事会的决定和接下来怎么做，例如：决定 P12 同意，12月底前安装两张球台。", 400)
    proposal = _find(session, proposal_id, community_id)
    if proposal is None:
        return _missing(proposal_id)
    if proposal.status not in ("published", "on_agenda"):
        name = store.PROPOSAL_STATUS_NAMES[proposal.status]
        return WorkerResult(False, f"建议 {proposal.code} 现在是“{name}”，不能再记录决定。", 409, proposal)
    proposal.status, proposal.decision = "decided", decision[:1000]
    proposal.decided_at, proposal.decided_by = now, worker
    told = _tell_everyone(
        session,
        proposal,
        text=f"您关心的建议 {proposal.code}（{short(proposal.text)}）有结果了：\n{proposal.decision}\n谢谢您的参与！",
        key=f"proposal-decided:{proposal.id}",
        now=now,
    )
    return WorkerResult(True, f"已记录建议 {proposal.code} 的决定，通知了 {told} 位居民。", 200, proposal)


# --- residents support ------------------------------------------------------------------------------------


def why_not_supportable(proposal: Proposal | None, proposal_id: int, community_id: int | None) -> str | None:
    """What to tell a resident who cannot support this proposal; None when they can."""
    if proposal is None or proposal.community_id != community_id or proposal.status == "submitted":
        return f"没有找到可以附议的建议 P{proposal_id}。请看看编号对不对。"
    if proposal.status in ("refused", "decided"):
        return f"建议 {proposal.code} 已经有结果了，不用再附议啦。谢谢您的关心！"
    return None


def support_proposal(ctx: Context, proposal_id: int) -> str:
    """The reply to "附议 P12": one support per household; the threshold puts it on the council agenda."""
    session = ctx.session
    proposal = store.proposal_by_id(session, proposal_id=proposal_id, for_update=True)
    refusal = why_not_supportable(proposal, proposal_id, ctx.community_id)
    if refusal is not None or proposal is None:
        return refusal or ""
    household = household_of(session, ctx.resident)
    assert household is not None  # the handler asked for the address first
    if not store.add_support(
        session, proposal_id=proposal.id, household_id=household.id, resident_id=ctx.resident.id, now=ctx.now
    ):
        return f"您家（{household.label}）已经附议过建议 {proposal.code} 了，每户算一份，谢谢您的支持！"
    count = store.support_count(session, proposal_id=proposal.id)
    threshold = _threshold(session, proposal)
    points = award_participation(
        session,
        resident_id=ctx.resident.id,
        community_id=proposal.community_id,
        kind="support",
        cause=f"{proposal.code}:{ctx.resident.id}",
        now=ctx.now,
        what=proposal.code,
    )
    thanks = f"（积分 +{points}）" if points else ""
    if proposal.status == "published" and count >= threshold:
        proposal.status, proposal.agenda_at = "on_agenda", ctx.now
        community = session.get(Community, proposal.community_id)
        if community is not None:
            _tell_workers(
                session,
                ctx.settings,
                community,
                title=f"【列入议程】建议 {proposal.code} 已有 {count} 户附议",
                lines=[
                    short(proposal.text, 200),
                    "请安排居民议事会：API POST /api/proposals/{id}/meeting，"
                    f"或 shegong proposal meeting {proposal.id} --start … --end … --place …",
                ],
                key=f"proposal-agenda:{proposal.id}",
                now=ctx.now,
            )
        return (
            f"附议成功{thanks}！建议 {proposal.code} 已有 {count} 户支持，达到 {threshold} 户，"
            "列入居民议事会议程了。开会时间定下来就告诉您。"
        )
    more = f"还差 {threshold - count} 户就能列入议事会议程。" if count < threshold else ""
    return f"附议成功{thanks}！建议 {proposal.code} 现在有 {count} 户支持。{more}有进展会告诉您。"
