"""Rewards and vouchers: the catalogue residents spend points on, and the vouchers workers mark used.

Repository functions take a Session and keyword arguments and never commit. Stock, balance and voucher
change together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
    bindparam,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from storage.ledger import ENTRY_ID, InsufficientBalance, LedgerError, balance, lock_resident, post_entry
from storage.models import Base, utcnow


class Reward(Base):
    __tablename__ = "reward"
    __table_args__ = (
        UniqueConstraint("community_id", "name", name="uq_reward_name"),
        # The database itself refuses a negative stock, whatever the code above it does.
        CheckConstraint("stock >= 0", name="ck_reward_stock_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("community.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(String(500), default="")
    points_price: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    valid_days: Mapped[int] = mapped_column(Integer, default=30)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Voucher(Base):
    __tablename__ = "voucher"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("reward.id"), index=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("resident.id"), index=True)
    community_id: Mapped[int | None] = mapped_column(ForeignKey("community.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ENTRY_ID, ForeignKey("ledger_entry.id"), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    used_at: Mapped[datetime | None]
    used_by: Mapped[str | None] = mapped_column(String(64))


# --- errors ---------------------------------------------------------------------------------------


class OutOfStock(LedgerError):
    pass


class VoucherRefused(LedgerError):
    def __init__(self, reason: Literal["unknown", "used", "expired", "other_community"], voucher: Voucher | None):
        super().__init__(reason)
        self.reason = reason
        self.voucher = voucher


# --- rewards and vouchers ------------------------------------------------------------------------------


def sync_rewards(session: Session, *, community_id: int, items: Sequence[dict[str, Any]]) -> None:
    """Bring the catalogue in line with the community file.

    Stock is seeded from the file when an item first appears and then lives in the database, because
    redemptions change it; prices, validity and descriptions follow the file.
    """
    existing = {r.name: r for r in session.scalars(select(Reward).where(Reward.community_id == community_id))}
    names = set()
    for item in items:
        name = str(item["name"])
        names.add(name)
        row = existing.get(name)
        if row is None:
            session.add(
                Reward(
                    community_id=community_id,
                    name=name,
                    description=str(item.get("description") or ""),
                    points_price=int(item["points_price"]),
                    stock=int(item["stock"]),
                    valid_days=int(item.get("valid_days") or 30),
                    active=True,
                )
            )
        else:
            row.description = str(item.get("description") or "")
            row.points_price = int(item["points_price"])
            row.valid_days = int(item.get("valid_days") or 30)
            row.active = True
    for name, row in existing.items():
        if name not in names:
            row.active = False
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another request seeded the same item a moment ago; its row is as good as ours.
        pass


_CATALOGUE = (
    select(Reward)
    .where(Reward.community_id == bindparam("community"), Reward.active.is_(True))
    .order_by(Reward.points_price, Reward.id)
)


def rewards_for(session: Session, *, community_id: int) -> list[Reward]:
    return list(session.scalars(_CATALOGUE, {"community": community_id}))


def change_stock(session: Session, *, community_id: int, name: str, by: int) -> Reward:
    """Add (or, with a negative `by`, write off) stock in one UPDATE, so a redemption at the same moment
    is never lost; refuses to go below zero."""
    reward = session.scalar(select(Reward).where(Reward.community_id == community_id, Reward.name == name))
    if reward is None:
        raise LedgerError(f"no reward {name!r} in this community's catalogue")
    if by == 0:
        raise LedgerError("the change of stock must not be zero")
    changed = session.execute(
        update(Reward).where(Reward.id == reward.id, Reward.stock + by >= 0).values(stock=Reward.stock + by)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        raise LedgerError(f"only {reward.stock} left of {name!r}; cannot remove {-by}")
    session.refresh(reward)
    return reward


def find_reward(session: Session, *, community_id: int, name: str) -> Reward | None:
    rewards = rewards_for(session, community_id=community_id)
    exact = next((r for r in rewards if r.name == name), None)
    if exact is not None:
        return exact
    close = [r for r in rewards if name in r.name or r.name in name]
    return close[0] if len(close) == 1 else None


def redeem_reward(
    session: Session,
    *,
    resident_id: int,
    community_id: int,
    reward_id: int,
    now: datetime,
    new_code: Callable[[], str],
) -> Voucher:
    """Spend points on one item: stock, balance and voucher change together or not at all."""
    lock_resident(session, resident_id=resident_id)
    reward = session.get(Reward, reward_id, populate_existing=True)
    if reward is None or not reward.active or reward.community_id != community_id:
        raise OutOfStock("no such reward")
    if balance(session, resident_id=resident_id, unit="points") < reward.points_price:
        raise InsufficientBalance("not enough points")
    taken = session.execute(
        update(Reward).where(Reward.id == reward_id, Reward.stock > 0).values(stock=Reward.stock - 1)
    )
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise OutOfStock("out of stock")
    code = new_code()
    entry = post_entry(
        session,
        resident_id=resident_id,
        community_id=community_id,
        unit="points",
        amount=-reward.points_price,
        kind="redemption",
        reason=f"兑换 {reward.name}",
        now=now,
        source_key=f"redeem:{code}",
    )
    if entry is None:
        raise LedgerError("voucher code collision; try again")
    voucher = Voucher(
        code=code,
        reward_id=reward.id,
        resident_id=resident_id,
        community_id=community_id,
        entry_id=entry.id,
        issued_at=now,
        expires_at=now + timedelta(days=reward.valid_days) if reward.valid_days else None,
    )
    session.add(voucher)
    session.flush()
    return voucher


def use_voucher(session: Session, *, code: str, worker: str, now: datetime, community_id: int | None = None) -> Voucher:
    """Mark a voucher used (核销) exactly once; the conditional UPDATE settles two workers at once."""
    voucher = session.scalar(select(Voucher).where(Voucher.code == code.strip().upper()))
    if voucher is None:
        raise VoucherRefused("unknown", None)
    if community_id is not None and voucher.community_id != community_id:
        raise VoucherRefused("other_community", voucher)
    if voucher.expires_at is not None and voucher.expires_at <= now and voucher.used_at is None:
        raise VoucherRefused("expired", voucher)
    result = session.execute(
        update(Voucher).where(Voucher.id == voucher.id, Voucher.used_at.is_(None)).values(used_at=now, used_by=worker)
    )
    session.refresh(voucher)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise VoucherRefused("used", voucher)
    return voucher


def vouchers_of(session: Session, *, resident_id: int, limit: int = 5) -> list[tuple[Voucher, Reward]]:
    rows = session.execute(
        select(Voucher, Reward)
        .join(Reward, Reward.id == Voucher.reward_id)
        .where(Voucher.resident_id == resident_id)
        .order_by(Voucher.id.desc())
        .limit(limit)
    ).all()
    return [(v, r) for v, r in rows]
