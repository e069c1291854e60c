"""Votes end to end: opened through the API, cast by message (one per household, changeable), a paper
ballot, duplicates refused, closed by the scheduler's job with the result pushed; and the secrecy of ballots
checked by reading the raw database."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import inspect, text

from bot.scheduler import vote_close_job
from bot.services import Services
from handlers.participation import participation_summary
from handlers.participation.votes import close_due_votes
from storage import ledger as lrepo
from storage import participation as store
from tests.conftest import AES_KEY, APP_ID, TOKEN
from tests.handlers.participation.conftest import ADMIN, cards_to, pushed_to, resident
from tests.support.people import Resident
from tests.support.wechat import FakeWeChat

OPTIONS = ["同意", "反对", "弃权"]


def open_vote(client: TestClient, **fields: Any) -> int:
    # Inside the residents' 48 h window, so the result can go as a customer-service message.
    closes = (datetime.now(UTC) + timedelta(hours=1)).isoformat(timespec="seconds")
    body = {
        "community": "heping",
        "worker": "zhangli",
        "question": "是否同意在3号楼旁安装乒乓球台",
        "options": OPTIONS,
        "closes_at": closes,
    } | fields
    response = client.post("/api/votes", headers=ADMIN, json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def close_now(services: Services, vote_id: int) -> None:
    with services.sessions.begin() as session:
        vote = store.vote_by_id(session, vote_id=vote_id)
        assert vote is not None
        closes = vote.closes_at
    vote_close_job(services)(closes + timedelta(minutes=1))


def dump(services: Services) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table, as a worker with database access would see it."""
    with services.sessions.begin() as session:
        names = inspect(session.get_bind()).get_table_names()
        return {
            name: [dict(row._mapping) for row in session.execute(text(f'SELECT * FROM "{name}"'))] for name in names
        }


def test_a_vote_with_three_households_a_change_a_paper_ballot_and_the_result_pushed(
    client: TestClient, services: Services
) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    b = resident(client, "openid-b", "我住5号楼1单元101")
    d = resident(client, "openid-d")
    vote = open_vote(client)
    assert any(f"V{vote}" in text and "投票" in text for text in pushed_to(services, "openid-a"))

    first = a.say(f"投票 V{vote} 1")
    assert "投票成功" in first and "同意" not in first
    assert "投票成功" in b.say(f"V{vote}选2")
    # D has not said where they live: asked first, and the ballot is not kept meanwhile.
    asked = d.say("我投第二个")
    assert "门牌号" in asked
    assert f"V{vote}" in d.say("4号楼1单元201")
    assert "投票成功" in d.say("我投第二个")
    # A changes their mind: still one ballot for the household, the last one counts.
    assert "改好了" in a.say(f"投票 V{vote} 3")
    assert "改好了" in a.speak(f"投票V{vote}弃权")

    paper = client.post(
        f"/api/votes/{vote}/paper",
        headers=ADMIN,
        json={"worker": "zhangli", "building": "6", "room": "301", "choice": 1},
    )
    assert paper.status_code == 201, paper.text
    again = client.post(
        f"/api/votes/{vote}/paper",
        headers=ADMIN,
        json={"worker": "zhangli", "building": "6", "room": "301", "choice": 2},
    )
    assert again.status_code == 409 and "每户一票" in again.json()["detail"]
    # A paper ballot from a household that voted on WeChat does not count as well.
    twice = client.post(
        f"/api/votes/{vote}/paper",
        headers=ADMIN,
        json={"worker": "zhangli", "building": "3", "unit": "2", "room": "502", "choice": 1},
    )
    assert twice.status_code == 409
    # A WeChat vote from the household that handed in paper is refused.
    e = resident(client, "openid-e", "6号楼301")
    assert "纸质选票" in e.say(f"投票 V{vote} 2")

    # While it is open the API shows no totals.
    assert client.get(f"/api/votes/{vote}", headers=ADMIN).json()["results"] is None
    close_now(services, vote)
    shown = client.get(f"/api/votes/{vote}", headers=ADMIN).json()
    assert shown["status"] == "closed"
    assert shown["results"] == {"counts": [1, 2, 1], "voted": 4, "eligible": 4}
    for openid in ("openid-a", "openid-b", "openid-d", "openid-e"):
        results = [t for t in pushed_to(services, openid) if "结果" in t]
        assert len(results) == 1 and "反对：2 户" in results[0] and "共 4 户参与" in results[0], openid
    assert any(f"V{vote}" in title for title in cards_to(services, "wangxiaoyan"))
    # A second worker running the job changes nothing and pushes nothing more.
    close_now(services, vote)
    assert len([t for t in pushed_to(services, "openid-a") if "结果" in t]) == 1
    assert "截止" in b.say(f"投票 V{vote} 1")

    with services.sessions.begin() as session:
        vote_points = [e for e in lrepo.entries_for(session) if e.reason.startswith("参与表决")]
        summary = participation_summary(
            session, shown["community_id"], datetime.now(UTC) - timedelta(days=1), datetime.now(UTC) + timedelta(days=3)
        )
    # One award per household that voted by WeChat: changing a vote earns nothing more.
    assert len(vote_points) == 3
    assert summary["votes_opened"] == 1 and summary["votes_closed"] == 1
    assert summary["ballots"] == 4 and summary["paper_ballots"] == 1


def test_the_database_cannot_link_a_household_to_its_choice(client: TestClient, services: Services) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    b = resident(client, "openid-b", "我住5号楼1单元101")
    vote = open_vote(client, options=["红色方案", "蓝色方案"])
    a.say(f"投票 V{vote} 红色方案")
    b.say(f"投票 V{vote} 2")
    a.say(f"投票 V{vote} 2")

    rows = dump(services)
    ballots = rows["vote_ballot"]
    assert set(ballots[0]) == {"id", "vote_id", "choice", "token"}, "a ballot holds nothing but its choice"
    voters = rows["vote_voter"]
    assert not set(voters[0]) & {"choice", "token", "ballot_id"}
    # Nothing a ballot holds appears in the voter table, or anywhere else.
    ballot_values = {str(v) for b_row in ballots for k, v in b_row.items() if k in ("id", "token")}
    everything_else = str({name: table for name, table in rows.items() if name != "vote_ballot"})
    assert not any(value in everything_else for value in ballot_values)
    # The residents' own words and the replies never say what they chose.
    said = " ".join(str(r["content"]) for r in rows["inbound_message"]) + " ".join(
        str(r["content"]) for r in rows["outbound_message"]
    )
    assert "红色方案" not in said and f"V{vote} 2" not in said and f"V{vote} 红" not in said
    assert "蓝色方案" not in str(rows["dialogue_state"])

    before = {r["id"] for r in ballots}
    close_now(services, vote)
    after = dump(services)["vote_ballot"]
    # At the close the ballots are rewritten: new ids, no tokens; the totals are all that is left.
    assert {r["id"] for r in after}.isdisjoint(before)
    assert all(r["token"] is None for r in after)
    assert sorted(r["choice"] for r in after) == [2, 2]


def test_eligibility_bad_input_and_a_vote_for_some_buildings(client: TestClient, services: Services) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    b = resident(client, "openid-b", "我住5号楼1单元101")
    vote = open_vote(client, buildings=["5", "6"])
    assert "不在其中" in a.say(f"投票 V{vote} 1")
    assert "没看明白" in b.say(f"投票 V{vote} 9")
    assert "没有找到表决" in b.say("投票 V999 1")
    assert "投票成功" in b.say(f"V{vote} 1")
    past = client.post(
        "/api/votes",
        headers=ADMIN,
        json={
            "community": "heping",
            "worker": "zhangli",
            "question": "x",
            "options": ["a", "b"],
            "closes_at": "2020-01-01T00:00+08:00",
        },
    )
    assert past.status_code == 409
    same = client.post(
        "/api/votes",
        headers=ADMIN,
        json={
            "community": "heping",
            "worker": "zhangli",
            "question": "x",
            "options": ["a", "a"],
            "closes_at": "2099-01-01T00:00+08:00",
        },
    )
    assert same.status_code == 409
    unknown = client.post(
        "/api/votes",
        headers=ADMIN,
        json={
            "community": "heping",
            "worker": "zhangli",
            "question": "x",
            "options": ["a", "b"],
            "buildings": ["99"],
            "closes_at": "2099-01-01T00:00+08:00",
        },
    )
    assert unknown.status_code == 409
    assert client.get("/api/votes/12345", headers=ADMIN).status_code == 404
    with services.sessions.begin() as session:
        assert len(store.list_votes(session, community_id=None)) == 1
    # Nothing said, nothing voted: "我选第二个" with no vote open is not a ballot.
    close_now(services, vote)
    assert "投票成功" not in a.say("我选第二个")


def test_two_workers_closing_at_once_close_the_vote_once(client: TestClient, services: Services) -> None:
    a = resident(client, "openid-a", "我住3号楼2单元502")
    vote = open_vote(client)
    a.say(f"投票 V{vote} 1")
    with services.sessions.begin() as session:
        found = store.vote_by_id(session, vote_id=vote)
        assert found is not None
        when = found.closes_at + timedelta(minutes=1)
    # Each thread is one worker process's job: its own transaction on its own connection.
    other = Services(services.settings)
    try:
        barrier = threading.Barrier(2)
        closed: list[int] = []

        def close(on: Services) -> None:
            barrier.wait()
            with on.sessions.begin() as session:
                closed.append(close_due_votes(session, on.settings, now=when))

        threads = [threading.Thread(target=close, args=(s,)) for s in (services, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other.close()
    assert sorted(closed) == [0, 1]
    assert len([t for t in pushed_to(services, "openid-a") if "结果" in t]) == 1
    with services.sessions.begin() as session:
        assert store.tally(session, vote_id=vote) == {1: 1}


def test_a_ballot_sent_before_the_community_is_known_is_not_kept_either(client: TestClient, services: Services) -> None:
    vote = open_vote(client)
    newcomer = Resident(client, FakeWeChat(TOKEN, APP_ID, AES_KEY), "openid-new")
    assert "再发一次您的投票" in newcomer.say(f"投票 V{vote} 1")
    assert "和平社区的居民" in newcomer.say("1")
    assert "门牌号" in newcomer.say(f"投票 V{vote} 1")
    assert f"V{vote}" in newcomer.say("3号楼2单元502")
    assert "投票成功" in newcomer.say(f"投票 V{vote} 1")
    rows = dump(services)
    words = " ".join(str(r["content"]) for r in rows["inbound_message"])
    assert f"V{vote} 1" not in words and "3号楼2单元502" in words
    assert f"V{vote} 1" not in str(rows["dialogue_state"])
