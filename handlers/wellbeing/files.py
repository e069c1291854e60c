"""A household's file (一户一档) as workers keep it: members, contacts, consent, and who may read it.

Sensitive fields (tags outside OPEN_TAGS, health notes, a member's phone) are accepted only while the
household's separate consent is live, are sealed with the secret key, and are deleted when it is withdrawn.
Only the household's grid worker and the community leader may read the file; the caller audits each read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from handlers.communities import spec_of
from handlers.privacy import DecryptionError, decrypt_phone, encrypt_phone, mask_phone
from handlers.wellbeing.rules import OPEN_TAGS
from storage import household_files as files
from storage import safecheck as sc
from storage.households import Household
from storage.models import Community, Resident
from storage.safecheck import Enrolment

CONSENT_WORDING = (
    "本户同意社区记录本户成员的健康、残疾、低保、未成年人等敏感信息和联系电话，仅用于关爱服务和紧急联络，"
    "仅网格员和社区负责人可查看，可随时撤回，撤回后即删除。"
)


class FileError(ValueError):
    """A change refused with a reason a worker can act on; nothing was written."""


def readers_of(community: Community, household: Household) -> set[str]:
    """WeCom userids allowed to read the household's file: its grid worker and the community leader."""
    spec = spec_of(community)
    readers = {g.worker.wecom_userid for g in spec.grids if household.building in g.buildings}
    if spec.escalation is not None:
        readers.add(spec.escalation.leader.wecom_userid)
    if not spec.grids and spec.duty is not None:
        readers.add(spec.duty.wecom_userid)  # a community without grids: the duty worker is its grid worker
    return readers


def may_read(community: Community, household: Household, worker: str | None) -> bool:
    """`worker` None is the office (the admin token)."""
    return worker is None or worker in readers_of(community, household)


def grid_worker(community: Community, household: Household) -> str | None:
    spec = spec_of(community)
    for grid in spec.grids:
        if household.building in grid.buildings:
            return grid.worker.wecom_userid
    return spec.duty.wecom_userid if spec.duty else None


def _seal(secret_key: str, data: dict[str, Any]) -> str:
    return encrypt_phone(secret_key, json.dumps(data, ensure_ascii=False))


def _unseal(secret_key: str, token: str | None) -> dict[str, Any]:
    if not token:
        return {}
    try:
        loaded = json.loads(decrypt_phone(secret_key, token))
    except (DecryptionError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def record_consent(session: Session, household: Household, *, given_by: str, wording: str, now: datetime) -> None:
    wording = wording.strip() or CONSENT_WORDING
    session.add(
        files.HouseholdConsent(household_id=household.id, given_by=given_by[:100], wording=wording, given_at=now)
    )
    files.add_log(
        session, household_id=household.id, actor=given_by, action="consent", at=now, note="登记敏感信息单独同意"
    )


def withdraw_consent(session: Session, household: Household, *, by: str, now: datetime) -> int:
    """Withdraw the consent and delete every sensitive field of the household; the number of members cleared."""
    consent = files.live_consent(session, household_id=household.id)
    if consent is None:
        raise FileError("本户没有有效的敏感信息授权")
    consent.withdrawn_at, consent.withdrawn_by = now, by[:100]
    cleared = 0
    for member in files.members_of(session, household_id=household.id):
        if member.sensitive_encrypted:
            cleared += 1
        member.sensitive_encrypted = None
    files.add_log(session, household_id=household.id, actor=by, action="consent_withdrawn", at=now)
    return cleared


def add_member(
    session: Session,
    secret_key: str,
    community: Community,
    household: Household,
    *,
    name: str,
    by: str,
    now: datetime,
    phone: str | None = None,
    birth_year: int | None = None,
    tags: list[str] | None = None,
    health: str | None = None,
    needs: str = "",
    resident: Resident | None = None,
) -> files.HouseholdMember:
    name = name.strip()
    if not name or len(name) > 64:
        raise FileError("姓名需为 1-64 个字")
    known = spec_of(community).household_tags
    tags = [t.strip() for t in tags or [] if t.strip()]
    unknown = [t for t in tags if t not in known]
    if unknown:
        raise FileError(f"社区文件中没有这些标签：{'、'.join(unknown)}（可用：{'、'.join(known)}）")
    if birth_year is not None and not 1900 <= birth_year <= now.year:
        raise FileError("出生年份不对")
    sensitive: dict[str, Any] = {"tags": [t for t in tags if t not in OPEN_TAGS]}
    if health:
        sensitive["health"] = health.strip()
    if phone:
        digits = "".join(ch for ch in phone if ch.isdigit())
        if not 7 <= len(digits) <= 15:
            raise FileError("电话号码不对")
        sensitive["phone"] = digits
    has_sensitive = bool(sensitive["tags"] or health or phone)
    if has_sensitive and files.live_consent(session, household_id=household.id) is None:
        raise FileError("敏感信息（健康、残疾、低保、失独、留守儿童、电话）需先登记本户的单独同意（consent）")
    member = files.HouseholdMember(
        household_id=household.id,
        resident_id=resident.id if resident else None,
        name=name,
        birth_year=birth_year,
        tags=",".join(t for t in tags if t in OPEN_TAGS),
        sensitive_encrypted=_seal(secret_key, sensitive) if has_sensitive else None,
        needs=needs.strip()[:500],
        created_at=now,
    )
    session.add(member)
    session.flush()
    files.add_log(session, household_id=household.id, actor=by, action="member_added", at=now, note=name)
    return member


def add_contact(
    session: Session,
    secret_key: str,
    household: Household,
    *,
    role: str,
    name: str,
    by: str,
    now: datetime,
    phone: str | None = None,
    resident: Resident | None = None,
    wecom_userid: str | None = None,
) -> files.HouseholdContact:
    if role not in files.CONTACT_ROLES:
        raise FileError(f"联系人类别只能是：{', '.join(files.CONTACT_ROLES)}")
    name = name.strip()
    if not name or len(name) > 64:
        raise FileError("姓名需为 1-64 个字")
    digits = "".join(ch for ch in phone or "" if ch.isdigit())
    if phone and not 7 <= len(digits) <= 15:
        raise FileError("电话号码不对")
    contact = files.HouseholdContact(
        household_id=household.id,
        role=role,
        name=name,
        phone_encrypted=encrypt_phone(secret_key, digits) if digits else None,
        resident_id=resident.id if resident else None,
        wecom_userid=(wecom_userid or "").strip() or None,
        created_at=now,
    )
    session.add(contact)
    session.flush()
    files.add_log(session, household_id=household.id, actor=by, action="contact_added", at=now, note=f"{role} {name}")
    return contact


def contact_phone(secret_key: str, contact: files.HouseholdContact, *, reveal: bool) -> str:
    if not contact.phone_encrypted:
        return "未登记"
    try:
        phone = decrypt_phone(secret_key, contact.phone_encrypted)
    except (DecryptionError, ValueError):
        return "未登记"
    return phone if reveal else mask_phone(phone)


@dataclass
class HouseholdFile:
    """What a permitted reader sees: the household, its people, and its history."""

    id: int
    label: str
    community: str
    members: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    consent: dict[str, Any] | None = None
    enrolments: list[dict[str, Any]] = field(default_factory=list)
    log: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def read_file(
    session: Session, secret_key: str, community: Community, household: Household, *, reveal: bool
) -> HouseholdFile:
    """The whole file, decrypted; `reveal` shows phones in full (the grid worker and leaders only)."""
    result = HouseholdFile(household.id, household.label, community.name)
    for member in files.members_of(session, household_id=household.id):
        sensitive = _unseal(secret_key, member.sensitive_encrypted)
        phone = str(sensitive.get("phone") or "")
        result.members.append(
            {
                "id": member.id,
                "name": member.name,
                "birth_year": member.birth_year,
                "tags": member.tag_list + list(sensitive.get("tags") or []),
                "health": sensitive.get("health") or "",
                "phone": (phone if reveal else mask_phone(phone)) if phone else "未登记",
                "needs": member.needs,
                "wechat": member.resident_id is not None,
            }
        )
    for contact in files.contacts_of(session, household_id=household.id):
        result.contacts.append(
            {
                "id": contact.id,
                "role": contact.role,
                "role_name": files.CONTACT_ROLES.get(contact.role, contact.role),
                "name": contact.name,
                "phone": contact_phone(secret_key, contact, reveal=reveal),
                "wecom_userid": contact.wecom_userid,
                "wechat": contact.resident_id is not None,
            }
        )
    consent = files.live_consent(session, household_id=household.id)
    if consent is not None:
        result.consent = {
            "given_by": consent.given_by,
            "given_at": consent.given_at.isoformat(),
            "wording": consent.wording,
        }
    enrolments = session.scalars(select(Enrolment).where(Enrolment.household_id == household.id).order_by(Enrolment.id))
    for enrolment in enrolments:
        result.enrolments.append(
            {
                "id": enrolment.id,
                "name": enrolment.name,
                "status": enrolment.status,
                "prompt_minute": enrolment.prompt_minute,
                "paused_until": enrolment.paused_until.isoformat() if enrolment.paused_until else None,
                "days": [sc.as_dict(d) for d in sc.days_of(session, enrolment_ids=[enrolment.id], limit=14)],
            }
        )
    for entry in files.log_of(session, household_id=household.id):
        result.log.append(
            {"at": entry.at.isoformat(), "actor": entry.actor, "action": entry.action, "note": entry.note}
        )
    return result
