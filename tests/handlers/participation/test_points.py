"""Points for taking part: amounts and monthly caps from the community file, through the ledger, once per cause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.services import Services
from handlers.participation.points import award_participation
from storage import ledger as lrepo
from storage import repositories as repo

NOV = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)


def test_each_kind_pays_its_amount_up_to_its_monthly_cap_and_a_cause_pays_once(services: Services) -> None:
    with services.sessions.begin() as session:
        heping = repo.community_by_code(session, code="heping")
        assert heping is not None
        rules = {**heping.config["points_rules"], "support_points": 4, "support_monthly_cap": 10}
        heping.config = {**heping.config, "points_rules": rules}
        resident = repo.get_or_create_resident(session, openid="openid-points")
        resident.community_id = heping.id
        community_id, resident_id = heping.id, resident.id

    def support(cause: str, now: datetime = NOV) -> int:
        with services.sessions.begin() as session:
            return award_participation(
                session, resident_id=resident_id, community_id=community_id, kind="support", cause=cause, now=now
            )

    # 4 + 4, then only what is left of the cap, then nothing: nobody farms points by supporting everything.
    assert [support("P1"), support("P2"), support("P3"), support("P4")] == [4, 4, 2, 0]
    # The same cause never pays twice, even with room under the cap next month.
    december = NOV + timedelta(days=30)
    assert support("P1", december) == 0
    assert support("P5", december) == 4
    # Other kinds have caps of their own.
    with services.sessions.begin() as session:
        voted = award_participation(
            session, resident_id=resident_id, community_id=community_id, kind="vote", cause="V1:1", now=NOV
        )
        visited = award_participation(
            session, resident_id=resident_id, community_id=community_id, kind="return_visit", cause="T1", now=NOV
        )
    assert (voted, visited) == (2, 2)
    with services.sessions.begin() as session:
        assert lrepo.balance(session, resident_id=resident_id) == 4 + 4 + 2 + 4 + 2 + 2
        assert all(e.kind == "award" and e.reason for e in lrepo.entries_for(session, resident_id=resident_id))
