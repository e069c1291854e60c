"""The periodic jobs a worker runs besides draining the outbox: deadlines, reminders, retention, retries.

Each job is a plain function of `now` wrapped by `throttled`, so the outbox loop may call every job on
every tick and each still runs at most once per its interval.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.pipeline import retry_failed_messages
from bot.services import Services
from handlers.alerts import remind_unacknowledged
from handlers.participation.votes import close_due_votes
from handlers.satisfaction import check_satisfaction
from handlers.tickets.sla import SlaReport, check_deadlines
from handlers.volunteering.activities import send_due_reminders
from handlers.wellbeing.escalation import RunReport, run_due
from handlers.wellbeing.history import send_silent_lists
from storage import repositories as repo
from storage.models import Community

log = logging.getLogger(__name__)

Job = Callable[[datetime], None]


def throttled(every: timedelta, run: Job) -> Job:
    """`run` at most once per `every`, however often (and from however many threads) the job is called."""
    lock = threading.Lock()
    last: list[datetime] = []

    def job(now: datetime) -> None:
        with lock:
            if last and now - last[0] < every:
                return
            last[:] = [now]
        run(now)

    return job


def run_sla_check(services: Services, *, now: datetime) -> SlaReport:
    with services.sessions.begin() as session:
        return check_deadlines(session, services.settings, now=now)


def sla_job(services: Services) -> Job:
    """Reminds and escalates late tickets, at most every `sla_check_seconds`."""

    def run(now: datetime) -> None:
        report = run_sla_check(services, now=now)
        if report.reminded or report.escalated:
            log.info("SLA check: %d reminded, %d escalated", report.reminded, report.escalated)

    return throttled(timedelta(seconds=services.settings.sla_check_seconds), run)


def reminder_job(services: Services, *, every: timedelta = timedelta(minutes=1)) -> Job:
    """Queues reminders for activities about to start."""

    def run(now: datetime) -> None:
        with services.sessions.begin() as session:
            count = send_due_reminders(session, now=now, template_id=services.settings.activity_template_id)
        if count:
            log.info("queued %d activity reminders", count)

    return throttled(every, run)


def retention_job(services: Services, *, every: timedelta = timedelta(hours=1)) -> Job:
    """Blank conversation text older than SHEGONG_RETENTION_DAYS (PIPL art. 47); metadata stays."""

    def run(now: datetime) -> None:
        before = now - timedelta(days=services.settings.retention_days)
        with services.sessions.begin() as session:
            purged = repo.purge_message_text(session, before=before)
            # A callback URL outside the timestamp window is refused anyway: no need to remember it.
            repo.forget_nonces(session, before=now - timedelta(seconds=2 * services.settings.timestamp_window_seconds))
        if purged:
            log.info("purged the text of %d messages older than %s", purged, before.date())

    return throttled(every, run)


def retry_job(services: Services, *, every: timedelta = timedelta(seconds=20)) -> Job:
    """Messages whose handling failed are tried again (bounded, with backoff: see bot.pipeline)."""

    def run(now: datetime) -> None:
        retry_failed_messages(services, now=now)

    return throttled(every, run)


def alert_job(services: Services, *, every: timedelta = timedelta(minutes=1)) -> Job:
    """Sends an alert nobody acknowledged again, then escalates it (handlers.alerts)."""

    def run(now: datetime) -> None:
        with services.sessions.begin() as session:
            remind_unacknowledged(session, services.settings, now=now)

    return throttled(every, run)


def run_safecheck(services: Services, *, now: datetime) -> RunReport:
    """报平安 for every community: due prompts and escalation steps (one transaction per community)."""
    total = RunReport()
    with services.sessions.begin() as session:
        communities = repo.list_communities(session)
        ids = [c.id for c in communities]
    for community_id in ids:
        with services.sessions.begin() as session:
            community = session.get(Community, community_id)
            if community is None:
                continue
            report = run_due(session, services.settings, community=community, now=now)
        total.prompted += report.prompted
        total.steps += report.steps
        total.answered += report.answered
    return total


def safecheck_job(services: Services, *, every: timedelta = timedelta(minutes=1)) -> Job:
    """报平安: works out from the clock what is due, so the first run after a restart catches up."""

    def run(now: datetime) -> None:
        report = run_safecheck(services, now=now)
        if report.prompted or report.steps:
            log.info("safecheck: %d prompts, %d escalation steps", report.prompted, report.steps)

    return throttled(every, run)


def silent_needs_job(services: Services, *, every: timedelta = timedelta(hours=1)) -> Job:
    """Each grid worker's weekly list of special-group households nobody has heard from (once per week)."""

    def run(now: datetime) -> None:
        with services.sessions.begin() as session:
            for community in repo.list_communities(session):
                send_silent_lists(session, services.settings, community, now=now)

    return throttled(every, run)


def vote_close_job(services: Services, *, every: timedelta = timedelta(minutes=1)) -> Job:
    """Closes votes past their time, publishes and pushes the results (once, whichever worker gets there)."""

    def run(now: datetime) -> None:
        with services.sessions.begin() as session:
            closed = close_due_votes(session, services.settings, now=now)
        if closed:
            log.info("closed %d votes", closed)

    return throttled(every, run)


def satisfaction_job(services: Services, *, every: timedelta = timedelta(days=1)) -> Job:
    """Opens and closes improvement tasks from the rolling satisfaction rate (handlers/satisfaction.py).

    Another worker running it too opens no second task and sends no second card (see that module)."""

    def run(now: datetime) -> None:
        with services.sessions.begin() as session:
            report = check_satisfaction(session, services.settings, now=now)
        if report.opened or report.closed:
            log.info("satisfaction: opened %s, closed %s", report.opened, report.closed)

    return throttled(every, run)


def scheduled_jobs(services: Services) -> list[Job]:
    return [
        sla_job(services),
        reminder_job(services),
        retention_job(services),
        retry_job(services),
        alert_job(services),
        safecheck_job(services),
        silent_needs_job(services),
        vote_close_job(services),
        satisfaction_job(services),
    ]
